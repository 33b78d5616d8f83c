"""Extra idle processes (`sleep 3600`), so the tools have a big process table to scan.

They are all this process's own children, in one process group of their own, and they are
killed and reaped when the `with` block ends however it ends. Reaping matters: in a
container PID 1 is often not an init that would reap orphans, and unreaped children would
linger as zombies in every later measurement.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from types import TracebackType

from .probes import pids_in_group

COMMAND = ("sleep", "3600")


class IdleProcesses:
    """`count` children running `sleep 3600` in one process group, for a `with` block."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.pgid: int | None = None
        self._children: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> IdleProcesses:
        try:
            self._spawn()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _spawn(self) -> None:
        for _ in range(self.count):
            # The first child leads a new group (in this session: a group can only be
            # joined from within its session); the others join it, so one killpg ends all.
            pgid = 0 if self.pgid is None else self.pgid
            kwargs: dict[str, object]
            if sys.version_info >= (3, 11):
                kwargs = {"process_group": pgid}
            else:  # pragma: no cover - Python 3.10
                kwargs = {"preexec_fn": functools.partial(os.setpgid, 0, pgid)}
            child = subprocess.Popen(
                COMMAND,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                **kwargs,  # type: ignore[call-overload]  # the keywords vary by version
            )
            self._children.append(child)
            if self.pgid is None:
                self.pgid = child.pid
        self._wait_until_all_started()

    def _wait_until_all_started(self, timeout: float = 30.0) -> None:
        # Popen returns before exec; wait until every child is `sleep`, so the first
        # measurement already sees the full table.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = sum(1 for c in self._children if _is_sleep(c.pid))
            if started == len(self._children):
                return
            time.sleep(0.05)
        raise RuntimeError(f"only some of {self.count} idle processes started")

    def close(self) -> None:
        """Kill and reap every child. Safe to call twice."""
        if self.pgid is not None:
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for child in self._children:
            if child.poll() is None:
                child.kill()
            child.wait()
        self._children.clear()

    def leftovers(self) -> list[int]:
        """Processes still in the group (should be none after `close`)."""
        return [] if self.pgid is None else pids_in_group(self.pgid)


def _is_sleep(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[0].endswith(b"sleep")
    except OSError:
        return False
