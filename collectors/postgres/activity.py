"""What runs on the server now: pg_stat_activity with who blocks whom.

One cheap query per tick on the collector's own connection (perftop's own backend is left
out; perftop's other connections go to `ActivitySample.own`, known by their backend pids:
a client that calls itself "perftop" is a client like any other). Without pg_read_all_stats, other
users' query texts read `<insufficient privilege>`: those become `query=""`,
`query_hidden=True`, and a notice names the missing role.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from .connect import Link, Target, own_backends
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
        # pid → (query, masked) of the previous tick: an idle backend shows the same last
        # query tick after tick, and masking a text with secret-looking words costs ~0.6 ms
        # per KB. Rebuilt every tick, so it holds only the backends of the last read.
        self._masked: dict[int, tuple[str, str]] = {}

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
        mine = set(own_backends(self.link.target))
        masked: dict[int, tuple[str, str]] = {}
        backends: list[Backend] = []
        own: list[Backend] = []
        hidden = False
        for r in rows:
            query = r["query"]
            query_hidden = query == HIDDEN
            hidden = hidden or query_hidden
            if not query_hidden:
                before = self._masked.get(r["pid"])
                masked[r["pid"]] = (
                    before if before and before[0] == query else (query, mask_sql(query))
                )
            (own if r["pid"] in mine else backends).append(
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
                    query="" if query_hidden else masked[r["pid"]][1],
                    query_hidden=query_hidden,
                    blocked_by=tuple(r["blocked_by"] or ()),
                )
            )
        self._masked = masked
        notices = (activity_notice(info.user),) if not info.can_read_all_stats else ()
        return ActivitySample(time=now, backends=tuple(backends), notices=notices, own=tuple(own))

    def series(self, sample: object) -> Mapping[str, float]:
        if not isinstance(sample, ActivitySample):
            return {}
        client = [b for b in sample.backends if b.is_client]
        return {
            "pg.backends.active": float(sum(b.state == "active" for b in client)),
            "pg.backends.waiting": float(sum(bool(b.blocked_by) for b in client)),
        }


def blocking_tree(backends: Iterable[Backend]) -> tuple[tuple[Backend, int], ...]:
    """The backends involved in lock waits as trees, each backend once: (backend, depth).

    Root blockers (blocking others or waiting, but on nobody in the list) come first, each
    followed depth first by the backends it blocks, in the order given. A backend blocked by
    several is shown once, under the first of them that is listed: `pg_blocking_pids` also
    names the waiters ahead in a lock queue, so on a hot row each of N waiters is blocked by
    all the earlier ones, and showing every path would take 2^N lines. Members of a cycle (a
    deadlock before the server breaks it) start at the first one met; nothing loops.
    """
    backends = tuple(backends)
    by_pid = {b.pid: b for b in backends}
    children: dict[int, list[Backend]] = {}
    parent: dict[int, int] = {}
    for b in backends:
        blockers = [pid for pid in b.blocked_by if pid in by_pid and pid != b.pid]
        if blockers:
            parent[b.pid] = blockers[0]
            children.setdefault(blockers[0], []).append(b)
    involved = [b for b in backends if b.pid in children or b.blocked_by]
    order: list[tuple[Backend, int]] = []
    seen: set[int] = set()

    def walk(root: Backend) -> None:
        stack = [(root, 0)]  # a loop, not recursion: a chain may be thousands deep
        while stack:
            backend, depth = stack.pop()
            if backend.pid in seen:
                continue
            seen.add(backend.pid)
            order.append((backend, depth))
            stack.extend((c, depth + 1) for c in reversed(children.get(backend.pid, ())))

    for b in involved:
        if b.pid not in parent:
            walk(b)
    for b in involved:  # what is left waits inside a cycle
        if b.pid not in seen:
            walk(b)
    return tuple(order)
