"""`perftop run`: start a Python program with pyinstrument inside it, and collect its stacks.

Works where ptrace is not allowed (containers): nothing reads another process's memory; the
program profiles itself. `start()` runs the user's interpreter on perftop's agent
(agent.py, found by path, so the interpreter need not be perftop's: it needs only
pyinstrument, its own or perftop's lent for the run, see `check_pyinstrument`) and the
agent runs the program as `python script args` would. The agent
writes a window of stacks every half second to a pipe; `LaunchCollector` turns each into a
`StackWindow` for the store's "stacks" source.

Why a pipe and not a Unix socket: the child inherits one end and nothing else can connect
to it (no path on disk, no permissions to get right, no accept); perftop sees EOF when the
program is gone; the agent gets EPIPE (and carries on, unprofiled) if perftop is gone.

The program never draws over the TUI: stdin is /dev/null (the TUI owns the keyboard; a
program reading the terminal would steal keys), stdout and stderr go to a log file (mode
0600: programs print secrets), and it runs in its own session, so it has no controlling
terminal and cannot open /dev/tty either. Being its own process group also means stop()
signals the program and the children it started, as Ctrl-C in a terminal would.

What the samples mean: pyinstrument records the main thread's stack with the time since the
previous record (about every millisecond while Python code runs; a long C call is one
record with its whole duration). perftop counts that time in units of the profiler's
interval, so a window's "samples" are milliseconds of the main thread's wall time and the
requested rate is 1000/s. asyncio: time a coroutine spends awaiting is not charged to it;
it shows as the event loop idle in `select`/`epoll.poll` under `asyncio.run` (see agent.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .launch_plan import (
    LaunchError,
    LaunchPlan,
    check_pyinstrument,
    lend_pyinstrument,
    plan,
)
from .model import IDLE_BUILTINS as IDLE_BUILTINS  # noqa: F401 - where tests look
from .model import Frame, Stack, StackSample, StackTarget, StackWindow, waits

AGENT = Path(__file__).resolve().with_name("agent.py")
MAIN_THREAD_ONLY = "pyinstrument profiles the main thread only"
AWAITS = (
    "awaits are not charged to the awaiting coroutine: they show as the event loop idle "
    "in select/epoll.poll under asyncio.run"
)
_PIPE_SIZE = 1 << 20  # room for several windows even when perftop is slow to read
MAX_LINE = 8 << 20
"""The longest line perftop keeps from the agent. A window's message is far smaller (at
most one stack per sample: 500 samples of a 0.5 s window at 1 ms, a few hundred KiB
even with deep stacks); anything longer is not one perftop could show."""


class Launched:
    """A program perftop started: its process, its log, its pipe and its saved session."""

    def __init__(
        self,
        launch: LaunchPlan,
        process: subprocess.Popen[bytes],
        log_path: Path,
        pipe_fd: int,
        run_dir: Path,
        pyinstrument: str = "",
        pyinstrument_lent: bool = False,
    ) -> None:
        self.plan = launch
        self.process = process
        self.pid = process.pid
        self.log_path = log_path
        self.pipe_fd = pipe_fd
        self.run_dir = run_dir
        self.session_path = run_dir / "profile.pyisession"
        self.started = time.time()
        self.pyinstrument = pyinstrument
        self.pyinstrument_lent = pyinstrument_lent  # perftop's own, not the interpreter's

    @property
    def returncode(self) -> int | None:
        """None while the program runs; its exit code (or -signal) once it ended."""
        return self.process.poll()

    def stop(self, timeout: float = 5.0) -> int:
        """End the program and its children: SIGINT, then SIGTERM, then SIGKILL.

        Blocking (up to 3 × `timeout`): call it from a thread. Returns the exit code.
        """
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        return self.process.wait()

    def save_session(self, destination: str | os.PathLike[str]) -> Path:
        """Copy the program's pyinstrument session (written when it exits) to `destination`."""
        if not self.session_path.exists():
            if self.returncode is None:
                raise LaunchError("the session is saved when the program exits: it still runs")
            raise LaunchError("the program ended without writing its session (killed, or os._exit)")
        target = Path(destination)
        try:
            shutil.copyfile(self.session_path, target)
        except OSError as exc:
            raise LaunchError(f"could not save the session to {target}: {exc.strerror}") from exc
        return target

    def close(self) -> None:
        """Release the pipe and the private run directory (the log stays)."""
        if self.pipe_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.pipe_fd)
            self.pipe_fd = -1
        shutil.rmtree(self.run_dir, ignore_errors=True)


