"""The py-spy sampler: live stacks of a running Python process, window by window.

py-spy's `record` writes its profile only when it stops, and writes what it has on SIGINT
(SIGTERM loses everything). So the sampler runs one `py-spy record -f raw` per window of
about a second, stops it with SIGINT, starts the next one at once and parses the finished
window's file while the next one samples. The gap between two windows is one process spawn
(measured here: 0.1-0.4 ms between the exit of one and the spawn of the next; py-spy then
needs a few ms to attach, which shows up as a slightly lower achieved rate, not as a gap).

Each window becomes a `StackWindow` kept in a bounded deque (5 minutes by default), and every
`collect()` returns a `StackSample` with all of them, so the pane can show the last 10 s,
60 s or 5 min. `collect()` is `async def`: it awaits the window on the app's loop
(asyncio subprocesses), so the collector runner needs no thread for it, and its `interval`
is 0 because each tick already lasts a window.

How py-spy's output reads (raw lines, dumps, which samples were idle): pyspy_output.py.

Safety: the sampler cannot be built without an `AttachPermit`, and a permit can only be made
from an `Approval`, which only the approval gate makes (actions/stacks.py `AttachPySpy`
does it in `perform`). A permit is good for one sampler. After every window, if the target
is stopped (state `T` in /proc/PID/stat) although it was not when the permit was made, the
sampler sends SIGCONT and counts it in `StackSample.resumed` (and says so in `notice`) so
the app can audit it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from ...permits import ActionRefused, Approval
from ..base import CollectorError
from ..pidfd import PidHandle, ProcessChanged
from ..procfs import START_FIELD, read_cmdline, read_stat_fields
from .model import Mode, Stack, StackSample, StackTarget, StackWindow
from .pyspy_faults import (
    ATTEMPTS,
    GIVE_UP_AFTER,
    INSTALL_HINT,
    MIN_READ,
    ReadFailed,
    TargetEnded,
    classify,
    find_pyspy,
)
from .pyspy_output import IdleStacks, parse_dump, parse_errors, parse_raw

# Options ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PySpyOptions:
    """How py-spy samples. Changing them on a running sampler restarts the next window."""

    rate: int = 100  # samples per second
    blocking: bool = False  # pause the target on each sample (exact stacks, slows it down)
    idle: bool = False  # show idle samples at first; py-spy samples them (--idle) always
    gil: bool = False  # only samples of the thread holding the GIL
    native: bool = False  # native (C/C++/Rust) frames; py-spy needs blocking for these
    subprocesses: bool = False  # also sample the target's child processes

    def __post_init__(self) -> None:
        if not 1 <= self.rate <= 10_000:
            raise ValueError("the sampling rate runs from 1 to 10000 Hz")
        if self.native and not self.blocking:
            raise ValueError("py-spy can only read native frames in blocking mode")

    def args(self) -> list[str]:
        """The `py-spy record` flags for these options (`--threads`, `--idle` and
        `--full-filenames` always: names.py shortens paths the same for every profiler)."""
        args = ["-r", str(self.rate), "--threads", "--idle", "--full-filenames"]
        if not self.blocking:
            args.append("--nonblocking")
        args += [
            flag
            for flag, on in (
                ("--gil", self.gil),
                ("--native", self.native),
                ("--subprocesses", self.subprocesses),
            )
            if on
        ]
        return args

    def names(self) -> tuple[str, ...]:
        """The options in force, for `StackTarget.options` and the audit file."""
        names = [f"{self.rate} Hz", "blocking" if self.blocking else "nonblocking", "idle"]
        names += [
            name
            for name, on in (
                ("gil", self.gil),
                ("native", self.native),
                ("subprocesses", self.subprocesses),
            )
            if on
        ]
        return tuple(names)


# The permit ---------------------------------------------------------------------------------


class AttachPermit:
    """Proof that the gate approved attaching py-spy to one process; good for one sampler.

    Made from an `Approval` (only the gate makes those): the constructor spends it with
    `approval.check()`, which also refuses under `--read-only`. It records whether the target
    was already stopped, so the sampler never resumes a process someone else had stopped.
    """

    __slots__ = ("pid", "start_ticks", "options", "was_stopped", "handle", "_claimed")

    def __init__(
        self, approval: Approval, pid: int, start_ticks: int, options: PySpyOptions
    ) -> None:
        if not isinstance(approval, Approval):
            raise ActionRefused("attaching py-spy needs the approval gate's approval")
        approval.check()
        self.pid = pid
        self.start_ticks = start_ticks
        self.options = options
        self.was_stopped = process_state(pid) == "T"
        # The pidfd the SIGCONT safety net signals through, held from the approval on.
        self.handle = PidHandle(pid, start_ticks)
        self._claimed = False

    def claim(self) -> None:
        if self._claimed:
            raise ActionRefused("this attach permit was already used")
        self._claimed = True


# /proc helpers --------------------------------------------------------------------------------


def process_state(pid: int) -> str | None:
    """The state letter of /proc/PID/stat (R, S, D, T, t, Z...), None if the pid is gone."""
    fields = read_stat_fields(pid)
    return fields[0].decode() if fields else None


def alive(pid: int, start_ticks: int) -> bool:
    """The same process (pid and start time) still exists and is not a zombie."""
    fields = read_stat_fields(pid)
    return fields is not None and int(fields[START_FIELD]) == start_ticks and fields[0] != b"Z"


class Resumable(Protocol):
    """An approved attach: the permit, or the sampler it made."""

    pid: int
    start_ticks: int
    was_stopped: bool
    handle: PidHandle


def continue_if_stopped(attached: Resumable) -> bool:
    """Send SIGCONT if the attached process is stopped (state T) and was not before.

    Returns True when it sent one. A py-spy that crashes or is killed in blocking mode can
    leave its target stopped; this is what makes sure perftop never does. The signal goes
    through the pidfd opened when the attach was approved, never to the bare pid: once that
    process has exited, nothing is sent, whoever has its pid now.
    """
    if attached.was_stopped:
        return False
    fields = read_stat_fields(attached.pid)
    if fields is None or fields[0] != b"T" or int(fields[START_FIELD]) != attached.start_ticks:
        return False
    try:
        attached.handle.send(signal.SIGCONT)
    except ProcessChanged:
        return False
    return True


# The sampler ----------------------------------------------------------------------------------


def _thread_names(window: StackWindow) -> set[str]:
    return {stack.thread for stack, _ in window.stacks}


@dataclass(slots=True)
class _Running:
    process: asyncio.subprocess.Process
    path: Path
    started: float  # wall
    began: float  # monotonic
    options: PySpyOptions


class PySpySampler:
    """The "stacks" collector for a process py-spy is attached to (see the module doc)."""

    source = "stacks"
    interval = 0.0  # every collect() lasts one window already

    def __init__(
        self,
        permit: AttachPermit,
        *,
        window: float = 1.0,
        keep: float = 300.0,
        pyspy: str | None = None,
        command: str | None = None,
    ) -> None:
        if not isinstance(permit, AttachPermit):
            raise ActionRefused("a py-spy sampler needs an attach permit from the gate")
        permit.claim()
        self.pid = permit.pid
        self.start_ticks = permit.start_ticks
        self.options = permit.options
        self.was_stopped = permit.was_stopped
        self.handle = permit.handle  # the sampler's now: closed when it closes
        self.window = window
        self.pyspy = pyspy
        self.command = read_cmdline(self.pid) if command is None else command
        self.windows: deque[StackWindow] = deque(maxlen=max(1, round(keep / window)))
        self.resumed = 0
        self.ended = False
        self.detached = False
        self._sampled = 0.0
        self._first: float | None = None
        # Thread name -> how many kept windows hold it: the names are those still shown
        # (a server that names a thread per request would otherwise grow this forever).
        self._threads: Counter[str] = Counter()
        self.windows_tried = 0
        self.windows_lost = 0
        self.last_failure = ""
        self.give_up_after: int | None = GIVE_UP_AFTER  # None: never (headless decides)
        self._running: _Running | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="perftop-pyspy-")
        self._count = 0
        self._last: StackSample | None = None
        self.idle_stacks = IdleStacks()
        self._probe: asyncio.Task[None] | None = None

    # control ---------------------------------------------------------------------------

    def set_options(self, options: PySpyOptions) -> None:
        """Use `options` from the next window on (the running window finishes as it is)."""
        self.options = options

    def stop(self) -> None:
        """Detach: stop the running py-spy (SIGINT, so its last window is kept)."""
        self.detached = True
        if self._running is not None and self._running.process.returncode is None:
            # os.kill rather than the transport: DetachPySpy calls this from a gate thread.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._running.process.pid, signal.SIGINT)

    async def close(self) -> None:
        """Detach and wait for py-spy to exit; the target is resumed if it was left stopped."""
        self.stop()
        probe, self._probe = self._probe, None
        if probe is not None:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
        running, self._running = self._running, None
        if running is not None:
            await self._finish(running)
        self._resume()
        self.handle.close()
        self._tmp.cleanup()

    # the collector protocol --------------------------------------------------------------

    def series(self, sample: object) -> dict[str, float]:
        if not isinstance(sample, StackSample) or not sample.windows:
            return {}
        last = sample.windows[-1]
        return {"stacks.rate": last.achieved_rate, "stacks.samples": float(last.samples)}

    async def collect(self) -> StackSample:
        """Sample one window (starting the next at once) and return every window kept."""
        if self.ended or self.detached:
            if self._running is None:
                await asyncio.sleep(1.0)  # nothing to sample: do not spin the runner
                return self._sample()
        try:
            return await self._collect()
        except asyncio.CancelledError:
            await asyncio.shield(self.close())
            raise

    async def _collect(self) -> StackSample:
        """One window: py-spy until the window's time is up. A read that fails for no reason
        of the process's (`ReadFailed`) is started again at once for what is left of the
        window, up to `ATTEMPTS` reads; a window none of whose reads succeeded is lost."""
        self.windows_tried += 1
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._learn_idle())
        ends: float | None = None
        resumed = False
        for _ in range(ATTEMPTS):
            if self._running is None:
                self._running = await self._start()
            running = self._running
            if ends is None:
                ends = running.began + self.window
            returncode, output = await self._wait(running, ends)
            duration = time.monotonic() - running.began
            self._running = None
            resumed = self._resume() or resumed
            gone = not alive(self.pid, self.start_ticks)
            if returncode in (0, -signal.SIGINT) or running.path.exists():
                if not self.detached and not gone:
                    # The next window starts before this one is parsed, to keep the gap small.
                    self._running = await self._start()
                await self._read(running, duration, output)
                self.ended = gone
                return self._sample(resumed)
            if gone:
                self.ended = True
                return self._sample(resumed)
            failure = classify(self.pid, returncode, output)
            if isinstance(failure, TargetEnded):
                self.ended = True
                return self._sample(resumed)
            if not isinstance(failure, ReadFailed):
                raise failure
            self.last_failure = str(failure)
            if self.detached or ends - time.monotonic() < MIN_READ:
                break
        assert ends is not None
        return await self._lost(ends, resumed)

    async def _wait(self, running: _Running, ends: float) -> tuple[int, str]:
        """Let py-spy sample until `ends` (monotonic), then stop it with SIGINT."""
        try:
            timeout = max(0.0, ends - time.monotonic())
            await asyncio.wait_for(running.process.wait(), timeout=timeout)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                running.process.send_signal(signal.SIGINT)
        return await self._finish(running)

    async def _read(self, running: _Running, duration: float, output: str) -> None:
        """Parse a finished window's file into a window kept in the history."""
        if not running.path.exists():
            return
        text = await asyncio.to_thread(running.path.read_text, errors="replace")
        running.path.unlink(missing_ok=True)
        options = running.options
        window = parse_raw(text, running.started, duration, options.rate, options.gil)
        self._add(self.idle_stacks.mark(replace(window, errors=parse_errors(output))))

    async def _lost(self, ends: float, resumed: bool) -> StackSample:
        """Count a window no read of which succeeded, and wait out its time (a py-spy that
        fails at once is not run in a loop). With no window ever sampled, `give_up_after`
        lost windows in a row make the collector fail (its runner then backs off)."""
        self.windows_lost += 1
        if not self.detached:
            await asyncio.sleep(max(0.0, ends - time.monotonic()))
        sample = self._sample(resumed)
        limit = self.give_up_after
        if limit is not None and self.windows_lost == self.windows_tried >= limit:
            raise CollectorError(f"{self.last_failure} ({sample.lost_text})")
        return sample

    async def now(self) -> tuple[Stack, ...]:
        """Every thread's current stack (`py-spy dump --json`, nonblocking unless the
        sampler is in blocking mode). A read that failed for no reason of the process's is
        tried again at once, up to `ATTEMPTS` in all."""
        exe = find_pyspy(self.pyspy)
        args = [exe, "dump", "--json", "--pid", str(self.pid)]
        if not self.options.blocking:
            args.append("--nonblocking")
        if self.options.subprocesses:
            args.append("--subprocesses")
        for attempt in range(1, ATTEMPTS + 1):
            returncode, out, err = await self._dump(args)
            if returncode == 0:
                stacks = parse_dump(out)
                self._learned(stacks)
                return stacks
            failure = classify(self.pid, returncode or 1, err)
            if isinstance(failure, TargetEnded):
                raise CollectorError(f"process {self.pid} has exited")
            if not isinstance(failure, ReadFailed) or attempt == ATTEMPTS:
                raise failure
        raise AssertionError("unreachable")

    async def _learn_idle(self) -> None:
        """One nonblocking dump, to learn which stacks are idle (see `IdleStacks`). Its
        failure costs nothing but what it would have taught: the window is sampled anyway."""
        try:
            exe = find_pyspy(self.pyspy)
        except CollectorError:
            return
        args = [exe, "dump", "--json", "--nonblocking", "--pid", str(self.pid)]
        if self.options.subprocesses:
            args.append("--subprocesses")
        try:
            # Nonblocking: it cannot leave the target stopped, so it resumes nothing (the
            # window's own check does, and says so).
            returncode, out, _ = await self._dump(args, resume=False)
            if returncode == 0:
                self._learned(parse_dump(out))
        except (CollectorError, ValueError, TypeError, AttributeError):
            return

    def _learned(self, stacks: Iterable[Stack]) -> None:
        """Learn from a dump; mark the kept windows again if a verdict changed."""
        if self.idle_stacks.learn(stacks):
            marked = [self.idle_stacks.mark(window) for window in self.windows]
            self.windows.clear()
            self.windows.extend(marked)

    async def _dump(self, args: list[str], resume: bool = True) -> tuple[int, str, str]:
        """Run one `py-spy dump`; killed if the caller is cancelled (nothing left behind)."""
        try:
            process = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own group: killed whole, whatever it started
            )
        except FileNotFoundError as exc:
            raise CollectorError(f"py-spy not found: {INSTALL_HINT}") from exc
        try:
            out, err = await process.communicate()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            # Its pipes read to the end, not only its exit: the subprocess transport closes
            # then, and none is left for the garbage collector after the loop is gone.
            await asyncio.shield(process.communicate())
            raise
        finally:
            if resume:
                self._resume()
        return process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")

    # internals ---------------------------------------------------------------------------

    async def _start(self) -> _Running:
        exe = find_pyspy(self.pyspy)
        self._count += 1
        path = Path(self._tmp.name) / f"window-{self._count}.txt"
        options = self.options
        args = [exe, "record", "-f", "raw", "-o", str(path), "--pid", str(self.pid)]
        args += options.args()
        started, began = time.time(), time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in perftop's terminal is not py-spy's
            )
        except FileNotFoundError as exc:
            raise CollectorError(f"py-spy not found at {exe}: {INSTALL_HINT}") from exc
        except PermissionError as exc:
            raise CollectorError(f"py-spy at {exe} is not executable: {INSTALL_HINT}") from exc
        if self._first is None:
            self._first = started
        return _Running(process, path, started, began, options)

    async def _finish(self, running: _Running) -> tuple[int, str]:
        output = b""
        if running.process.stdout is not None:
            output = await running.process.stdout.read()
        returncode = await running.process.wait()
        return returncode, output.decode(errors="replace")

    def _resume(self) -> bool:
        if continue_if_stopped(self):
            self.resumed += 1
            return True
        return False

    def _add(self, window: StackWindow) -> None:
        if len(self.windows) == self.windows.maxlen:
            self._threads.subtract(_thread_names(self.windows[0]))
            self._threads = +self._threads  # drop the names no kept window has
        self.windows.append(window)
        self._sampled += window.duration
        self._threads.update(_thread_names(window))

    @property
    def mode(self) -> Mode:
        """How the next window is sampled."""
        return "py-spy-blocking" if self.options.blocking else "py-spy"

    def _sample(self, resumed: bool = False) -> StackSample:
        mode = self.mode
        sampler = "austin" if mode == "austin" else "py-spy"
        wall = time.time() - self._first if self._first is not None else 0.0
        notice = ""
        if resumed:
            notice = f"process {self.pid} was left stopped after a {sampler} window: sent SIGCONT"
        elif self.ended:
            notice = f"process {self.pid} has exited; showing what was sampled before"
        elif self.detached:
            notice = f"{sampler} detached"
        return StackSample(
            time=time.monotonic(),
            target=StackTarget(self.pid, self.command, mode, options=self.options.names()),
            windows=tuple(self.windows),
            ended=self.ended,
            notice=notice,
            coverage=min(1.0, self._sampled / wall) if wall > 0 else 0.0,
            threads=tuple(sorted(self._threads)),
            resumed=self.resumed,
            windows_tried=self.windows_tried,
            windows_lost=self.windows_lost,
            last_failure=self.last_failure,
        )
