"""The statements costing the server time now: deltas of pg_stat_statements.

Each tick reads the cumulative counters of every entry (`showtext := false`: no texts),
and turns them into figures over a window:

- "interval": since the previous read, divided by the time measured between the two reads
  (the midpoint of each query's round trip, by the monotonic clock), never the nominal
  interval;
- "minute": the sum of the intervals of the last 60 seconds;
- "session": the sum of every interval since perftop started (gaps excluded);
- "reset": the cumulative counters over the time since the server's stats reset.

The first read is a baseline: nothing has a rate yet, whatever its lifetime totals. After
it, an entry that was not there at the previous read was created since (a new statement,
or one evicted and re-created), so its counters are its work within the interval; an entry
whose counters went down (or whose `stats_since` moved, 1.11+) was re-created and counts
the same way. Nothing ever has a negative rate. A reset of everything
(`pg_stat_statements_info.stats_reset` moved; before 1.9, most counters going down at once)
and a reconnection both start over from a new baseline and say so in `notices`.

Keys are (userid, dbid, queryid, toplevel). Without pg_read_all_stats the extension hides
other users' queryids: their rows are summed per (user, database, toplevel) under
queryid 0 with `query_hidden`. With `pg_stat_statements.track = all` nested statements are
entries of their own, and their time is also inside their caller's: the share of time and
the totals count top-level entries only.

Texts are fetched separately, only for queryids that show up in a sample and are not cached
yet (reading texts loads the extension's whole text file on the server). A text is kept as
the server holds it (`StatementRate.server_text`, for EXPLAIN) and as it is shown, secret
values masked (`StatementRate.query`).

perftop's own statements: an entry is perftop's when it was run by perftop's role and its
text is exactly one perftop sends (`queries.is_own`: the whole text, the way the server
normalises it; a client that starts its SQL with perftop's `-- perftop:` comment is not
perftop). pg_stat_statements has no pid, so this is the most that can be told from it;
pg_stat_activity.query_id (14+) would name only the statement each backend runs now or ran
last, and perftop's own backend is always running the check itself when it looks. Those
entries are left out of the rows, shares and totals and measured apart (`own_ms_per_s`,
`own_calls_per_s`, `own_statements`): perftop's cost stays visible and never ranks among
the server's work.

What is kept stays bounded by what can still be shown: the session window keeps every
entry of the last read and as many departed ones again (those with the least time go
first), and texts, texts the server did not have, and perftop's own queryids are kept only
for entries the last read or the session window still holds.

Cheap when the server is quiet: each tick first asks pg_stat_activity, in the same round
trip as pg_stat_statements_info, whether anything but perftop (its backends, by pid) may
have completed a statement since the previous check (`sql/quiet.*.sql`: ~0.05 ms on the
server, where reading 5,000 entries costs ~17 ms). When nothing did, the tick does not read
pg_stat_statements: the others' counters are the previous read's (their interval figures
are exactly zero), and the sample says `quiet`. Whenever something may have run, the tick
reads everything, so the figures stay exact. A full read happens at least every
`full_every` seconds even when quiet, to measure perftop's own load; in the "interval"
window the own figures cover the time between the last two full reads (`own_seconds`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import asyncpg

from ..base import CollectorError
from .connect import INFO_RECHECK, Link, Target, missing_extension, own_backends
from .queries import is_own, joined, mask_sql, parse_version, sql
from .samples import ServerInfo, StatementKey, StatementsSample
from .windows import (
    WINDOWS,
    ZERO,
    Counters,
    Interval,
    RawKey,
    Read,
    Text,
    Windows,
    add,
    is_own_key,
    looks_reset,
    own_deltas,
    rates,
    split_own,
)

TEXT_RETRY = 60.0  # seconds before asking again for a text the server did not have
FULL_EVERY = 10.0  # seconds: read pg_stat_statements at least this often, for the own figures


def hidden_notice(info: ServerInfo) -> str:
    return (
        f'role "{info.user}" is not a member of pg_read_all_stats (or pg_monitor): other '
        "users' statement texts and queryids are hidden; grant pg_read_all_stats to see them"
    )


class StatementsCollector:
    """pg_stat_statements as figures over a chosen window (source "pg.statements")."""

    source = "pg.statements"
    retry_ceiling = INFO_RECHECK  # a missing extension is looked for again this often

    def __init__(
        self,
        target: Target,
        interval: float = 1.0,
        window: str = "interval",
        full_every: float = FULL_EVERY,
    ) -> None:
        self.interval = interval
        self.full_every = full_every
        self.link = Link(target, interval)
        self.window = window
        self.watch: StatementKey | None = None
        self.text_queries = 0  # how many times texts were fetched (tests, benchmarks)
        self.full_reads = 0  # how many ticks read pg_stat_statements (tests, benchmarks)
        self._own: set[int] = set()  # queryids whose text is one perftop sends
        self._checked_at: object | None = None  # server time of the previous quiet check
        self._signature: tuple[object, object] | None = None  # (backends, sessions) then
        self._last_full: Read | None = None
        self._full_at = 0.0  # monotonic time of the last full read
        self._own_span: tuple[float, Mapping[RawKey, Counters]] = (0.0, {})
        self._windows = Windows()
        self._texts: dict[int, Text] = {}
        # queryids whose text came from a nested entry only: inside an EXPLAIN, a DO block or
        # a function, the server may keep the caller's whole text for it. Fetched again once
        # the statement runs at top level, whose text is its own.
        self._nested_text: set[int] = set()
        self._no_text: dict[int, float] = {}  # queryid → when the server had no text for it
        self._users: dict[int, str] = {}
        self._databases: dict[int, str] = {}
        self._generation = 0
        self._dealloc: int | None = None
        self._notified_password = False
        self._series: tuple[StatementsSample | None, dict[str, float]] = (None, {})

    @property
    def window(self) -> str:
        return self._window

    @window.setter
    def window(self, name: str) -> None:
        if name not in WINDOWS:
            raise ValueError(f"window must be one of {', '.join(WINDOWS)}, not {name!r}")
        self._window = name

    @property
    def info(self) -> ServerInfo | None:
        return self.link.info

    async def close(self) -> None:
        await self.link.close()

    async def _fetch(self, query: str, *args: object) -> tuple[float, list[asyncpg.Record]]:
        started = time.monotonic()
        rows = await self.link.fetch(query, *args)
        return (started + time.monotonic()) / 2, rows

    async def collect(self) -> StatementsSample:
        await self.link.connect()
        info = self.link.info
        assert info is not None
        notices: list[str] = []
        if self.link.target.notice and not self._notified_password:
            notices.append(self.link.target.notice)
            self._notified_password = True
        if (info.pgss_version is None or not info.pgss_preloaded) and self.link.info_due():
            info = await self.link.reread_info()  # created or loaded since it was read?
        if info.pgss_version is None or not info.pgss_preloaded:
            raise CollectorError(missing_extension(info, self.link.preload))
        version = parse_version(info.pgss_version)
        if self.link.generation != self._generation:
            if self._generation and self.link.lost_at is not None:
                gap = time.monotonic() - self.link.lost_at
                notices.append(
                    f"reconnected after {gap:.0f} s without data: no rates across the gap"
                )
            self._generation = self.link.generation
            self.link.lost_at = None
            self._rebase()
        check = joined(
            "pg_stat_statements_info and the quiet check, in one round trip",
            sql("info", "pgss", version),
            sql("quiet", "server", (info.version_num // 10000,)),
        )
        try:
            mine = list(own_backends(self.link.target))
            checked, info_rows = await self._fetch(check, self._checked_at, mine)
            meta = info_rows[0]
            last = self._windows.last
            signature = (meta["backends"], meta["sessions"])
            full = (
                last is None
                or meta["busy"]
                or signature != self._signature
                or meta["stats_reset"] != last.stats_reset
                or meta["dealloc"] != self._dealloc
                or time.monotonic() - self._full_at >= self.full_every
            )
            if full:
                now, rows = await self._fetch(sql("statements", "pgss", version))
        except CollectorError as exc:
            if "shared_preload_libraries" in str(exc):
                raise CollectorError(missing_extension(info, self.link.preload)) from None
            raise
        # Only now that the read succeeded may the next check start from this one.
        self._checked_at, self._signature = meta["checked_at"], signature
        if full:
            read = self._read(now, rows, meta["stats_reset"])
            self.full_reads += 1
            self._full_at = time.monotonic()
        else:
            assert last is not None
            now = checked
            read = Read(now, last.counters, last.since, last.stats_reset, last.hidden)
        before = self._windows.last
        if before is not None and looks_reset(before, read):
            notices.append("pg_stat_statements was reset on the server: figures start over")
            self._rebase()
            reset_seen = True
        else:
            reset_seen = False
        dealloc = meta["dealloc"]
        if self._dealloc is not None and dealloc is not None and dealloc > self._dealloc:
            notices.append(
                f"{dealloc - self._dealloc} entries were evicted since the previous read "
                "(raise pg_stat_statements.max): their figures restart"
            )
        self._dealloc = dealloc
        interval = self._windows.feed(read)
        if full:
            self._bound(read)
        if not info.can_read_all_stats:
            notices.append(hidden_notice(info))

        if self.window == "reset":
            started = meta["stats_reset"] or meta["server_start"]
            seconds = max(0.0, (meta["now"] - started).total_seconds())
            work: Mapping[RawKey, Counters] = read.counters
            if meta["stats_reset"] is None:
                notices.append(
                    f"pg_stat_statements {info.pgss_version} does not record its last reset: "
                    "counting from the server's start"
                )
        else:
            seconds, work = self._windows.window(self.window)
        await self._names(k for k in work)
        await self._fetch_texts(k for k, w in work.items() if w[0] > 0 or w[1] > 0)
        user = self._own_user()
        if full:
            prior_full, self._last_full = self._last_full, read
            if prior_full is not None:
                span = read.time - prior_full.time
                self._own_span = (span, own_deltas(prior_full, read, user, self._own))
        others, own_work_now = split_own(work, user, self._own)
        names = (self._users, self._databases, self._texts)
        statements, total = rates(seconds, others, read.counters, *names)
        own_seconds, own_work = self._own_span
        if self.window != "interval":
            own_seconds, own_work = seconds, own_work_now
        own_statements, own_total = rates(own_seconds, own_work, read.counters, *names)
        own_calls = sum(w[0] for k, w in own_work.items() if k[3])
        sample = StatementsSample(
            time=now,
            window=self.window,
            seconds=seconds,
            statements=statements,
            total_ms_per_s=total,
            reset_seen=reset_seen,
            dealloc=dealloc,
            notices=tuple(notices),
            own_ms_per_s=own_total,
            own_calls_per_s=own_calls / own_seconds if own_seconds > 0 else 0.0,
            own_seconds=own_seconds,
            own_statements=own_statements,
            quiet=not full,
        )
        self._series = (sample, self._interval_series(interval, full))
        return sample

    def _own_user(self) -> int | None:
        """The oid of perftop's role (None until the role names are read)."""
        info = self.link.info
        if info is None:
            return None
        return next((oid for oid, name in self._users.items() if name == info.user), None)

    def _bound(self, read: Read) -> None:
        """Forget what can no longer be shown (after a full read): the session window is cut
        to its bound, then texts, missing texts and own queryids follow the entries kept."""
        self._windows.bound(read.counters)
        keep = {k[2] for k in read.counters}
        keep.update(k[2] for k in self._windows.session)
        if len(self._texts) > len(keep):
            self._texts = {q: t for q, t in self._texts.items() if q in keep}
            self._own &= keep
            self._nested_text &= keep
        if len(self._no_text) > len(keep):
            self._no_text = {q: t for q, t in self._no_text.items() if q in keep}

    def _rebase(self) -> None:
        """Start over from the next read (after a gap or a reset): no rates, no own span."""
        self._windows.rebase()
        self._checked_at = None
        self._last_full = None
        self._own_span = (0.0, {})

    def _read(self, now: float, rows: list[asyncpg.Record], stats_reset: object) -> Read:
        counters: dict[RawKey, Counters] = {}
        since: dict[RawKey, object] = {}
        hidden = False
        for r in rows:
            queryid = r[2]
            if queryid is None:
                hidden = True
                queryid = 0
            key = (r[0], r[1], queryid, r[3])
            values: Counters = tuple(r[4])  # 8 floats, in this order, by the SQL
            if queryid == 0 and key in counters:
                values = add(counters[key], values)
            counters[key] = values
            if r[5] is not None:
                since[key] = r[5]
        return Read(now, counters, since, stats_reset, hidden)

    async def _names(self, keys: Iterable[RawKey]) -> None:
        missing = any(k[0] not in self._users or k[1] not in self._databases for k in keys)
        if not missing:
            return
        for kind, oid, name in await self.link.fetch(sql("names")):
            (self._users if kind == "u" else self._databases)[oid] = name

    async def _fetch_texts(self, keys: Iterable[RawKey]) -> None:
        now = time.monotonic()
        wanted = {
            k[2]
            for k in keys
            if k[2] != 0
            and (k[2] not in self._texts or (k[3] and k[2] in self._nested_text))
            and now - self._no_text.get(k[2], now - TEXT_RETRY) >= TEXT_RETRY
        }
        if not wanted:
            return
        info = self.link.info
        assert info is not None and info.pgss_version is not None
        query = sql("texts", "pgss", parse_version(info.pgss_version))
        self.text_queries += 1
        rows = await self.link.fetch(query, list(wanted))
        for queryid, raw, toplevel in rows:
            own = is_own(raw)
            self._texts[queryid] = Text(raw, mask_sql(raw), own)
            if own:
                self._own.add(queryid)
            else:
                self._own.discard(queryid)
            if toplevel:
                self._nested_text.discard(queryid)
            else:
                self._nested_text.add(queryid)
            self._no_text.pop(queryid, None)
            wanted.discard(queryid)
        for queryid in wanted:
            self._no_text[queryid] = now

    def _interval_series(self, interval: Interval | None, full: bool) -> dict[str, float]:
        if interval is None:
            return {}  # a baseline: no point (a gap in the history rather than a false 0)
        seconds = interval.end - interval.start
        if seconds <= 0:
            return {}
        user, own = self._own_user(), self._own
        top = [d for k, d in interval.deltas.items() if k[3] and not is_own_key(k, user, own)]
        series = {
            "pg.ms_per_s": sum(d[1] for d in top) / seconds,
            "pg.calls_per_s": sum(d[0] for d in top) / seconds,
        }
        span, own_work = self._own_span
        if full and span > 0:  # a point per measurement, not a copy per quiet tick
            series["pg.own.ms_per_s"] = sum(d[1] for k, d in own_work.items() if k[3]) / span
        watch = self.watch
        if watch is not None:
            key = (watch.userid, watch.dbid, watch.queryid, watch.toplevel)
            d = interval.deltas.get(key, ZERO)
            series["pg.watch.ms_per_s"] = d[1] / seconds
            series["pg.watch.calls_per_s"] = d[0] / seconds
            series["pg.watch.mean_ms"] = d[1] / d[0] if d[0] > 0 else 0.0
            series["pg.watch.rows_per_s"] = d[3] / seconds
        return series

    def series(self, sample: object) -> Mapping[str, float]:
        """Per-interval totals (and the watched statement's), whatever the window."""
        latest, series = self._series
        return series if sample is latest else {}
