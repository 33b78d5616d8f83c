"""A program started in a real tmux window of a fixed size, its screen read by tmux itself.

Where people run perftop is often tmux, and tmux is what draws their screen: the first
frame is measured in it, not in an emulator of ours. A private tmux server (its own
socket, no config file) holds one window of 120x40 with a placeholder; `launch()` replaces
the placeholder with the program (`respawn-pane -k`: the server and window already exist,
so their start is not counted), and `wait_for()` reads the pane with `capture-pane` until
the screen shows what is awaited.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType

from .terminal import COLUMNS, LINES

ScreenCheck = Callable[[Sequence[str]], bool]
POLL = 0.005  # seconds between two reads of the pane (each read itself takes a few ms)


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
        self.socket = f"perftop-bench-{os.getpid()}-{id(self)}"
        self.started = 0.0  # perf_counter() just before the program's launch

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
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.tmux("kill-server")

    def launch(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | None = None
    ) -> None:
        """Start `argv` in the window (the placeholder is killed); the clock starts here."""
        extra = [arg for k, v in (env or {}).items() for arg in ("-e", f"{k}={v}")]
        where = ["-c", cwd] if cwd else []
        self.started = time.perf_counter()
        done = self.tmux("respawn-pane", "-k", *where, *extra, "-t", "bench", shlex.join(argv))
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

    def wait_for(self, check: ScreenCheck, timeout: float) -> float | None:
        """Seconds from launch until the screen satisfies `check`; None if it never did.

        The time is that of the start of the first read that satisfied it: at most one
        poll (a few ms) after the frame was drawn, never before.
        """
        deadline = self.started + timeout
        checks = 0
        while True:
            before = time.perf_counter()
            if check(self.screen()):
                return before - self.started
            checks += 1
            if before > deadline or (checks % 20 == 0 and not self.alive()):
                return None
            time.sleep(POLL)
