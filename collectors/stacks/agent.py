"""perftop's agent: runs a Python program under pyinstrument and streams its profile.

perftop (collectors/stacks/launch.py) starts it by path, in the *user's* interpreter::

    <python> [interpreter options] .../agent.py --fd N --window S --interval S \
        --session PATH -- (-m module | script) args...

so it imports only the standard library and pyinstrument, keeps to Python 3.8 syntax, and
is never imported by perftop itself. The program runs as `python script args` would run it:
`sys.argv`, `sys.path[0]` (the script's directory, or the working directory for `-m`) and
`__name__ == "__main__"` are what it expects; the agent's own directory is taken off
`sys.path` before anything else is imported.

How the live profile is read (measured with pyinstrument 5.1.3 on CPython 3.10-3.13):
pyinstrument's public API cannot stop or start a session from another thread
(`Profiler.stop()` on a second thread raises "start/stop profiling on the same thread"), and
rotating sessions on the main thread would need a signal handler, which takes SIGALRM away
from the program and runs only when the main thread gets back to bytecode (never during a
long C call). So the main thread runs one session for the whole program, and a daemon
timer thread, every `--window` seconds, takes the records pyinstrument appended since the
last window out of the active session (`Profiler._active_session.frame_records`: private,
present in pyinstrument 4.0 to 5.1; the agent checks it is there and says so if not). It
slices and then deletes exactly those records: both are single list operations under the
GIL and the main thread only appends, so nothing is lost, and the program's memory stays
bounded however long it runs. The records of a window are summed per stack and written to
the pipe as one line of JSON (the format is below). At the end the remaining records are
sent, and the whole run, summed per distinct stack, is saved as a pyinstrument session
(`Session.save`, the `.pyisession` format) to `--session`.

Threads: pyinstrument profiles the main thread only; other threads are not seen at all.

asyncio: the session starts before the program's event loop, so the whole thread is one
async context and pyinstrument's async_mode has no coroutine to follow. Time a coroutine
spends awaiting is therefore *not* charged to that coroutine: it shows as the event loop
waiting in its selector (`asyncio.run > ... > _run_once > select > epoll.poll`), which perftop
marks idle; a coroutine's own CPU work shows under the loop's `Handle._run`, then the
coroutine.

Wire format: one JSON object per line (UTF-8), written to the inherited pipe `--fd`:

- `{"type": "hello", "pid", "python", "executable", "pyinstrument", "interval", "thread_id"}`
- `{"type": "window", "started", "duration", "records", "frames": [[name, file, line]...],
  "stacks": [[thread, [frame index, root first...], seconds]...]}` - `line` is the line
  the function was at (its first line where pyinstrument does not say); a function's name
  is its qualified name (`co_qualname`, Python 3.11+: `Class.method`,
  `outer.<locals>.<genexpr>`, as py-spy names it), looked up from the code of its file
  (`Qualnames`), else `Class.method` from pyinstrument's class of `self`; built-in
  functions have the file `<built-in>`.
- `{"type": "error", "message"}` - the agent could not profile (pyinstrument missing...).
- `{"type": "end", "session": path or null}` - the program finished (normally or not).

pyinstrument comes from the interpreter's own environment, or, with `--lend DIR`, from a
private folder perftop made holding only a link to its own pyinstrument (when the
interpreter is the same Python version and ABI as perftop's). DIR is on `sys.path` only
while `import pyinstrument` runs; an argument rather than PYTHONPATH, so the program's own
children never see it.
"""

from __future__ import annotations

import os
import sys

if (
    __name__ == "__main__"
    and sys.path
    and sys.path[0] == os.path.dirname(os.path.abspath(__file__))
):
    # The program must not import perftop's modules by accident (model, profile, ...).
    del sys.path[0]

import json  # noqa: E402 - after the sys.path fix above, on purpose
import runpy  # noqa: E402
import shlex  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

if TYPE_CHECKING:  # only in annotations: the agent also runs on Python 3.8
    Record = tuple[list[str], float]

THREAD_FILE = "<thread>"
PYINSTRUMENT = "pyinstrument>=5.0,<5.2"  # the versions with the session read below


