"""A program running in a real pseudo-terminal, its output drained so it never blocks.

The program gets the pty's slave side as stdin, stdout and stderr, a 120x40 window and
TERM=xterm-256color, in a session of its own (so its whole group can be ended at once). A
thread reads the master side for as long as the program writes; when asked to, it feeds the
bytes to a `pyte` terminal emulator so the screen can be inspected.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType

import pyte

COLUMNS, LINES = 120, 40
TAIL_BYTES = 4096
# CSI and OSC sequences and lone escapes: enough to turn a traceback drawn on a
# full-screen terminal back into readable words.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.?|[\x00-\x08\x0e-\x1f]"
)

ScreenCheck = Callable[[Sequence[str]], bool]
"""Looks at the screen's lines and says whether it shows what is awaited."""


class PtySession:
    """One program in its own pty, for a `with` block; ended (and reaped) on exit."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        emulate: bool = False,
        cwd: str | None = None,
        columns: int = COLUMNS,
        lines: int = LINES,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.columns, self.lines = columns, lines
        self.bytes_read = 0
        self.started = 0.0  # time.perf_counter() just before the launch
        self.process: subprocess.Popen[bytes] | None = None
        self._screen = pyte.Screen(columns, lines) if emulate else None
        self._stream = pyte.ByteStream(self._screen) if self._screen is not None else None
        self._master = -1
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._drainer: threading.Thread | None = None
        self._closed = False
        self._settled_at = 0.0  # perf_counter of the last read after which output paused
        self._tail = b""  # the last output, to say why a program stopped

    @property
    def pid(self) -> int:
        """The program's pid (the session starts when entered)."""
        assert self.process is not None, "session not started"
        return self.process.pid

    def __enter__(self) -> PtySession:
        master, slave = os.openpty()
        self._master = master
        try:
            fcntl.ioctl(
                slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.lines, self.columns, 0, 0)
            )
            env = {k: v for k, v in self.env.items() if k not in ("COLUMNS", "LINES")}
            env["TERM"] = "xterm-256color"
            self.started = time.perf_counter()
            self.process = subprocess.Popen(
                self.argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            # Only the child holds the slave now: when it exits, reads on master get EIO.
            os.close(slave)
        self._drainer = threading.Thread(target=self._drain, name="pty-drain", daemon=True)
        self._drainer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _drain(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self._master], [], [], 0.5)
                if not ready:
                    if self._closed:
                        return
                    continue
                data = os.read(self._master, 65536)
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.EBADF):
                    return  # the program closed the terminal
                raise
            if not data:
                return
            read_at = time.perf_counter()
            # A frame is written in several chunks; the screen is only worth judging once
            # nothing more is pending, so a half-drawn frame does not count as complete.
            pending = bool(select.select([self._master], [], [], 0)[0])
            with self._changed:
                self.bytes_read += len(data)
                self._tail = (self._tail + data)[-TAIL_BYTES:]
                if self._stream is not None:
                    self._stream.feed(data)
                if not pending:
                    self._settled_at = read_at
                    self._changed.notify_all()

    def alive(self) -> bool:
        """Whether the program is still running."""
        return self.process is not None and self.process.poll() is None

    def display(self) -> list[str]:
        """The emulated screen's lines (empty without emulation)."""
        with self._lock:
            return list(self._screen.display) if self._screen is not None else []

    def send(self, keys: str) -> None:
        """Type `keys` into the program's terminal."""
        os.write(self._master, keys.encode())

    def last_words(self) -> str:
        """The end of what the program wrote, escape sequences removed (for error reports)."""
        with self._lock:
            text = self._tail.decode("utf-8", "replace")
        text = _ESCAPES.sub(" ", text)
        return " ".join(text.split())[-300:]

    def wait_for(self, check: ScreenCheck, timeout: float) -> float | None:
        """Seconds from launch until the screen satisfies `check`; None if it never did.

        The screen is checked whenever the program's output pauses (nothing more to read),
        and the time is that of the last chunk read before the pause.
        """
        assert self._screen is not None, "wait_for needs emulate=True"
        deadline = self.started + timeout
        with self._changed:
            while True:
                if self._settled_at and check(self._screen.display):
                    return self._settled_at - self.started
                left = deadline - time.perf_counter()
                if left <= 0 or not self.alive():
                    return None
                self._changed.wait(min(left, 0.1))

    def close(self) -> None:
        """End the program's whole session (TERM, then KILL) and reap it. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.process is not None:
            _end_group(self.process)
        if self._drainer is not None:
            self._drainer.join(timeout=5)
        try:
            os.close(self._master)
        except OSError:
            pass


def _end_group(process: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        pass
    # Whatever is left of the group (the program, or helpers it started) goes now.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
