"""A program started in a real tmux window of a fixed size, its screen read by tmux itself.

Where people run perftop is often tmux, and tmux is what draws their screen: the first
frame is measured in it, not in an emulator of ours. A private tmux server (its own
socket, no config file) holds one window of 120x40 with a placeholder; `launch()` replaces
the placeholder with the program (`respawn-pane -k`: the server and window already exist,
so their start is not counted), and `wait_for()` reads the pane with `capture-pane` until
the screen shows what is awaited.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType

from .terminal import COLUMNS, LINES

ScreenCheck = Callable[[Sequence[str]], bool]
POLL = 0.005  # seconds between two reads of the pane (each read itself takes a few ms)
_SERVERS = itertools.count()


def available() -> bool:
    """Whether tmux is installed."""
    return shutil.which("tmux") is not None


class TmuxWindow:
    """One tmux server with one window, for a `with` block; the server ends on exit."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        columns: int = COLUMNS,
        lines: int = LINES,
    ) -> None:
        self.env = {k: v for k, v in env.items() if k not in ("TMUX", "TMUX_PANE")}
        self.columns, self.lines = columns, lines
        # A new server each time: one just killed may still be going away on its socket.
        self.socket = f"perftop-bench-{os.getpid()}-{next(_SERVERS)}"
        self.started = 0.0  # perf_counter() just before the program's launch
        self.socket_path = ""
        self.cpu_at_frame: float | None = None  # the program's CPU seconds when it was seen

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=30,
        )

    def __enter__(self) -> TmuxWindow:
        size = ("-x", str(self.columns), "-y", str(self.lines))
        done = self.tmux("new-session", "-d", "-s", "bench", *size, "sleep 100000")
        if done.returncode != 0:
            raise OSError(f"tmux new-session failed: {done.stderr.strip()}")
        # The pane stays (dead) when the program exits, so its last screen can be read.
        self.tmux("set-option", "-g", "remain-on-exit", "on")
        self.socket_path = self.tmux("display-message", "-p", "#{socket_path}").stdout.strip()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.tmux("kill-server")
        if self.socket_path:  # the server leaves its socket file behind
            with contextlib.suppress(OSError):
                os.unlink(self.socket_path)

    def launch(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | None = None
    ) -> None:
        """Start `argv` in the window (the placeholder is killed); the clock starts here."""
        extra = [arg for k, v in (env or {}).items() for arg in ("-e", f"{k}={v}")]
        where = ["-c", cwd] if cwd else []
        self.started = time.perf_counter()
        # The words apart, not one string: tmux runs them without a shell in between, so
        # the pane's process is the program itself.
        done = self.tmux("respawn-pane", "-k", *where, *extra, "-t", "bench", *argv)
        if done.returncode != 0:
            raise OSError(f"tmux respawn-pane failed: {done.stderr.strip()}")

    def screen(self) -> list[str]:
        """The window's lines as tmux shows them."""
        done = self.tmux("capture-pane", "-p", "-t", "bench")
        return done.stdout.split("\n")[: self.lines]

    def alive(self) -> bool:
        """Whether the program still runs in the window."""
        done = self.tmux("display-message", "-p", "-t", "bench", "#{pane_dead}")
        return done.stdout.strip() == "0"

    def pid(self) -> int | None:
        """The program's pid (the pane's process)."""
        done = self.tmux("display-message", "-p", "-t", "bench", "#{pane_pid}")
        return int(done.stdout) if done.stdout.strip().isdigit() else None

    def wait_for(self, check: ScreenCheck, timeout: float) -> float | None:
        """Seconds from launch until the screen satisfies `check`; None if it never did.

        The time is that of the start of the first read that satisfied it: at most one
        poll (a few ms) after the frame was drawn, never before.
        """
        deadline = self.started + timeout
        checks = 0
        pid = self.pid()
        while True:
            before = time.perf_counter()
            if check(self.screen()):
                self.cpu_at_frame = cpu_seconds(pid) if pid is not None else None
                return before - self.started
            checks += 1
            if before > deadline or (checks % 20 == 0 and not self.alive()):
                return None
            time.sleep(POLL)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds `pid` (all its threads) has used, None once it is gone.

    A figure a busy machine does not inflate the way it does wall time: the work done to
    draw the first frame, whatever waited for a core.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
