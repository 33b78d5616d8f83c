"""The statement windows' arithmetic: counter deltas between two reads of
pg_stat_statements, resets and re-created entries told apart, the windows kept (the last
interval, the last minute, the session), rates per statement, and perftop's own entries
split off. Pure: no connection, no clock but the reads' own times (statements.py reads).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from .samples import StatementKey, StatementRate

WINDOWS = ("interval", "minute", "session", "reset")
MINUTE = 60.0
DEPARTED_MIN = 100  # the session window keeps at least this many entries gone from the server

RawKey = tuple[int, int, int, bool]  # userid, dbid, queryid (0: hidden), toplevel
# calls, exec ms, plan ms, rows, shared hit, shared read, temp written, WAL bytes
Counters = tuple[float, float, float, float, float, float, float, float]
ZERO: Counters = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Read:
    """One read of the extension, as the delta logic needs it."""

    time: float  # monotonic
    counters: Mapping[RawKey, Counters]
    since: Mapping[RawKey, object]  # stats_since per entry (1.11+), else empty
    stats_reset: object | None  # pg_stat_statements_info.stats_reset (1.9+)
    hidden: bool = False  # some rows were other users' with no queryid


def add(a: Counters, b: Counters) -> Counters:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3],
            a[4] + b[4], a[5] + b[5], a[6] + b[6], a[7] + b[7])  # fmt: skip


def sub(a: Counters, b: Counters) -> Counters:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3],
            a[4] - b[4], a[5] - b[5], a[6] - b[6], a[7] - b[7])  # fmt: skip


def interval_deltas(before: Read, now: Read) -> dict[RawKey, Counters]:
    """Each entry's work between two reads of the same stats epoch; only entries that
    changed. New and re-created entries count from zero; no delta is ever negative."""
    deltas: dict[RawKey, Counters] = {}
    old = before.counters
    if old is now.counters:
        return deltas  # a quiet tick: the previous read's counters, unchanged by definition
    for key, counters in now.counters.items():
        prior = old.get(key)
        if prior is None:
            delta = counters  # created since the previous read: all of it is new work
        elif prior == counters:
            continue
        else:
            delta = sub(counters, prior)
            recreated = now.since and now.since.get(key) != before.since.get(key)
            if recreated or min(delta) < 0:
                if key[2] == 0:
                    continue  # a sum of hidden entries lost one: this interval is unknown
                delta = counters  # evicted and re-created: it restarted from zero
        if delta != ZERO:
            deltas[key] = delta
    return deltas


def looks_reset(before: Read, now: Read) -> bool:
    """Whether everything was reset between two reads."""
    if now.stats_reset is not None or before.stats_reset is not None:
        return now.stats_reset != before.stats_reset
    # Before 1.9 nothing records a reset: most of the surviving entries went down at once.
    common = [k for k in now.counters if k in before.counters]
    if not common:
        return bool(before.counters) and bool(now.counters)
    down = sum(now.counters[k][0] < before.counters[k][0] for k in common)
    return down * 2 > len(common)


class Text(NamedTuple):
    """One statement's text: as the server holds it, as it is shown, and whose it is."""

    raw: str  # exactly as pg_stat_statements holds it (for EXPLAIN; never shown)
    shown: str  # secret values masked (`raw` itself when nothing was masked)
    own: bool  # one perftop sends (`queries.is_own`)


@dataclass(frozen=True, slots=True)
class Interval:
    start: float
    end: float
    deltas: Mapping[RawKey, Counters]


