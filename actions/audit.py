"""The audit file: JSON lines, readable only by its owner, checked before anything acts.

Default place: `$XDG_STATE_HOME/perftop/audit.jsonl` (`~/.local/state/perftop/audit.jsonl`),
overridden by `--audit-file` or `audit_file` in the config file. Values pass through
`redact` so no password reaches the file.

Permissions: folders perftop creates are 0700 and the file is 0600. An existing file with
wider permissions is narrowed to 0600, and so is perftop's own folder (the default one) to
0700; a folder the person chose is theirs and left as it is, unless others can write into
it (they could replace the file), which is refused. A file or folder owned by another user
is refused rather than changed, and only regular files are ever narrowed (never a device
such as `/dev/full`, which a symlink may lead to).

`check()` runs at start, so an audit that cannot be written is found before anything can
act; `write()` raises `AuditError`, never a bare OSError, so the gate can decide.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from ..paths import default_audit_path as default_audit_path  # where it was
from ..redact import redact


class PrivateError(Exception):
    """A private file (the audit file, a run log) or its folder cannot be used safely."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class AuditError(PrivateError):
    """The audit file cannot be written; the text says why in a few plain words."""

    def __init__(self, reason: str, path: Path | None = None) -> None:
        super().__init__(reason)
        where = f"the audit file {path}" if path is not None else "the audit file"
        self.args = (f"{where} cannot be written ({reason})",)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _clean(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


# Private folders and files ---------------------------------------------------------------


def private_dir(path: Path, *, own: bool) -> None:
    """Make sure `path` exists and is fit to hold a private file; raises PrivateError.

    Missing folders are created 0700. An existing one is narrowed to 0700 when it is
    perftop's own (`own`); otherwise it is left alone unless others may replace files in it.
    """
    missing = [p for p in (path, *path.parents) if not p.exists()]
    try:
        for folder in reversed(missing):
            folder.mkdir(mode=0o700)
            os.chmod(folder, 0o700)  # the umask may have taken bits away, never added
        info = path.stat()
    except FileExistsError:
        info = path.stat()
    except OSError as exc:
        raise PrivateError(f"{exc.filename or path}: {_reason(exc)}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise PrivateError(f"{path}: Not a directory")
    wide = stat.S_IMODE(info.st_mode) & 0o077
    if own and wide:
        _narrow(path, info, 0o700)
    elif info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        raise PrivateError(f"others can write into {path} and could replace the file")


def _narrow(path: Path, info: os.stat_result, mode: int, fd: int | None = None) -> None:
    if info.st_uid != os.geteuid():
        raise PrivateError(
            f"{path} is open to other users and owned by another user (uid {info.st_uid}): "
            "perftop does not change it"
        )
    try:
        if fd is not None:
            os.fchmod(fd, mode)
        else:
            os.chmod(path, mode)
    except OSError as exc:
        raise PrivateError(f"cannot narrow {path} to {mode:o}: {_reason(exc)}") from None


def open_private(path: Path, flags: int = 0) -> int:
    """Open `path` for appending (created 0600), narrowed to 0600 when it is a regular
    file that others could read; returns the fd. Raises PrivateError."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | flags, 0o600)
    except OSError as exc:
        raise PrivateError(_reason(exc)) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) & 0o077:
            _narrow(path, info, 0o600, fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    if written != len(data):  # a disk that filled up half-way through the line
        raise OSError(28, os.strerror(28))


class AuditLog:
    """Writes audit records to a JSONL file, one write per record."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else default_audit_path()

    def check(self) -> None:
        """At start: the folder and file exist, are private, and take a write.

        Raises AuditError (naming the path) with the reason. The zero-byte write finds a
        device that refuses every write; a disk that is merely full shows at the first
        record, where the gate stops the action instead.
        """
        try:
            private_dir(self.path.parent, own=self.path.parent == default_audit_path().parent)
            fd = open_private(self.path)
            try:
                _write_all(fd, b"")
            except OSError as exc:
                raise AuditError(_reason(exc)) from None
            finally:
                os.close(fd)
        except PrivateError as exc:
            raise AuditError(exc.reason, self.path) from None

    def record(self, **fields: object) -> dict[str, object]:
        """One record: time and OS user added, every value passed through `redact`."""
        record: dict[str, object] = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
            "user": _os_user(),
        }
        record.update({k: _clean(v) for k, v in fields.items()})
        return record

    def write(self, record: Mapping[str, object]) -> None:
        """Append one record as one line; raises AuditError when it is not on disk."""
        line = json.dumps(record, ensure_ascii=True, default=str) + "\n"
        try:
            private_dir(self.path.parent, own=self.path.parent == default_audit_path().parent)
            fd = open_private(self.path)
        except PrivateError as exc:
            raise AuditError(exc.reason) from None
        try:
            _write_all(fd, line.encode())
        except OSError as exc:
            raise AuditError(_reason(exc)) from None
        finally:
            os.close(fd)

    def append(self, **fields: object) -> dict[str, object]:
        """Write one record made from `fields`; returns what was written."""
        record = self.record(**fields)
        self.write(record)
        return record

    def records(self) -> list[dict[str, object]]:
        """Every record as written (an approved request has two: intent, outcome)."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def read(self) -> list[dict[str, object]]:
        """One entry per request, in order: an intent joined with its outcome."""
        joined: list[dict[str, object]] = []
        intents: dict[object, dict[str, object]] = {}
        for record in self.records():
            if record.get("stage") == "outcome" and record.get("id") in intents:
                entry = intents.pop(record["id"])
                entry.update({k: v for k, v in record.items() if k not in ("time", "stage")})
                entry["stage"] = "done"
                continue
            entry = dict(record)
            if record.get("stage") == "intent":
                intents[record.get("id")] = entry
            joined.append(entry)
        return joined
