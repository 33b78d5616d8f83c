"""The austin sampler: live stacks from one attach, one line per sample, cut into windows.

py-spy writes a profile only when it stops, so `PySpySampler` starts one py-spy per window;
at 100 Hz that attach, once a second, costs more than the sampling itself. austin (3.x, the
`austin-dist` package) attaches once and prints each sample as it takes it, so this sampler
keeps one austin running, reads its lines as they come and closes a `StackWindow` every
`window` seconds, the same windows the Stacks screen, the snapshot and the exports read.

A line, in austin's full mode (`-f`, which adds the idle flag), root frame first:

    P<pid>;T<interp>:<tid>;<file>:<qualname>:<line>;... <microseconds>,<idle 0|1>,<memory>

Each line is one thread at one sampling instant, idle threads included (`Stack.idle` from
the flag), so the ticks of a window (for the achieved rate) are the samples of its busiest
thread, exactly. Idle samples are kept, as py-spy's are (the screen hides them at first
and says how many); austin marks them itself, so no dump is needed to tell. A stack austin
could not read (`:INVALID:`) counts in the window's `errors`. austin does not know Python's
thread names: a thread is `MainThread` when its id is the process's, else `thread <tid>`.

austin 3.7 ends by itself (exit status 0) when threads of the target come and go quickly
(measured on `python -m http.server` under 8 client threads: after ~0.1 s); while the
target lives, the sampler starts it again in the same window (`RESTARTS` at most per
window), so such a window costs one attach per restart, as py-spy's every window does.

austin reads the target's memory without ever pausing it. What it cannot do (blocking
reads, native frames, GIL-only samples) the sampler leaves to py-spy, window by window, as
`PySpySampler` does (`streams`); the same permit, the same SIGCONT safety net after every
window, the same `now()` (a py-spy dump).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections import Counter

from ..base import CollectorError
from .model import Frame, Mode, Stack, StackSample, StackWindow
from .pyspy import AttachPermit, PySpyOptions, PySpySampler, alive
from .pyspy_faults import find_sampler, permission_message

INSTALL_HINT = "install it into perftop's environment with `pip install 'austin-dist>=3.7,<4'`"

RESTARTS = 20
"""Times austin may end by itself within one window and be started again (see _collect)."""

LINE_LIMIT = 1 << 20
"""Longest line read from austin (a deep recursion makes long lines; asyncio's default is
64 KiB)."""


def streams(options: PySpyOptions) -> bool:
    """Whether austin can sample with these options (else py-spy does, window by window)."""
    return not (options.blocking or options.native or options.gil)


def find_austin(explicit: str | None = None) -> str:
    """The austin executable (see `find_sampler`)."""
    return find_sampler("austin", explicit, INSTALL_HINT)


def austin_args(exe: str, pid: int, options: PySpyOptions) -> list[str]:
    """The command line that streams `pid`'s samples at `options.rate`."""
    interval = max(1, round(1_000_000 / options.rate))
    args = [exe, "--pipe", "--full", f"--interval={interval}us", f"--pid={pid}"]
    if options.subprocesses:
        args.append("--children")
    return args


def austin_failure(pid: int, returncode: int) -> CollectorError:
    """austin's exit status as plain words (its own text has colours and emoji: not shown)."""
    if returncode == 32:  # "not a Python process": also what a refused read looks like
        try:
            os.close(os.open(f"/proc/{pid}/mem", os.O_RDONLY))
        except PermissionError:
            return CollectorError(permission_message(pid).replace("py-spy", "austin"))
        except OSError:
            pass
        return CollectorError(f"austin could not read process {pid} as Python")
    if returncode == 36:
        return CollectorError(f"austin could not attach to process {pid}")
    return CollectorError(f"austin stopped (exit status {returncode})")


