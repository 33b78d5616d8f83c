"""Holding one process: a pidfd known to refer to the process with this pid *and* this
start time, so a signal sent through it can never reach a process that reused the pid.

Used by the process actions (a signal goes through the target's handle, opened as the
prompt is shown) and by the py-spy sampler (its SIGCONT safety net holds the process the
attach was approved for).
"""

from __future__ import annotations

import contextlib
import os
import signal

from .procfs import START_FIELD, split_stat


class ProcessChanged(Exception):
    """The pid now belongs to another process (or none): nothing was done."""


def read_start_time(pid: int, proc: str = "/proc") -> int:
    """Field 22 of /proc/PID/stat (start time in clock ticks since boot). Raises
    FileNotFoundError (or ProcessLookupError) when there is no such process."""
    with open(f"{proc}/{pid}/stat", "rb") as f:
        data = f.read()
    return int(split_stat(data)[1][START_FIELD])


def _exited(pid: int) -> str:
    return f"process {pid} has exited: nothing was done"


def _reused(pid: int) -> str:
    return f"pid {pid} now belongs to another process: nothing was done"


class PidHandle:
    """A pidfd held on one process: the process with this pid *and* this start time.

    Opened first, checked second: whatever runs as `pid` when `os.pidfd_open` returns is
    what the fd refers to for good, so a start time read after the open that matches proves
    the fd is the process the person saw. When the check fails the fd is closed at once and
    `problem` says why; `send` then refuses. Close it when the action is done or discarded
    (it is also closed when garbage-collected, so a forgotten one does not leak).
    """

    __slots__ = ("pid", "start_ticks", "problem", "_fd")

    def __init__(self, pid: int, start_ticks: int) -> None:
        self.pid = pid
        self.start_ticks = start_ticks
        self.problem: str | None = None
        self._fd: int | None = None
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self.problem = _exited(pid)
            return
        except OSError as exc:
            self.problem = f"cannot hold process {pid} ({exc.strerror}): nothing was done"
            return
        try:
            now = read_start_time(pid)
        except (FileNotFoundError, ProcessLookupError):
            now = None
        if now != start_ticks:
            os.close(fd)
            self.problem = _exited(pid) if now is None else _reused(pid)
            return
        self._fd = fd

    @property
    def held(self) -> bool:
        """Whether the fd is open (checked, and not closed yet)."""
        return self._fd is not None

    def check_same(self) -> None:
        """Raise ProcessChanged unless the pid still runs the process the person saw (for
        what has no pidfd form, such as renice: checked right before acting)."""
        if self.problem is not None:
            raise ProcessChanged(self.problem)  # already not it when the handle was opened
        try:
            now = read_start_time(self.pid)
        except (FileNotFoundError, ProcessLookupError) as exc:
            raise ProcessChanged(_exited(self.pid)) from exc
        if now != self.start_ticks:
            raise ProcessChanged(_reused(self.pid))

    def send(self, signum: int) -> None:
        """Signal the held process; ProcessChanged when it is gone or was never held."""
        if self._fd is None:
            raise ProcessChanged(
                self.problem or f"process {self.pid} is no longer held: nothing was done"
            )
        try:
            signal.pidfd_send_signal(self._fd, signum)
        except ProcessLookupError:
            raise ProcessChanged(_exited(self.pid)) from None

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # also at interpreter exit, when os may be gone
            self.close()
