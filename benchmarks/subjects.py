"""The programs measured: perftop and the peers it is compared with, each at a 1 s refresh.

htop comes from apt (when missing, and only when running as root); glances from pip into a
venv of its own under benchmarks/.cache (never the project's .venv, whose dependencies are
perftop's). A peer that cannot be found or installed is "not available", with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
GLANCES_VENV = CACHE / "glances-venv"
REPO = Path(__file__).resolve().parent.parent
HTOP_CPU = r"\b\d+\s*\[[^\]]*\d%\]"  # a core's meter: `0[|||   12.5%]`
HTOP_MEMORY = r"\bMem\s*\[[^\]]*\d[^\]]*\]"  # `Mem[|||   381M/24G]`
GLANCES_PANES = (r"\bCPU\b.*\d%", r"\bMEM\b.*\d%")  # `CPU  [ 12%]`, `MEM  [  3.1%]`
TOP_PANES = (r"%Cpu\(s\):\s*\d", r"\bMem\s*:\s*\d")  # `%Cpu(s):  3.0 us`, `MiB Mem : 24105.0`


@dataclass(frozen=True, slots=True)
class Subject:
    """One program to measure, or the reason it cannot be."""

    name: str
    argv: tuple[str, ...] = ()
    reason: str | None = None  # set when not available
    version: str = ""
    env: dict[str, str] = field(default_factory=dict)  # added to the common environment
    # Words the process table's header line shows (glances leaves COMMAND unlabelled).
    header: tuple[str, ...] = ("PID", "COMMAND")
    # The first frame is done when a line matches each: the CPU and the memory pane drawn
    # with figures (the defaults are htop's meters, which perftop's panes also draw).
    panes: tuple[str, ...] = (HTOP_CPU, HTOP_MEMORY)

    @property
    def available(self) -> bool:
        """Whether it can be run."""
        return self.reason is None


def clean_env(home: Path) -> dict[str, str]:
    """The environment every subject runs in: an empty home, so no user config applies."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEXTUAL", "PERFTOP", "XDG_", "NO_COLOR", "TMUX"))
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
    )
    return env


def _run(argv: Sequence[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


# Importing the app (not just the package) proves the TUI is there to be run.
_PERFTOP_PROBE = "import perftop, perftop.tui.app; print(perftop.__version__)"


def perftop() -> Subject:
    """perftop's TUI at a 1 s refresh, from the interpreter running the benchmarks."""
    argv = (sys.executable, "-m", "perftop", "-d", "1")
    try:
        probe = _run([sys.executable, "-c", _PERFTOP_PROBE], timeout=60)
    except subprocess.TimeoutExpired:
        return Subject("perftop", argv, reason="importing the TUI took over 60 s")
    if probe.returncode != 0:
        return Subject("perftop", argv, reason=f"TUI does not import: {_last_line(probe.stderr)}")
    return Subject("perftop", argv, version=probe.stdout.strip())


def top() -> Subject:
    """procps top, `top -d 1`."""
    path = shutil.which("top")
    if path is None:
        return Subject("top", reason="not available: top is not installed")
    version = _run([path, "-V"]).stdout.strip().splitlines()
    return Subject(
        "top",
        (path, "-d", "1"),
        version=version[0] if version else "",
        panes=TOP_PANES,
    )


def htop(install: bool) -> Subject:
    """htop at a 1 s refresh (`-d 10`: tenths of a second; its default is 1.5 s)."""
    path = shutil.which("htop")
    if path is None and install:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            return Subject("htop", reason="not available: not installed, and no root apt-get")
        done = _run(["apt-get", "install", "-y", "htop"])
        if done.returncode != 0:
            return Subject("htop", reason=f"not available: apt-get: {_last_line(done.stderr)}")
        path = shutil.which("htop")
    if path is None:
        return Subject("htop", reason="not available: htop is not installed")
    version = _run([path, "--version"]).stdout.strip().splitlines()
    return Subject("htop", (path, "-d", "10"), version=version[0] if version else "")


def glances(install: bool) -> Subject:
    """glances at a 1 s refresh (`-t 1`), from its own venv in benchmarks/.cache."""
    exe = GLANCES_VENV / "bin" / "glances"
    if not exe.exists() and install:
        made = _run([sys.executable, "-m", "venv", "--clear", str(GLANCES_VENV)])
        if made.returncode != 0:
            return Subject("glances", reason=f"not available: venv: {_last_line(made.stderr)}")
        pip = _run([str(GLANCES_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "glances"])
        if pip.returncode != 0:
            return Subject("glances", reason=f"not available: pip: {_last_line(pip.stderr)}")
    if not exe.exists():
        return Subject("glances", reason="not available: not installed in benchmarks/.cache")
    version = _run([str(exe), "--version"]).stdout.strip().splitlines()
    return Subject(
        "glances",
        (str(exe), "-t", "1", "--disable-check-update"),
        version=version[0] if version else "",
        header=("PID", "USER"),
        panes=GLANCES_PANES,
    )


def discover(install: bool) -> list[Subject]:
    """perftop first, then the peers; `install` lets missing peers be installed."""
    return [perftop(), htop(install), glances(install), top()]