def start(
    argv: Sequence[str] | None,
    module: str | None,
    log_path: str | os.PathLike[str],
    *,
    python: str | None = None,
    window: float = 0.5,
    interval: float = 0.001,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    ready: Callable[[], None] | None = None,
) -> Launched:
    """Start the program under pyinstrument; its output goes to `log_path` (truncated).

    `check` first asks the interpreter for pyinstrument (about 0.1 s): one it lacks is lent
    from perftop's own when the interpreter can load it (`check_pyinstrument`), and
    otherwise it is a LaunchError, with what to install, before anything runs. Without
    `check` the interpreter's own pyinstrument is used and the agent reports a missing one
    through the collector. Raises LaunchError for anything that is not a startable Python
    program. `ready`, when given, runs once every check has passed and before anything is
    started; what it raises stops the launch.
    """
    launch = plan(argv, module, python)
    version, lent = check_pyinstrument(launch.python) if check else ("", False)
    if ready is not None:
        ready()
    log = Path(log_path)
    try:
        log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    except OSError as exc:
        raise LaunchError(f"cannot write the program's log {log}: {exc.strerror}") from exc
    run_dir = Path(tempfile.mkdtemp(prefix="perftop-run-"))
    try:
        lend = ("--lend", str(lend_pyinstrument(run_dir))) if lent else ()
    except OSError as exc:
        os.close(log_fd)
        shutil.rmtree(run_dir, ignore_errors=True)
        raise LaunchError(f"cannot lend perftop's pyinstrument: {exc}") from exc
    read_fd, write_fd = os.pipe()
    with contextlib.suppress(OSError, AttributeError):  # Linux only; the default works too
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)  # type: ignore[attr-defined,unused-ignore]
    os.set_blocking(read_fd, False)
    command = [
        launch.python,
        *launch.options,
        str(AGENT),
        *("--fd", str(write_fd), "--window", repr(window), "--interval", repr(interval)),
        *("--session", str(run_dir / "profile.pyisession"), *lend, "--"),
        *launch.program,
    ]
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            pass_fds=(write_fd,),
            start_new_session=True,
            cwd=cwd,
            env=dict(env) if env is not None else None,
        )
    except OSError as exc:
        os.close(read_fd)
        shutil.rmtree(run_dir, ignore_errors=True)
        raise LaunchError(f"cannot start {launch.python}: {exc.strerror}") from exc
    finally:
        os.close(write_fd)
        os.close(log_fd)
    return Launched(launch, process, log, read_fd, run_dir, version, lent)


