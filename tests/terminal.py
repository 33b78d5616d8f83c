"""A real pseudo-terminal for end-to-end tests: run a program in a pty, feed its output to
a terminal emulator (pyte), read the screen as text, type keys."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Mapping

import pyte

KEYS = {
    "enter": b"\r",
    "escape": b"\x1b",
    "down": b"\x1b[B",
    "up": b"\x1b[A",
    "f9": b"\x1b[20~",
    "tab": b"\t",
}


class Terminal:
    """A program running in a `cols`×`rows` pty, its screen emulated by pyte."""

    def __init__(
        self,
        argv: list[str],
        cols: int = 100,
        rows: int = 30,
        env: Mapping[str, str] | None = None,
    ) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols)}
        full_env.pop("NO_COLOR", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=full_env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()

    def pump(self, timeout: float = 0.1) -> None:
        """Read whatever the program wrote within `timeout` into the emulator."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(0.0, left))
            if not ready:
                return
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the program closed the terminal
                return
            if not data:
                return
            self.raw += data
            self.stream.feed(data)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, found: Callable[[str], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.1)
            if found(self.text()):
                return True
        return False

    def press(self, *keys: str) -> None:
        for key in keys:
            os.write(self.master, KEYS.get(key, key.encode()))
            self.pump(0.15)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())
        self.pump(0.2)

    def wait_exit(self, timeout: float = 10.0) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.1)
            code = self.proc.poll()
            if code is not None:
                return code
        return None

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)
        os.close(self.master)