def usage(message: str) -> None:
    sys.stderr.write("perftop agent: " + message + "\n")
    raise SystemExit(2)


def parse_args(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """`--name value` pairs up to `--`, then the program: `-m module args` or `script args`."""
    options: dict[str, str] = {}
    i = 0
    while i < len(argv) and argv[i] != "--":
        if not argv[i].startswith("--") or i + 1 >= len(argv):
            usage("bad option " + repr(argv[i]))
        options[argv[i][2:]] = argv[i + 1]
        i += 2
    program = argv[i + 1 :]
    if not program or (program[0] == "-m" and len(program) < 2):
        usage("nothing to run")
    return options, program


class Pipe:
    """Writes whole lines to perftop; stops quietly once perftop has gone away."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()
        self.open = True

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8", "replace")
        with self.lock:
            view = memoryview(data)
            while self.open and view:
                try:
                    view = view[os.write(self.fd, view) :]
                except OSError:  # EPIPE: perftop closed its end; the program carries on
                    self.open = False


def info_parts(info: str) -> tuple[str, str, int, str, int]:
    """pyinstrument's frame info `name\\0file\\0first line[\\1attr...]` as (code name,
    file, first line, class of `self` or "", line the frame was at or its first line)."""
    identifier, _, attributes = info.partition("\x01")
    parts = identifier.split("\x00")
    name = parts[0]
    file = parts[1] if len(parts) > 1 else ""
    try:
        first = int(parts[2]) if len(parts) > 2 else 0
    except ValueError:
        first = 0
    owner, line = "", first
    for attribute in attributes.split("\x01") if attributes else ():
        if attribute[:1] == "c":
            owner = attribute[1:]
        elif attribute[:1] == "l" and attribute[1:].isdigit():
            line = int(attribute[1:])
    return name, file, first, owner, line


def split_info(info: str) -> tuple[str, str, int]:
    """pyinstrument's frame info as (name, file, line); a method is `Class.method`."""
    name, file, _, owner, line = info_parts(info)
    return (owner + "." + name if owner else name), file, line


class Qualnames:
    """The qualified names (`co_qualname`, Python 3.11+) of the functions pyinstrument
    names by code name, first line and file: read from the code compiled from each file,
    once per file (compiling runs nothing). None where it cannot be said: an older Python,
    no such file, a file changed since (no function of that name starts on that line)."""

    def __init__(self) -> None:
        self.files: dict[str, dict[tuple[str, int], str] | None] = {}

    def get(self, name: str, file: str, first: int) -> str | None:
        if not hasattr(types.CodeType, "co_qualname"):
            return None
        if file not in self.files:
            self.files[file] = self._read(file)
        table = self.files[file]
        return table.get((name, first)) if table is not None else None

    @staticmethod
    def _read(file: str) -> dict[tuple[str, int], str] | None:
        if not file or file.startswith("<") or not file.endswith((".py", ".pyw")):
            return None
        try:
            with open(file, "rb") as handle:
                code = compile(handle.read(), file, "exec", dont_inherit=True)
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError, MemoryError):
            return None
        table: dict[tuple[str, int], str] = {}
        pending = [code]
        while pending:
            each = pending.pop()
            table.setdefault((each.co_name, each.co_firstlineno), each.co_qualname)
            pending.extend(c for c in each.co_consts if isinstance(c, types.CodeType))
        return table

    def frame(self, info: str) -> tuple[str, str, int]:
        """(name, file, line) of a frame info, the name qualified where it can be."""
        name, file, first, owner, line = info_parts(info)
        qualified = self.get(name, file, first)
        if qualified is not None:
            return qualified, file, line
        return (owner + "." + name if owner else name), file, line

    def info(self, info: str) -> str:
        """The frame info with the qualified name in place of the code name (and no class
        of `self`), for sessions pyinstrument and perftop read back; unchanged if none."""
        name, file, first, _, _ = info_parts(info)
        qualified = self.get(name, file, first)
        if qualified is None:
            return info
        _, _, attributes = info.partition("\x01")
        kept = [a for a in attributes.split("\x01") if a and a[:1] != "c"] if attributes else []
        return "\x00".join((qualified, file, str(first))) + "".join("\x01" + a for a in kept)


