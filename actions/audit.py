"""The audit file: one JSON line per intrusive request, readable only by its owner.

Default place: `$XDG_STATE_HOME/perftop/audit.jsonl` (`~/.local/state/perftop/audit.jsonl`),
overridden by `--audit-file` or `audit_file` in the config file. The directory is created
0700 and the file 0600; an existing file with wider permissions is narrowed to 0600.
Values pass through `redact` so no password reaches the file.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from collections.abc import Mapping
from pathlib import Path

from ..redact import redact


def default_audit_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "perftop" / "audit.jsonl"


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


class AuditLog:
    """Appends audit records to a JSONL file, one write per record."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else default_audit_path()

    def append(self, **fields: object) -> dict[str, object]:
        """Write one record (time and OS user added); returns what was written."""
        record: dict[str, object] = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
            "user": _os_user(),
        }
        record.update({k: _clean(v) for k, v in fields.items()})
        line = json.dumps(record, ensure_ascii=True, default=str) + "\n"
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        return record

    def read(self) -> list[dict[str, object]]:
        """Every record so far (for tests and `perftop audit`-style readers)."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]
