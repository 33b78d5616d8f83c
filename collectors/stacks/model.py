"""Stack samples as the store keeps them.

A sampler (py-spy, pyinstrument) turns each window of roughly a second into one
`StackWindow`: every distinct stack seen, with how many samples had it. Windows are kept in
a bounded history so the pane can show the last 10 s, 60 s or 5 min without re-sampling.
Function names and file names are untrusted text (they come from the target's code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["py-spy", "py-spy-blocking", "austin", "pyinstrument", "file"]

BUILTIN_FILE = "<built-in>"
"""The file pyinstrument gives a built-in (C) function."""

IDLE_BUILTINS = frozenset(
    {
        "sleep",
        "select",
        "epoll.poll",
        "poll.poll",
        "devpoll.poll",
        "kqueue.control",
        "lock.acquire",
        "RLock.acquire",
    }
)
"""Built-in functions that wait rather than run: a stack ending in one is idle."""

AWAIT = "[await]"
"""pyinstrument's leaf for time a coroutine spent awaiting (async_mode)."""


@dataclass(frozen=True, slots=True, order=True)
class Frame:
    """One function in a stack. `line` is 0 where the sampler does not say."""

    name: str  # e.g. "burn_cpu", "Thread.run", "<module>"
    file: str  # as the sampler gives it: a path or a short file name
    line: int = 0
    native: bool = False  # a C/C++/Rust frame (py-spy --native)

    @property
    def label(self) -> str:
        """`name (file:line)`, the form py-spy and flamegraph.pl use."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{self.name} ({where})" if where else self.name


def waits(leaf: Frame) -> bool:
    """Whether a stack whose running frame is `leaf` was waiting, not running: a built-in
    that sleeps, selects, polls or takes a lock, or pyinstrument's `[await]`. This is how
    pyinstrument profiles (live and saved) mark idle samples; py-spy says it itself."""
    return leaf.name == AWAIT or (leaf.file == BUILTIN_FILE and leaf.name in IDLE_BUILTINS)


@dataclass(frozen=True, slots=True)
class Stack:
    """One distinct call stack of one thread: root frame first, leaf (running) last."""

    thread: str  # the thread's name, e.g. "MainThread"
    thread_id: int  # OS thread id where known, else 0
    frames: tuple[Frame, ...]
    idle: bool = False  # the sampler saw the thread waiting (sleep, I/O, lock), not running
    gil: bool = False  # the thread held the GIL when sampled (py-spy --gil)
    process: int = 0  # the pid, for profiles with subprocesses (py-spy -s); 0 otherwise


@dataclass(frozen=True, slots=True)
class StackWindow:
    """The samples of one sampling window."""

    started: float  # wall clock (time.time()) at the start of the window
    duration: float  # seconds the window covered
    requested_rate: float  # samples per second asked for (0 where not applicable)
    stacks: tuple[tuple[Stack, int], ...]  # each distinct stack with its sample count
    ticks: int = 0  # sampling instants in the window (one per thread per tick in `stacks`)
    errors: int = 0  # samples the sampler could not take

    @property
    def samples(self) -> int:
        return sum(count for _, count in self.stacks)

    @property
    def achieved_rate(self) -> float:
        """Sampling instants per second actually achieved in this window."""
        return self.ticks / self.duration if self.duration > 0 else 0.0


@dataclass(frozen=True, slots=True)
class StackTarget:
    """What is being profiled, and how."""

    pid: int
    command: str  # untrusted
    mode: Mode
    python: str = ""  # the target's Python version where known, e.g. "3.11.7"
    options: tuple[str, ...] = ()  # sampler options in force, e.g. ("--idle", "--gil")


@dataclass(frozen=True, slots=True)
class StackSample:
    """The store's "stacks" source: the history of windows for one target."""

    time: float  # monotonic time of the newest window
    target: StackTarget
    windows: tuple[StackWindow, ...]  # oldest first, bounded by the collector
    ended: bool = False  # the target exited; the windows are what was seen before
    notice: str = ""  # plain words for the pane, e.g. "pyinstrument profiles the main thread"
    coverage: float = 0.0  # sampled seconds / wall seconds since the start
    threads: tuple[str, ...] = field(default=())  # every thread name seen
    resumed: int = 0  # SIGCONTs perftop sent because a window left the target stopped
    windows_tried: int = 0  # sampling windows begun (py-spy), the lost ones included
    windows_lost: int = 0  # windows of which no read succeeded, even retried at once
    last_failure: str = ""  # why the latest lost window was lost, in plain words

    @property
    def lost_text(self) -> str:
        """ "2 of 6 windows lost" (empty when none was)."""
        if not self.windows_lost:
            return ""
        if self.windows_lost == self.windows_tried > 1:
            return f"all {self.windows_tried} windows lost"
        return f"{self.windows_lost} of {self.windows_tried} windows lost"
