"""Actions on a process: send a signal, change its nice value.

Both name their target by pid *and* start time. When the target is made (as the prompt is
shown) it opens a pidfd for the pid and then checks the start time, so the fd is known to
refer to the process the person saw; a signal goes through that fd
(`signal.pidfd_send_signal`), never to the bare pid, so a pid reused by another process
between the prompt and the approval can never receive it. Renice has no pidfd form: it
checks the start time again right before acting.
"""

from __future__ import annotations

import os
import pwd
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Holding a process by pidfd is the data plane's (the py-spy sampler holds its target too).
from ..collectors.pidfd import PidHandle as PidHandle
from ..collectors.pidfd import ProcessChanged as ProcessChanged
from ..collectors.pidfd import read_start_time as read_start_time
from ..collectors.procfs import cmdline_text
from ..redact import redact, redact_short
from .gate import Approval

LABEL = 60  # characters of a command line in a prompt

# What each signal does, in the words the prompt uses. The order is the picker's order.
SIGNALS: dict[str, str] = {
    "TERM": "It is asked to exit and may clean up first (or ignore the request).",
    "INT": "It is interrupted as if Ctrl-C were pressed; most programs exit.",
    "HUP": "Hang-up: many daemons reload their configuration; other programs exit.",
    "KILL": "It ends at once. The process cannot clean up.",
    "STOP": "It is paused until it receives SIGCONT. The process cannot ignore this.",
    "CONT": "A stopped process resumes running.",
    "QUIT": "It exits and may write a core dump.",
    "USR1": "Its meaning is up to the program (many reopen logs or dump state).",
    "USR2": "Its meaning is up to the program.",
}


@dataclass(frozen=True, slots=True)
class ProcessTarget:
    """Who an action is aimed at, as the table showed it."""

    pid: int
    start_ticks: int  # /proc/PID/stat starttime, the pid's identity together with pid
    name: str
    cmdline: str
    user: str
    handle: PidHandle = field(init=False, repr=False, compare=False)
    """The pidfd opened when this target was made (see `PidHandle`)."""

    def __post_init__(self) -> None:
        # Frozen: the handle is set once, here, as the target (and the prompt) is made.
        object.__setattr__(self, "handle", PidHandle(self.pid, self.start_ticks))

    def close(self) -> None:
        """Release the pidfd: the action is done or was discarded."""
        self.handle.close()

    @classmethod
    def from_pid(cls, pid: int, proc: str = "/proc") -> ProcessTarget:
        """The process now running as `pid`, read from /proc. Raises ProcessLookupError."""
        try:
            start = read_start_time(pid, proc)
            name = Path(f"{proc}/{pid}/comm").read_text().strip()
            raw = Path(f"{proc}/{pid}/cmdline").read_bytes()
            uid = os.stat(f"{proc}/{pid}").st_uid
        except FileNotFoundError:
            raise ProcessLookupError(f"no process {pid}") from None
        cmdline = cmdline_text(raw)
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = str(uid)
        return cls(pid, start, name, cmdline, user)

    def label(self) -> str:
        """`PID `command line` owned by USER`, the command line masked whole, then shortened
        (cut first, a password split from its `@` would escape the mask)."""
        return f"{self.pid} `{redact_short(self.cmdline or self.name, LABEL)}` owned by {self.user}"

    def check_same(self) -> None:
        """Raise ProcessChanged unless the pid still runs the process the person saw."""
        self.handle.check_same()


@dataclass(frozen=True, slots=True)
class SendSignal:
    """Send one signal to one process."""

    process: ProcessTarget
    signal_name: str  # a key of SIGNALS

    def __post_init__(self) -> None:
        if self.signal_name not in SIGNALS:
            raise ValueError(f"unknown signal {self.signal_name!r}")

    @property
    def kind(self) -> str:
        return "signal"

    @property
    def target(self) -> str:
        return f"pid {self.process.pid} ({redact(self.process.name)})"

    @property
    def title(self) -> str:
        return f"Send SIG{self.signal_name}"

    def describe(self) -> str:
        return f"Send SIG{self.signal_name} to {self.process.label()}. {SIGNALS[self.signal_name]}"

    def details(self) -> Mapping[str, object]:
        return {
            "pid": self.process.pid,
            "signal": f"SIG{self.signal_name}",
            "process_user": self.process.user,
        }

    def perform(self, approval: Approval) -> str:
        approval.check()
        self.process.check_same()
        self.process.handle.send(signal.Signals[f"SIG{self.signal_name}"])
        return f"sent SIG{self.signal_name} to {self.process.pid}"

    def close(self) -> None:
        """The gate is done with this request: release the process's pidfd."""
        self.process.close()


@dataclass(frozen=True, slots=True)
class Renice:
    """Change the nice value of a process and every one of its threads."""

    process: ProcessTarget
    old: int
    new: int

    def __post_init__(self) -> None:
        if not -20 <= self.new <= 19:
            raise ValueError("nice values run from -20 to 19")

    @property
    def kind(self) -> str:
        return "renice"

    @property
    def target(self) -> str:
        return f"pid {self.process.pid} ({redact(self.process.name)})"

    @property
    def title(self) -> str:
        return f"Renice to {self.new}"

    def describe(self) -> str:
        direction = (
            "a lower priority: it gets less CPU when the machine is busy"
            if self.new > self.old
            else "a higher priority: it gets more CPU when the machine is busy"
        )
        needs = " Raising priority needs root." if self.new < self.old and os.geteuid() else ""
        return (
            f"Change the nice value of {self.process.label()} from {self.old} to {self.new}, "
            f"{direction}.{needs}"
        )

    def details(self) -> Mapping[str, object]:
        return {"pid": self.process.pid, "old_nice": self.old, "new_nice": self.new}

    def perform(self, approval: Approval) -> str:
        approval.check()
        self.process.check_same()
        # On Linux, setpriority(PRIO_PROCESS, pid) changes one thread only (renice(1) and
        # htop stop there); a person renicing a process means all of it, so do every thread.
        os.setpriority(os.PRIO_PROCESS, self.process.pid, self.new)
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{self.process.pid}/task")]
        except FileNotFoundError:
            tids = []
        for tid in tids:
            if tid != self.process.pid:
                try:
                    os.setpriority(os.PRIO_PROCESS, tid, self.new)
                except ProcessLookupError:
                    pass  # the thread ended meanwhile
        return f"nice of {self.process.pid} is now {self.new}"

    def close(self) -> None:
        """The gate is done with this request: release the process's pidfd."""
        self.process.close()