class Folder:
    """Strips the agent's own frames off each record and sums records per stack."""

    def __init__(self, own_files: set[str], interval: float) -> None:
        self.own_files = own_files
        self.interval = interval
        self.qualnames = Qualnames()
        self._frames: dict[str, tuple[str, str, int]] = {}  # frame info -> (name, file, line)
        self.totals: dict[tuple[str, ...], float] = {}  # the whole run, for the session
        self.records = 0

    def user_stack(self, stack: list[str]) -> tuple[str, ...]:
        """The thread frame, then the program's frames (runpy and the agent cut off)."""
        start = 1
        running = False  # under runpy's _run_code, which executes the program's code
        while start < len(stack):
            name, file, _ = split_info(stack[start])
            if file not in self.own_files:
                break
            running = running or name == "_run_code"
            start += 1
        if not running or start >= len(stack):
            # The agent itself, before or after the program: runpy finding the module
            # (importlib, the environment's import hooks), pyinstrument's stop().
            return ()
        return (stack[0], *stack[start:])

    def window(self, records: list[Record], started: float, now: float) -> dict[str, Any]:
        sums: dict[tuple[str, ...], float] = {}
        for stack, seconds in records:
            key = self.user_stack(stack)
            if key:
                sums[key] = sums.get(key, 0.0) + seconds
                self.totals[key] = self.totals.get(key, 0.0) + seconds
        self.records += len(records)
        index: dict[tuple[str, str, int], int] = {}
        frames: list[list[Any]] = []
        merged: dict[tuple[str, tuple[int, ...]], float] = {}
        for key, seconds in sums.items():
            thread = key[0].split("\x00")[0]
            path: list[int] = []
            for info in key[1:]:
                frame = self._frames.get(info)
                if frame is None:
                    frame = self._frames[info] = self.qualnames.frame(info)
                if frame not in index:
                    index[frame] = len(frames)
                    frames.append(list(frame))
                path.append(index[frame])
            merged_key = (thread, tuple(path))
            merged[merged_key] = merged.get(merged_key, 0.0) + seconds
        return {
            "type": "window",
            "started": started,
            "duration": max(0.0, now - started),
            "records": len(records),
            "frames": frames,
            "stacks": [[thread, list(path), s] for (thread, path), s in merged.items()],
        }


class Agent:
    """One pyinstrument session on the main thread, read out by a timer thread."""

    def __init__(self, profiler: Any, pipe: Pipe, folder: Folder, window: float) -> None:
        self.profiler = profiler
        self.pipe = pipe
        self.folder = folder
        self.window = window
        self.lock = threading.Lock()  # one reader of the records at a time
        self.stopping = threading.Event()
        self.done = False
        self.last = time.time()
        self.thread = threading.Thread(target=self._loop, name="perftop-agent", daemon=True)

    def take(self) -> list[Record]:
        active = self.profiler._active_session
        if active is None:
            return []
        records: list[Record] = active.frame_records
        count = len(records)
        taken = records[:count]
        del records[:count]  # only these: the main thread may have appended since
        return taken

    def flush(self) -> None:
        """Send the records taken since the last window (timer thread)."""
        with self.lock:  # held while sending too, so windows arrive in order
            if not self.done:
                self._send(self.take())

    def _send(self, records: list[Record]) -> None:
        now = time.time()
        message = self.folder.window(records, self.last, now)
        self.last = now
        self.pipe.send(message)

    def _loop(self) -> None:
        while not self.stopping.wait(self.window):
            self.flush()

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> None:
        """Stop the profiler (it must be the main thread), send the last records, then
        stop the timer thread: in this order, joining the thread is not in the profile."""
        with self.lock:
            session = self.profiler.stop()
            self.done = True
            self._send(session.frame_records)  # the records the timer thread did not take
        self.stopping.set()
        self.thread.join()


