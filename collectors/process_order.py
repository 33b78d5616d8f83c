"""The process table's orders: by one column (`sort_rows`), or as a tree (`tree_order`).

Pure functions of the rows a scan returned (collectors/processes.py), kept apart from the
scan: the table, the snapshot and the tests order rows without scanning anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from .samples import ProcessRow


def _pid(row: ProcessRow) -> int:
    return row.pid


# Sorting ------------------------------------------------------------------------------

_SORT_KEYS: dict[str, Callable[[ProcessRow], Any]] = {
    "pid": lambda r: r.pid,
    "user": lambda r: r.user,
    "cpu": lambda r: r.cpu_percent,
    "mem": lambda r: r.mem_percent,
    "rss": lambda r: r.rss,
    # Unreadable I/O (None) sorts below every number, zero included.
    "read": lambda r: (0, 0.0) if r.read_bytes_per_s is None else (1, r.read_bytes_per_s),
    "write": lambda r: (0, 0.0) if r.write_bytes_per_s is None else (1, r.write_bytes_per_s),
    "threads": lambda r: r.threads,
    "state": lambda r: r.state,
    "time": lambda r: r.cpu_time,
    "nice": lambda r: r.nice,
    "command": lambda r: r.cmdline,
}

SORT_KEYS: tuple[str, ...] = tuple(_SORT_KEYS)
"""The names `sort_rows` and `tree_order` accept."""


def sort_rows(rows: Iterable[ProcessRow], key: str, reverse: bool = False) -> list[ProcessRow]:
    """Rows ordered by one of `SORT_KEYS`; ties stay in pid order whatever the direction.

    Raises ValueError for an unknown key.
    """
    try:
        keyfunc = _SORT_KEYS[key]
    except KeyError:
        raise ValueError(f"unknown sort key {key!r}; one of {', '.join(SORT_KEYS)}") from None
    # Python's sort is stable even with reverse=True, so pre-ordering by pid fixes ties.
    return sorted(sorted(rows, key=_pid), key=keyfunc, reverse=reverse)


# The tree view --------------------------------------------------------------------------


class TreeLine(NamedTuple):
    """One line of the tree view: the row, its depth, and the guide to draw before it."""

    row: ProcessRow
    depth: int
    prefix: str  # e.g. "│  ├─ "; empty at the root


def tree_order(
    rows: Sequence[ProcessRow], key: str = "pid", reverse: bool = False
) -> list[TreeLine]:
    """Rows as a process tree: each child right under its parent, siblings sorted by `key`.

    A row whose parent is not among `rows` (pid 1's parent 0, a filtered-out parent, an
    orphan) is a root. Every row appears exactly once, even if bad data makes a cycle.
    """
    ordered = sort_rows(rows, key, reverse)
    present = {r.pid for r in ordered}
    children: dict[int, list[ProcessRow]] = {}
    roots: list[ProcessRow] = []
    for r in ordered:
        if r.ppid != r.pid and r.ppid in present:
            children.setdefault(r.ppid, []).append(r)
        else:
            roots.append(r)
    out: list[TreeLine] = []
    seen: set[int] = set()

    def walk(start: ProcessRow) -> None:
        # Iterative, so a deep chain of processes cannot hit the recursion limit.
        stack: list[tuple[ProcessRow, int, str, str]] = [(start, 0, "", "")]
        while stack:
            row, depth, guide, branch = stack.pop()
            if row.pid in seen:
                continue
            seen.add(row.pid)
            out.append(TreeLine(row, depth, guide + branch))
            kids = [k for k in children.get(row.pid, ()) if k.pid not in seen]
            below = guide + ("" if depth == 0 else ("   " if branch == "└─ " else "│  "))
            for i in range(len(kids) - 1, -1, -1):
                last = i == len(kids) - 1
                stack.append((kids[i], depth + 1, below, "└─ " if last else "├─ "))

    for root in roots:
        walk(root)
    # Rows only reachable through a cycle (impossible in a live /proc, possible in replayed
    # or hand-made data) would be lost; show them as roots instead.
    for r in ordered:
        if r.pid not in seen:
            walk(r)
    return out