def check_attach(exe: str, pid: int, timeout: float = 10.0) -> None:
    """One `austin --where` (every thread's stack, once), to find out before sampling what
    would otherwise be the first window's failure: permission denied, not readable as
    Python. Raises it as a `CollectorError`."""
    try:
        done = subprocess.run(
            [exe, f"--where={pid}"], capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise CollectorError(f"austin did not answer within {timeout:g} s") from exc
    if done.returncode != 0:
        raise austin_failure(pid, done.returncode)


# Parsing --------------------------------------------------------------------------------------


def parse_frame(text: str) -> Frame:
    """`file:qualname:line` (the file may hold colons; the last two fields do not)."""
    file, sep, rest = text.rpartition(":")  # rest: the line
    if not sep or not rest.isdigit():
        return Frame(text, "", 0)
    file, sep, name = file.rpartition(":")
    if not sep:
        return Frame(file, "", int(rest))
    return Frame(name, file, int(rest))


def parse_sample(line: str, main_pid: int) -> Stack | None:
    """One sample line as its stack; None for a comment, a blank or a line it cannot read.

    `main_pid`: the attached process, whose main thread's id is its pid."""
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        return None
    head, _, metrics = line.rpartition(" ")
    parts = head.split(";")
    if len(parts) < 2 or not parts[0].startswith("P") or not parts[1].startswith("T"):
        return None
    try:
        process = int(parts[0][1:])
        thread_id = int(parts[1].rpartition(":")[2])
    except ValueError:
        return None
    fields = metrics.split(",")
    idle = len(fields) > 1 and fields[1] == "1"
    if ":INVALID:" in parts:
        return None  # austin could not read this stack: a sample lost, counted as an error
    frames = tuple(parse_frame(part) for part in parts[2:] if part)
    thread = "MainThread" if thread_id == process else f"thread {thread_id}"
    return Stack(
        thread, thread_id, frames, idle=idle, process=0 if process == main_pid else process
    )


# The sampler ----------------------------------------------------------------------------------


class AustinSampler(PySpySampler):
    """The "stacks" collector streaming from one austin (see the module doc)."""

    def __init__(
        self,
        permit: AttachPermit,
        *,
        window: float = 1.0,
        keep: float = 300.0,
        austin: str | None = None,
        pyspy: str | None = None,
        command: str | None = None,
    ) -> None:
        super().__init__(permit, window=window, keep=keep, pyspy=pyspy, command=command)
        self.austin = austin
        self._stream: asyncio.subprocess.Process | None = None
        self._stream_options: PySpyOptions | None = None
        self._reader: asyncio.Task[None] | None = None
        self._errors: asyncio.Task[bytes] | None = None
        # The window being filled by the reader: its counts, per-thread samples, start.
        self._counts: dict[Stack, int] = {}
        self._per_thread: Counter[tuple[int, int]] = Counter()
        self._unread = 0  # lines of this window that did not parse
        self._closing: asyncio.Task[None] | None = None
        self._pipes: set[asyncio.Task[object]] = set()  # every austin's stdout and stderr readers
        self._began = 0.0  # monotonic
        self._started = 0.0  # wall

    @property
    def mode(self) -> Mode:
        """How the next window is sampled."""
        return "austin" if streams(self.options) else super().mode

    def stop(self) -> None:
        super().stop()
        stream = self._stream
        if stream is not None and stream.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(stream.pid, signal.SIGINT)

    async def close(self) -> None:
        """Stop austin and detach. Two callers (a cancelled tick and the screen's own
        close) wait for the same closing: neither returns while austin still runs."""
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        await self._end_stream()
        # A tick cancelled while it reaped an austin leaves its pipe readers running: they
        # end at EOF, and only then is the subprocess transport closed.
        pipes = [task for task in self._pipes if not task.done()]
        if pipes:
            await asyncio.wait(pipes, timeout=2.0)
        await super().close()

    async def _collect(self) -> StackSample:
        if not streams(self.options):
            await self._end_stream()
            return await super()._collect()
        if self._stream is not None and self._stream_options != self.options:
            await self._end_stream()  # a new rate: a new austin
        if self._stream is None:
            await self._start_stream()
        self.windows_tried += 1
        ends = self._began + self.window
        restarts = 0
        failure: CollectorError | None = None
        while True:
            stream = self._stream
            assert stream is not None
            with contextlib.suppress(asyncio.TimeoutError):
                timeout = max(0.0, ends - time.monotonic())
                await asyncio.wait_for(asyncio.shield(stream.wait()), timeout)
            if stream.returncode is None:
                break
            await self._reap()  # every line it wrote before it exited belongs here
            if self.detached or not alive(self.pid, self.start_ticks):
                break
            if stream.returncode != 0 or restarts >= RESTARTS:
                failure = austin_failure(self.pid, stream.returncode)
                break
            # austin 3.7 ends by itself (status 0) when threads come and go fast, the
            # target still running: sampling goes on with a new austin, in this window.
            restarts += 1
            await self._start_stream(keep_window=True)
        window = self._cut()
        resumed = self._resume()
        if window.samples:
            self._add(window)
        if self._stream is not None:
            return self._sample(resumed)
        gone = not alive(self.pid, self.start_ticks)
        if gone or self.detached:
            self.ended = gone
            return self._sample(resumed)
        # austin failed on a live process: the next collect starts another one.
        assert failure is not None
        self.last_failure = str(failure)
        if not window.samples:
            self.windows_lost += 1
        if not self.windows:
            raise failure  # nothing ever sampled: the collector is failing (it backs off)
        return self._sample(resumed)

    async def _start_stream(self, keep_window: bool = False) -> None:
        """Start austin; `keep_window`: its samples go on filling the current window."""
        exe = find_austin(self.austin)
        options = self.options
        try:
            stream = await asyncio.create_subprocess_exec(
                *austin_args(exe, self.pid, options),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # a Ctrl-C in perftop's terminal is not austin's
                limit=LINE_LIMIT,
            )
        except (FileNotFoundError, PermissionError) as exc:
            raise CollectorError(f"austin at {exe} cannot be run: {INSTALL_HINT}") from exc
        self._stream, self._stream_options = stream, options
        if not keep_window:
            self._began, self._started = time.monotonic(), time.time()
            self._reset()
        if self._first is None:
            self._first = self._started
        assert stream.stdout is not None and stream.stderr is not None
        loop = asyncio.get_running_loop()
        self._reader = loop.create_task(self._read_lines(stream.stdout))
        self._errors = loop.create_task(stream.stderr.read())
        for task in (self._reader, self._errors):
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _read_lines(self, out: asyncio.StreamReader) -> None:
        main = self.pid
        counts, per_thread = self._counts, self._per_thread
        while True:
            try:
                raw = await out.readline()
            except ValueError:  # longer than LINE_LIMIT: the rest of it is dropped
                self._unread += 1
                continue
            if not raw:
                return
            stack = parse_sample(raw.decode(errors="replace"), main)
            if stack is None:
                if not raw.startswith(b"#") and raw.strip():
                    self._unread += 1
                continue
            if self._counts is not counts:  # a window was cut since the last line
                counts, per_thread = self._counts, self._per_thread
            per_thread[(stack.process, stack.thread_id)] += 1
            counts[stack] = counts.get(stack, 0) + 1

    def _reset(self) -> None:
        self._counts, self._per_thread, self._unread = {}, Counter(), 0

    def _cut(self) -> StackWindow:
        """Close the window being filled and start the next one at once."""
        now, wall = time.monotonic(), time.time()
        options = self._stream_options or self.options
        window = StackWindow(
            started=self._started,
            duration=now - self._began,
            requested_rate=options.rate,
            stacks=tuple(self._counts.items()),
            ticks=max(self._per_thread.values(), default=0),
            errors=self._unread,
        )
        self._reset()
        self._began, self._started = now, wall
        return window

    async def _reap(self) -> None:
        """Forget the exited austin once its pipes are read to the end: the lines it wrote
        are in the window, its stderr is dropped (never shown: colours, emoji)."""
        reader, errors = self._reader, self._errors
        self._stream = self._reader = self._errors = None
        self._stream_options = None
        for task in (reader, errors):
            if task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(task)  # cancelled here, it still reads to EOF

    async def _end_stream(self) -> None:
        """Stop the running austin (SIGINT: it exits at once) and keep what it had sent."""
        stream = self._stream
        if stream is None:
            return
        if stream.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                stream.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(stream.wait(), 2.0)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    stream.kill()
                await stream.wait()
        await self._reap()
        window = self._cut()
        if window.samples:
            self._add(window)
        self._resume()