class LaunchCollector:
    """The "stacks" source for a launched program: the agent's windows as a StackSample.

    `collect()` reads what the agent wrote since the last tick (non-blocking) and returns
    the bounded history of windows. When the program ends, the last windows stay, `ended`
    is set and the notice gives the exit code (and where the traceback is, if it failed).
    """

    source = "stacks"

    def __init__(self, launched: Launched, interval: float = 0.5, history: int = 600) -> None:
        self.launched = launched
        self.interval = interval
        self.windows: deque[StackWindow] = deque(maxlen=history)
        self.python = ""
        self.thread_id = 0
        self.unit = 0.001  # seconds per sample: the profiler's interval
        self.error = ""
        self.finished = False  # the agent sent "end"
        self.eof = False
        self.sampled = 0.0  # seconds of samples received since the start
        self.threads: dict[str, None] = {}
        self._buffer = bytearray()  # the start of a line not complete yet
        self._skipping = False  # inside a line too long to keep, up to its newline
        self._frames: dict[tuple[str, str, int], Frame] = {}

    async def collect(self) -> StackSample:
        returncode = self.launched.returncode
        self.read()
        if returncode is not None and not self.eof:
            self.read()  # the agent's last words arrived before it exited
        return self.sample(returncode)

    def series(self, sample: object) -> Mapping[str, float]:
        return {}

    def save_session(self, destination: str | os.PathLike[str]) -> Path:
        """Save the run as a pyinstrument session.

        Once the program has exited normally this is the agent's own session (the whole
        run); while it runs, or if it was killed before the agent could save, the windows
        perftop holds are written instead (`files.save_session`: aggregate, no timeline).
        """
        if self.launched.session_path.exists():
            return self.launched.save_session(destination)
        from .files import save_session

        sample = self.sample(self.launched.returncode)
        try:
            return save_session(sample, destination)
        except OSError as exc:
            raise LaunchError(f"could not save the session to {destination}: {exc}") from exc

    # reading the pipe -----------------------------------------------------------------------

    def read(self) -> None:
        fd = self.launched.pipe_fd
        while fd >= 0 and not self.eof:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
                break
            self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        """Handle the lines `chunk` completes; keep the start of the next one, unless it
        is already longer than any message of the agent's can be (`MAX_LINE`): then it is
        dropped, and so is the rest of it up to its newline."""
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if not self._skipping:
                self._buffer += chunk[start:end]
                line = bytes(self._buffer)
                if line.strip():
                    self.handle(line)
            self._buffer.clear()
            self._skipping = False
            start = end + 1
        if self._skipping:
            return
        self._buffer += chunk[start:]
        if len(self._buffer) > MAX_LINE:
            self._buffer.clear()
            self._skipping = True
            self.error = "the agent sent a message longer than perftop reads (8 MiB); dropped"

    def handle(self, line: bytes) -> None:
        try:
            message = json.loads(line)
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            self.error = "the agent sent something perftop does not understand"
            return
        if kind == "hello":
            self.python = str(message.get("python", ""))
            self.thread_id = int(message.get("thread_id", 0))
            self.unit = float(message.get("interval") or 0.001)
        elif kind == "window":
            self.windows.append(self.window(message))
        elif kind == "error":
            self.error = str(message.get("message", "the agent failed"))
        elif kind == "end":
            self.finished = True

    def window(self, message: dict[str, Any]) -> StackWindow:
        frames = [self._frame(str(n), str(f), int(line)) for n, f, line in message["frames"]]
        counts: dict[Stack, int] = {}
        seconds = 0.0
        for thread, path, spent in message["stacks"]:
            stack_frames = tuple(frames[i] for i in path)
            if not stack_frames:
                continue
            seconds += float(spent)
            count = round(float(spent) / self.unit)
            if count <= 0:
                continue
            self.threads.setdefault(str(thread), None)
            leaf = stack_frames[-1]
            stack = Stack(
                thread=str(thread),
                thread_id=self.thread_id,
                frames=stack_frames,
                idle=waits(leaf),
            )
            counts[stack] = counts.get(stack, 0) + count
        self.sampled += seconds
        return StackWindow(
            started=float(message["started"]),
            duration=float(message["duration"]),
            requested_rate=1.0 / self.unit,
            stacks=tuple(counts.items()),
            ticks=sum(counts.values()),
        )

    def _frame(self, name: str, file: str, line: int) -> Frame:
        key = (name, file, line)
        frame = self._frames.get(key)
        if frame is None:
            frame = self._frames[key] = Frame(name, file, line)
        return frame

    # the sample -----------------------------------------------------------------------------

    def sample(self, returncode: int | None) -> StackSample:
        launched = self.launched
        ended = returncode is not None
        wall = time.time() - launched.started
        return StackSample(
            time=time.monotonic(),
            target=StackTarget(
                pid=launched.pid,
                command=launched.plan.command,
                mode="pyinstrument",
                python=self.python,
                options=(f"interval={self.unit:g}s", "async_mode=enabled"),
            ),
            windows=tuple(self.windows),
            ended=ended,
            notice=self.notice(returncode),
            coverage=min(1.0, self.sampled / wall) if wall > 0 else 0.0,
            threads=tuple(self.threads),
        )

    def notice(self, returncode: int | None) -> str:
        log = self.launched.log_path
        if self.error:
            return f"{self.error}. Program output: {log}"
        profiled = f"{MAIN_THREAD_ONLY}; {AWAITS}."
        if returncode is None:
            return f"{profiled} Program output: {log}"
        if returncode < 0:
            try:
                name = signal.Signals(-returncode).name
            except ValueError:
                name = f"signal {-returncode}"
            return f"The program was killed by {name}. {profiled} Program output: {log}"
        if returncode != 0:
            return (
                f"The program failed with exit code {returncode}: its traceback and output "
                f"are in {log}. {profiled}"
            )
        return f"The program exited with code 0. {profiled} Program output: {log}"