def save_session(folder: Folder, session_path: str, started: float, target: str) -> bool:
    """The whole run as a pyinstrument session, one record per distinct stack."""
    from pyinstrument.session import Session

    thread = threading.current_thread()
    root = f"{thread.name}\x00{THREAD_FILE}\x00{thread.ident or 0}"
    qualified = folder.qualnames.info
    records: dict[tuple[str, ...], float] = {}
    for stack, seconds in folder.totals.items():
        key = (stack[0], *(qualified(info) for info in stack[1:]))
        records[key] = records.get(key, 0.0) + seconds
    session = Session(
        frame_records=[(list(stack), seconds) for stack, seconds in records.items()],
        start_time=started,
        duration=time.time() - started,
        min_interval=folder.interval,
        max_interval=folder.interval,
        sample_count=folder.records,
        start_call_stack=[root],
        target_description=target,
        cpu_time=time.process_time(),
        sys_path=list(sys.path),
        sys_prefixes=Session.current_sys_prefixes(),
    )
    try:
        session.save(session_path)
    except OSError as exc:
        sys.stderr.write(f"perftop agent: could not save the session: {exc}\n")
        return False
    return True


def prepare(program: list[str]) -> None:
    """`sys.argv` and `sys.path[0]` as `python script args` / `python -m module` set them."""
    isolated = sys.flags.isolated or getattr(sys.flags, "safe_path", False)
    if program[0] == "-m":
        sys.argv = [program[1], *program[2:]]  # run_module puts the module's file in [0]
        if not isolated:
            sys.path.insert(0, os.getcwd())
    else:
        sys.argv = list(program)
        if not isolated:
            sys.path.insert(0, os.path.dirname(os.path.abspath(program[0])))


def run(program: list[str]) -> None:
    if program[0] == "-m":
        runpy.run_module(program[1], run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(program[0], run_name="__main__")


def main(argv: list[str]) -> None:
    options, program = parse_args(argv)
    fd = int(options.get("fd", "-1"))
    try:
        os.set_inheritable(fd, False)  # the program's own children do not get it
    except OSError:
        usage(f"the pipe to perftop (--fd {fd}) is not open")
    pipe = Pipe(fd)
    interval = float(options.get("interval", "0.001"))
    window = float(options.get("window", "0.5"))
    lent = options.get("lend")
    if lent:  # perftop's pyinstrument, alone in a private folder: only while importing it
        sys.path.append(lent)
    try:
        import pyinstrument
    except ImportError:
        message = (
            f"pyinstrument is not installed for {sys.executable}: install pyinstrument 5.0 to "
            f"5.1 there with: {shlex.quote(sys.executable)} -m pip install "
            f"{shlex.quote(PYINSTRUMENT)}; or start the program by itself and attach py-spy: "
            "perftop --pid PID"
        )
        pipe.send({"type": "error", "message": message})
        usage(message)
    finally:  # its submodules load through pyinstrument.__path__ from now on
        if lent and lent in sys.path:
            sys.path.remove(lent)
    profiler = pyinstrument.Profiler(interval=interval, async_mode="enabled")
    if not hasattr(profiler, "_active_session"):
        message = (
            f"pyinstrument {pyinstrument.__version__} is not supported by perftop run"
            " (tested: 5.0 to 5.1)"
        )
        pipe.send({"type": "error", "message": message})
        usage(message)
    pipe.send(
        {
            "type": "hello",
            "pid": os.getpid(),
            "python": ".".join(str(part) for part in sys.version_info[:3]),
            "executable": sys.executable,
            "pyinstrument": pyinstrument.__version__,
            "interval": interval,
            "thread_id": threading.get_native_id(),
        }
    )

    own = {os.path.abspath(__file__), runpy.__file__ or "", "<frozen runpy>"}
    folder = Folder(own, interval)
    prepare(program)
    try:  # a file is line-buffered only on a tty; perftop shows the log as it grows
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr] # a TextIOWrapper
    except (AttributeError, ValueError):
        pass

    started = time.time()
    agent = Agent(profiler, pipe, folder, window)
    agent.start()  # first: starting a thread under the profiler would show in the profile
    profiler.start(target_description=" ".join(program))
    saved = False
    pid = os.getpid()
    try:
        run(program)
    finally:
        if os.getpid() == pid:  # not in a child the program forked that returned here
            agent.finish()
            session = options.get("session")
            if session:
                saved = save_session(folder, session, started, " ".join(program))
            pipe.send({"type": "end", "session": session if saved else None})


if __name__ == "__main__":
    main(sys.argv[1:])