class Windows:
    """Interval deltas accumulated into the four windows. Pure: fed `Read`s, no I/O."""

    def __init__(self, minute: float = MINUTE) -> None:
        self.minute = minute
        self.last: Read | None = None
        self.intervals: deque[Interval] = deque()
        self.session: dict[RawKey, Counters] = {}
        self.session_seconds = 0.0

    def rebase(self) -> None:
        """Forget the previous read: the next one is a baseline (after a gap or a reset)."""
        self.last = None

    def feed(self, read: Read) -> Interval | None:
        """Add a read; return the interval it closes (None for a baseline)."""
        before, self.last = self.last, read
        if before is None:
            return None
        interval = Interval(before.time, read.time, interval_deltas(before, read))
        self.intervals.append(interval)
        while self.intervals and self.intervals[0].start < read.time - self.minute - 1e-9:
            self.intervals.popleft()
        for key, delta in interval.deltas.items():
            prior = self.session.get(key)
            self.session[key] = delta if prior is None else add(prior, delta)
        self.session_seconds += interval.end - interval.start
        return interval

    def bound(self, present: Mapping[RawKey, object], departed_min: int = DEPARTED_MIN) -> None:
        """Keep the session window to what can still be shown: every entry in `present` (the
        last read) and as many departed ones (reset, evicted) again, at least `departed_min`;
        the departed with the least execution time are dropped first."""
        limit = max(len(present), departed_min)
        departed = [k for k in self.session if k not in present]
        if len(departed) <= limit:
            return
        departed.sort(key=lambda k: self.session[k][1])
        for key in departed[: len(departed) - limit]:
            del self.session[key]

    def window(self, name: str) -> tuple[float, Mapping[RawKey, Counters]]:
        """(measured seconds, per-entry work) for "interval", "minute" or "session"."""
        if name == "interval":
            if not self.intervals or self.last is None or self.intervals[-1].end != self.last.time:
                return 0.0, {}
            last = self.intervals[-1]
            return last.end - last.start, last.deltas
        if name == "minute":
            total: dict[RawKey, Counters] = {}
            for interval in self.intervals:
                for key, delta in interval.deltas.items():
                    prior = total.get(key)
                    total[key] = delta if prior is None else add(prior, delta)
            return sum(i.end - i.start for i in self.intervals), total
        if name == "session":
            return self.session_seconds, self.session
        raise ValueError(f"unknown window {name!r}")


def rates(
    seconds: float,
    work: Mapping[RawKey, Counters],
    cumulative: Mapping[RawKey, Counters],
    users: Mapping[int, str],
    databases: Mapping[int, str],
    texts: Mapping[int, Text],
) -> tuple[tuple[StatementRate, ...], float]:
    """StatementRates for every entry with work in the window, and the top-level ms/s."""
    top_ms = sum(w[1] for k, w in work.items() if k[3])
    per_s = 1.0 / seconds if seconds > 0 else 0.0
    out = []
    for key, w in work.items():
        calls, ms = w[0], w[1]
        if calls <= 0 and ms <= 0:
            continue
        c = cumulative.get(key, w)
        blocks = w[4] + w[5]
        text = texts.get(key[2])
        out.append(
            StatementRate(
                key=StatementKey(key[0], key[1], key[2], key[3]),
                user=users.get(key[0], str(key[0])),
                database=databases.get(key[1], str(key[1])),
                query=text.shown if text is not None else "",
                query_hidden=key[2] == 0,
                seconds=seconds,
                calls=int(calls),
                calls_per_s=calls * per_s,
                total_ms=ms,
                ms_per_s=ms * per_s,
                share=100.0 * ms / top_ms if top_ms > 0 else 0.0,
                mean_ms=ms / calls if calls > 0 else 0.0,
                mean_ms_overall=c[1] / c[0] if c[0] > 0 else 0.0,
                rows_per_s=w[3] * per_s,
                hit_percent=100.0 * w[4] / blocks if blocks > 0 else None,
                blks_read_per_s=w[5] * per_s,
                temp_written_per_s=w[6] * per_s,
                wal_bytes_per_s=w[7] * per_s,
                plan_ms=w[2],
                raw_query=None if text is None or text.raw is text.shown else text.raw,
            )
        )
    return tuple(out), top_ms * per_s


def is_own_key(key: RawKey, user: int | None, own: set[int]) -> bool:
    """Whether an entry is perftop's: run by perftop's role (oid `user`), with a text
    perftop sends (queryid in `own`)."""
    return key[0] == user and key[2] in own


def split_own(
    work: Mapping[RawKey, Counters], user: int | None, own: set[int]
) -> tuple[dict[RawKey, Counters], dict[RawKey, Counters]]:
    """(the server's other work, perftop's own work)."""
    others: dict[RawKey, Counters] = {}
    mine: dict[RawKey, Counters] = {}
    for key, w in work.items():
        (mine if is_own_key(key, user, own) else others)[key] = w
    return others, mine


def own_deltas(before: Read, now: Read, user: int | None, own: set[int]) -> dict[RawKey, Counters]:
    """perftop's own entries' work between two full reads (a re-created one from zero)."""
    deltas: dict[RawKey, Counters] = {}
    for key, counters in now.counters.items():
        if not is_own_key(key, user, own):
            continue
        prior = before.counters.get(key)
        delta = counters if prior is None else sub(counters, prior)
        if min(delta) < 0:
            delta = counters
        if delta != ZERO:
            deltas[key] = delta
    return deltas
