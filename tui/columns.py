"""The process table's columns: which there are, how wide, how each cell is written.

Columns have fixed widths, as in htop. When the window is too narrow for COMMAND to keep
`MIN_COMMAND` cells, whole columns hide in this order: READ/s and WRITE/s (together), NI,
THR, TIME+, RES. At 80 columns that leaves PID USER CPU% MEM% RES S TIME+ COMMAND; PID,
USER, CPU%, MEM%, S and COMMAND never hide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size

from ..collectors.samples import ProcessRow
from .text import neutralise

MIN_COMMAND = 30
"""Cells COMMAND keeps before other columns start to hide."""

# Text-like keys read best A to Z; every number reads best biggest first.
ASCENDING_KEYS = frozenset(("pid", "user", "command", "state"))

# CPU % of one core above which the figure is drawn as a warning, and as an error.
CPU_WARNING = 50.0
CPU_ERROR = 90.0


@dataclass(frozen=True, slots=True)
class Column:
    """One fixed-width column of the table."""

    key: str  # the sort key it stands for
    label: str
    width: int
    right: bool  # numbers are right-aligned


COLUMNS: tuple[Column, ...] = (
    Column("pid", "PID", 7, True),
    Column("user", "USER", 8, False),
    Column("cpu", "CPU%", 5, True),
    Column("mem", "MEM%", 5, True),
    Column("rss", "RES", 6, True),
    Column("read", "READ/s", 7, True),
    Column("write", "WRITE/s", 8, True),
    Column("threads", "THR", 4, True),
    Column("state", "S", 2, False),
    Column("time", "TIME+", 9, True),
    Column("nice", "NI", 3, True),
)
COMMAND = Column("command", "COMMAND", 0, False)

# Which columns give way first when the window is narrow (see the module docstring).
HIDE_ORDER: tuple[frozenset[str], ...] = (
    frozenset(("read", "write")),
    frozenset(("nice",)),
    frozenset(("threads",)),
    frozenset(("time",)),
    frozenset(("rss",)),
)


def layout(width: int) -> tuple[tuple[Column, int], ...]:
    """The columns shown at `width` cells, each with its x, COMMAND last (width: the rest)."""
    shown = list(COLUMNS)
    for group in HIDE_ORDER:
        if width - sum(c.width + 1 for c in shown) >= MIN_COMMAND:
            break
        shown = [c for c in shown if c.key not in group]
    placed: list[tuple[Column, int]] = []
    x = 0
    for column in shown:
        placed.append((column, x))
        x += column.width + 1
    placed.append((Column("command", COMMAND.label, max(0, width - x), False), x))
    return tuple(placed)


def human_bytes(value: float | None) -> str:
    """Bytes as htop shows them: 512K, 12.3M, 1.2G; blank for None (unreadable)."""
    if value is None:
        return ""
    if value < 1000:
        return f"{value:.0f}B" if value >= 0.5 else "0"
    value /= 1024
    if value < 1000:
        return f"{value:.0f}K"
    for unit in "MGTP":
        value /= 1024
        if value < 100:
            return f"{value:.1f}{unit}"
        if value < 1000 or unit == "P":
            return f"{value:.0f}{unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def cpu_time_text(seconds: float) -> str:
    """CPU time as htop's TIME+: 1:02.33 (m:ss.cc), 12h03:10 (after an hour), 123h."""
    centis = int(max(0.0, seconds) * 100)
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6_000)
    secs, centis = divmod(rest, 100)
    if hours == 0:
        return f"{minutes}:{secs:02d}.{centis:02d}"
    if hours < 100:
        return f"{hours}h{minutes:02d}:{secs:02d}"
    return f"{hours}h"


def percent_text(value: float) -> str:
    """A percentage in five cells (1,600 % on a 16-core machine still fits)."""
    return f"{value:.1f}" if value < 999.95 else f"{value:.0f}"


def user_text(user: str, width: int = 8) -> str:
    """A user name cut to `width` cells, with htop's `+` when cut."""
    user = neutralise(user)
    return user if cell_len(user) <= width else set_cell_size(user, width - 1) + "+"


CELLS: dict[str, Callable[[ProcessRow], str]] = {
    "pid": lambda r: str(r.pid),
    "user": lambda r: user_text(r.user),
    "cpu": lambda r: percent_text(r.cpu_percent),
    "mem": lambda r: percent_text(r.mem_percent),
    "rss": lambda r: human_bytes(r.rss),
    "read": lambda r: human_bytes(r.read_bytes_per_s),
    "write": lambda r: human_bytes(r.write_bytes_per_s),
    "threads": lambda r: str(r.threads),
    "state": lambda r: neutralise(r.state)[:1],
    "time": lambda r: cpu_time_text(r.cpu_time),
    "nice": lambda r: str(r.nice),
}
"""The text of every column but COMMAND (which has its guides and styles)."""


def program_first(command: str) -> tuple[str, str, str]:
    """(program, arguments, directory) of a command line, so the program's name can lead.

    A full path hides what runs (`/root/.pyenv/versions/3.11.7/bin/python3 burner.py` and
    `… -m perftop` both cut to the same prefix), so the table shows the name, then the
    arguments (starting with their space), then where the program lives if there is room:

    >>> program_first("/usr/bin/python3 -m http.server")
    ('python3', ' -m http.server', '/usr/bin/')
    >>> program_first("postgres: checkpointer")
    ('postgres:', ' checkpointer', '')

    Only a first word that is a path (`/…`, `./…`, `../…`, `~/…`) is split; any other
    slash is part of a name or a title a process gave itself.
    """
    head, space, arguments = command.partition(" ")
    directory, slash, name = head.rpartition("/")
    if not name or not head.startswith(("/", "./", "../", "~/")):
        return head, space + arguments, ""
    return name, space + arguments, directory + slash


def cell_class(key: str, row: ProcessRow) -> str:
    """The component class that colours a cell, or "" for the plain style."""
    if key == "cpu":
        if row.cpu_percent >= CPU_ERROR:
            return "process-table--cpu-hot"
        return "process-table--cpu-high" if row.cpu_percent >= CPU_WARNING else ""
    if key == "state":
        if row.state == "R":
            return "process-table--running"
        return "process-table--stuck" if row.state in ("D", "Z") else ""
    return ""


def matches(row: ProcessRow, needle: str) -> bool:
    return (
        needle in str(row.pid)
        or needle in row.user.casefold()
        or needle in row.name.casefold()
        or needle in row.cmdline.casefold()
    )
