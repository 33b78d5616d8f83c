"""What runs on the server now: pg_stat_activity with who blocks whom.

One cheap query per tick on the collector's own connection (perftop's own backend is left
out). Without pg_read_all_stats, other users' query texts read `<insufficient privilege>`:
those become `query=""`, `query_hidden=True`, and a notice names the missing role.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from .connect import Link, Target
from .queries import mask_sql, sql
from .samples import ActivitySample, Backend

HIDDEN = "<insufficient privilege>"


def activity_notice(user: str) -> str:
    return (
        f'role "{user}" is not a member of pg_read_all_stats (or pg_monitor): other users\' '
        "query texts, states and waits are hidden; grant pg_read_all_stats to see them"
    )


class ActivityCollector:
    """pg_stat_activity rows (source "pg.activity")."""

    source = "pg.activity"

    def __init__(self, target: Target, interval: float = 1.0) -> None:
        self.interval = interval
        self.link = Link(target, interval)

    async def close(self) -> None:
        await self.link.close()

    async def collect(self) -> ActivitySample:
        await self.link.connect()
        info = self.link.info
        assert info is not None
        major = info.version_num // 10000
        started = time.monotonic()
        rows = await self.link.fetch(sql("activity", "server", (major,)))
        now = (started + time.monotonic()) / 2
        backends = []
        hidden = False
        for r in rows:
            query = r["query"]
            query_hidden = query == HIDDEN
            hidden = hidden or query_hidden
            backends.append(
                Backend(
                    pid=r["pid"],
                    database=r["database"],
                    user=r["user"],
                    client=r["client"],
                    application=r["application"],
                    backend_type=r["backend_type"],
                    state=r["state"],
                    query_seconds=r["query_seconds"],
                    xact_seconds=r["xact_seconds"],
                    state_seconds=r["state_seconds"],
                    wait_event_type=r["wait_event_type"],
                    wait_event=r["wait_event"],
                    query="" if query_hidden else mask_sql(query),
                    query_hidden=query_hidden,
                    blocked_by=tuple(r["blocked_by"] or ()),
                )
            )
        notices = (activity_notice(info.user),) if not info.can_read_all_stats else ()
        return ActivitySample(time=now, backends=tuple(backends), notices=notices)

    def series(self, sample: object) -> Mapping[str, float]:
        if not isinstance(sample, ActivitySample):
            return {}
        client = [b for b in sample.backends if b.is_client]
        return {
            "pg.backends.active": float(sum(b.state == "active" for b in client)),
            "pg.backends.waiting": float(sum(bool(b.blocked_by) for b in client)),
        }


def blocking_tree(backends: Sequence[Backend]) -> list[tuple[Backend, int]]:
    """The backends involved in lock waits as a tree: each root blocker (blocking others,
    blocked by no one in the list) at depth 0 by pid, then whom it blocks, depth-first. A blocker
    that is itself blocked appears under its own blocker. A backend blocked by several
    appears under each. Cycles (a deadlock not yet detected) are shown once, starting from
    the lowest pid, and never loop."""
    by_pid = {b.pid: b for b in backends}
    blocks: dict[int, list[int]] = {}
    for b in backends:
        for blocker in b.blocked_by:
            if blocker in by_pid:
                blocks.setdefault(blocker, []).append(b.pid)
    for waiting in blocks.values():
        waiting.sort()
    # A backend waiting on a pid not in the list (a prepared transaction: pid 0) is a root.
    involved = set(blocks) | {b.pid for b in backends if b.blocked_by}
    roots = sorted(p for p in involved if not any(q in by_pid for q in by_pid[p].blocked_by))
    out: list[tuple[Backend, int]] = []
    placed: set[int] = set()

    def walk(pid: int, depth: int, path: frozenset[int]) -> None:
        out.append((by_pid[pid], depth))
        placed.add(pid)
        for child in blocks.get(pid, ()):
            if child not in path:
                walk(child, depth + 1, path | {child})

    for root in roots:
        walk(root, 0, frozenset((root,)))
    # What is left is blocked only inside a cycle: start each cycle at its lowest pid.
    for pid in sorted(involved - placed):
        if pid not in placed:
            walk(pid, 0, frozenset((pid,)))
    return out
