"""perftop's own load on the server: recognised, kept out of the table, measured apart, and
kept small by quiet ticks that do not read pg_stat_statements, without losing exactness.

A cluster of its own, with autovacuum off: a quiet tick is one where no other backend did
anything, and an autovacuum worker starting in the shared cluster would (rightly) make a
tick busy at a random moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from importlib import resources

import asyncpg
import pytest

from perftop.collectors.postgres import queries
from perftop.collectors.postgres.activity import ActivityCollector
from perftop.collectors.postgres.connect import resolve_target
from perftop.collectors.postgres.samples import StatementsSample
from perftop.collectors.postgres.statements import StatementsCollector
from perftop.collectors.postgres.windows import DEPARTED_MIN

from .pg_cluster import PgCluster, find_bindir, throwaway_cluster
from .support import run

READ_TEXT = "-- perftop: pg_stat_statements 1.9 and 1.10"  # the per-tick read on PostgreSQL 15


@pytest.fixture(scope="module")
def quiet_cluster(pg_cluster: PgCluster) -> Iterator[PgCluster]:
    """A server nobody else uses (pg_cluster first: it decides skip or fail without binaries)."""
    find_bindir()
    with throwaway_cluster(extra_config="autovacuum = off\n") as cluster:
        cluster.psql("CREATE TABLE work(n int); INSERT INTO work SELECT generate_series(1, 50)")
        yield cluster


def work(n: int) -> str:
    return f"SELECT count(*) FROM work WHERE n <> {n}"


def calls_of(sample: StatementsSample, needle: str) -> int:
    return sum(s.calls for s in sample.statements if needle in s.query)


async def server_calls(dsn: str, prefix: str) -> int:
    """What pg_stat_statements itself says: calls of the entries whose text starts so."""
    conn = await asyncpg.connect(dsn)
    try:
        value = await conn.fetchval(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE starts_with(query, $1)",
            prefix,
        )
    finally:
        await conn.close()
    return int(value)


async def warm(collector: StatementsCollector, conn: asyncpg.Connection) -> None:
    """Ticks with some work in each, until perftop knows the texts of its own statements."""
    for _ in range(4):
        await conn.fetch(work(0))
        await collector.collect()


def test_every_statement_perftop_sends_starts_with_the_marker() -> None:
    files = [f.name for f in resources.files(queries.__package__).joinpath("sql").iterdir()]
    assert len([f for f in files if f.endswith(".sql")]) >= 10
    for name in files:
        if name.endswith(".sql"):
            text = resources.files(queries.__package__).joinpath("sql", name).read_text()
            assert queries.is_own(text), name
    combined = queries.joined("x", queries.sql("names"), queries.sql("server"))
    assert queries.is_own(combined)
    assert not queries.is_own("SELECT 1 -- perftop: ") and not queries.is_own("-- perftop")


@run
async def test_own_statements_never_in_the_table_but_measured(quiet_cluster: PgCluster) -> None:
    collector = StatementsCollector(resolve_target(quiet_cluster.dsn), full_every=0.0)
    conn = await asyncpg.connect(quiet_cluster.dsn)
    try:
        await warm(collector, conn)
        # One cheap statement: perftop's reads cost more than it, and still must not lead.
        await conn.fetch(work(1))
        sample = await collector.collect()
        collector.window = "session"
        session = await collector.collect()
    finally:
        await conn.close()
        await collector.close()
    assert [s.query for s in sample.statements] == [work(0).replace("0", "$1")]
    assert sample.statements[0].share == pytest.approx(100.0)
    assert sample.total_ms_per_s == pytest.approx(sample.statements[0].ms_per_s)
    # perftop's cost stays visible: its own entries, from pg_stat_statements, apart.
    assert sample.own_ms_per_s > 0 and sample.own_calls_per_s > 0
    assert sample.own_statements and all(queries.is_own(s.query) for s in sample.own_statements)
    assert sample.own_seconds > 0
    assert sum(s.ms_per_s for s in sample.own_statements if s.key.toplevel) == pytest.approx(
        sample.own_ms_per_s
    )
    assert any(READ_TEXT in s.query for s in sample.own_statements)
    assert all(not queries.is_own(s.query) for s in session.statements)
    assert session.own_ms_per_s > 0 and session.own_seconds == pytest.approx(session.seconds)


@run
async def test_quiet_ticks_do_not_read_pg_stat_statements(quiet_cluster: PgCluster) -> None:
    collector = StatementsCollector(resolve_target(quiet_cluster.dsn), full_every=3600.0)
    conn = await asyncpg.connect(quiet_cluster.dsn)
    try:
        await warm(collector, conn)
        reads = collector.full_reads
        on_server = await server_calls(quiet_cluster.dsn, READ_TEXT)
        # server_calls connected and left: the first tick after it must read, then quiet.
        busy = await collector.collect()
        quiet = [await collector.collect() for _ in range(3)]
        after = await server_calls(quiet_cluster.dsn, READ_TEXT)
        await conn.fetch(work(2))
        await conn.fetch(work(3))
        woken = await collector.collect()
    finally:
        await conn.close()
        await collector.close()
    assert not busy.quiet and collector.full_reads == reads + 2
    assert all(s.quiet and s.statements == () for s in quiet)
    assert after == on_server + 1  # the server agrees: one read for four ticks
    assert not woken.quiet and calls_of(woken, "FROM work WHERE") == 2
    # The own figures of a quiet tick are the last measured ones, and say over what time.
    assert quiet[-1].own_ms_per_s == busy.own_ms_per_s and quiet[-1].own_seconds > 0


@run
async def test_a_client_that_came_ran_and_left_between_two_ticks_is_counted(
    quiet_cluster: PgCluster,
) -> None:
    collector = StatementsCollector(resolve_target(quiet_cluster.dsn), full_every=3600.0)
    conn = await asyncpg.connect(quiet_cluster.dsn)
    try:
        await warm(collector, conn)
        await collector.collect()  # a quiet baseline: nothing since the previous tick
        assert (await collector.collect()).quiet
        # Not in pg_stat_activity any more at the next check: only the sums can tell.
        visitor = await asyncpg.connect(quiet_cluster.dsn)
        for i in range(5):
            await visitor.fetch(work(i))
        await visitor.close()
        sample = await collector.collect()
        # And one that was there all along, ran, then left.
        await conn.fetch(work(9))
        await conn.close()
        later = await collector.collect()
    finally:
        if not conn.is_closed():
            await conn.close()
        await collector.close()
    assert calls_of(sample, "FROM work WHERE") == 5
    assert calls_of(later, "FROM work WHERE") == 1


@run
async def test_a_statement_running_across_ticks_is_counted_once(quiet_cluster: PgCluster) -> None:
    collector = StatementsCollector(resolve_target(quiet_cluster.dsn), full_every=3600.0)
    conn = await asyncpg.connect(quiet_cluster.dsn)
    try:
        await warm(collector, conn)
        await collector.collect()
        sleeper = asyncio.ensure_future(conn.fetch("SELECT pg_sleep(0.6)"))
        await asyncio.sleep(0.2)
        during = await collector.collect()  # it runs: not quiet, not counted yet
        await sleeper
        after = await collector.collect()
        again = await collector.collect()
    finally:
        await conn.close()
        await collector.close()
    assert not during.quiet and calls_of(during, "pg_sleep") == 0
    assert calls_of(after, "pg_sleep") == 1
    assert again.quiet and calls_of(again, "pg_sleep") == 0


@run
async def test_nested_statements_of_a_long_call_are_counted_while_it_runs(
    quiet_cluster: PgCluster,
) -> None:
    """`track = all`: a statement inside a function is counted when it ends, while its
    caller runs on, with no state change in pg_stat_activity to show for it."""
    collector = StatementsCollector(resolve_target(quiet_cluster.dsn), full_every=3600.0)
    conn = await asyncpg.connect(quiet_cluster.dsn)
    try:
        await warm(collector, conn)
        await collector.collect()
        call = asyncio.ensure_future(
            conn.execute(
                "DO $$ BEGIN PERFORM pg_sleep(0.5); PERFORM count(*) FROM work WHERE n <> 77; "
                "PERFORM pg_sleep(1.0); END $$"
            )
        )
        await asyncio.sleep(0.2)
        started = await collector.collect()  # the call began since the previous check
        await asyncio.sleep(0.6)  # the nested count has ended; the call sleeps on
        during = await collector.collect()
        await call
    finally:
        await conn.close()
        await collector.close()
    assert not call.cancelled()
    nested = [s for s in during.statements if "FROM work WHERE" in s.query and not s.key.toplevel]
    assert calls_of(started, "FROM work WHERE") == 0
    assert not during.quiet and [s.calls for s in nested] == [1]


IMPOSTOR = "-- perftop: not perftop at all\nSELECT count(*) FROM work WHERE n > 7"


@run
async def test_a_client_calling_itself_perftop_or_using_the_marker_is_seen(
    quiet_cluster: PgCluster,
) -> None:
    """Neither application_name=perftop nor a statement starting with perftop's comment
    makes a client perftop: its statements are in the table, the tick after them reads
    pg_stat_statements, and Activity lists and counts it; perftop's own are still apart."""
    target = resolve_target(quiet_cluster.dsn)
    collector = StatementsCollector(target, full_every=3600.0)
    activity = ActivityCollector(target)
    conn = await asyncpg.connect(quiet_cluster.dsn)
    named = await asyncpg.connect(
        quiet_cluster.dsn, server_settings={"application_name": "perftop"}
    )
    marked = await asyncpg.connect(quiet_cluster.dsn)
    try:
        await warm(collector, conn)
        await activity.collect()
        await collector.collect()  # the activity collector's connection arrived: a full read
        assert (await collector.collect()).quiet
        # Idle afterwards with a marker-led last statement and the name "perftop": the quiet
        # check used to take exactly that for perftop's own idle connection.
        for _ in range(3):
            await named.fetch(IMPOSTOR)
        after_named = await collector.collect()
        await marked.fetch(IMPOSTOR)
        await marked.fetch(work(5))
        sample = await collector.collect()
        seen = await activity.collect()
        perftops = collector.link.backend_pid
    finally:
        for c in (conn, named, marked):
            await c.close()
        await collector.close()
        await activity.close()
    assert not after_named.quiet
    assert [s.calls for s in after_named.statements if "not perftop at all" in s.query] == [3]
    assert not sample.quiet
    assert [s.calls for s in sample.statements if "not perftop at all" in s.query] == [1]
    assert calls_of(sample, "FROM work WHERE n <>") == 1
    assert not any("not perftop at all" in s.query for s in sample.own_statements)
    # perftop's own are still measured apart, and only they.
    assert sample.own_statements and sample.own_ms_per_s > 0
    assert all(queries.is_own(s.query) for s in sample.own_statements)
    by_pid = {b.pid: b for b in seen.backends}
    for client in (named, marked):
        backend = by_pid[client.get_server_pid()]
        assert backend.is_client
    assert by_pid[named.get_server_pid()].application == "perftop"
    # perftop's other connection is apart: not a row of Activity, not counted.
    assert perftops is not None and perftops not in by_pid
    assert [b.pid for b in seen.own] == [perftops]
    assert activity.series(seen)["pg.backends.active"] == 0.0  # the idle clients, not perftop


def test_only_the_whole_text_of_a_perftop_statement_is_perftops() -> None:
    names = queries.sql("names")
    as_kept = names.replace("'u'", "$1").replace("'d'", "$2")  # pg_stat_statements' form
    assert queries.is_own(names) and queries.is_own(as_kept)
    assert not queries.is_own(IMPOSTOR)
    assert not queries.is_own(names + " UNION ALL SELECT 'x', 1, secret_work()")
    assert not queries.is_own(names.replace("pg_roles", "my_roles"))


@run
async def test_every_text_perftop_sends_is_known_as_its_own_on_every_major(
    pg_major_cluster: PgCluster,
) -> None:
    """The server keeps perftop's statements with constants as $n (and, on 18, lists of
    them squashed): each one it holds under perftop's marker is still recognised."""
    dsn = pg_major_cluster.dsn
    target = resolve_target(dsn)
    collector = StatementsCollector(target, full_every=0.0)
    activity = ActivityCollector(target)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_stat_statements_reset()")
        for _ in range(4):
            await activity.collect()
            await collector.collect()
        # perftop's own: everything its connections ran, asyncpg's type introspection
        # (`WITH RECURSIVE typeinfo_tree`, the `set_config('jit', ...)` around it)
        # included; only this connection's reset is not.
        kept = await conn.fetch(
            "SELECT DISTINCT query FROM pg_stat_statements WHERE query <> $1",
            "SELECT pg_stat_statements_reset()",
        )
        sample = await collector.collect()
    finally:
        await conn.close()
        await collector.close()
        await activity.close()
    texts = [r["query"] for r in kept]
    assert len(texts) >= 4  # the check, the read, the texts, the names, activity
    assert any("typeinfo_tree" in t for t in texts)  # the driver's own statements ran
    assert [t for t in texts if not queries.is_own(t)] == []
    assert not any(queries.is_own(s.query) for s in sample.statements)
    assert {s.query for s in sample.own_statements} <= set(texts)


@run
async def test_the_caches_stay_bounded_while_statements_come_and_go(
    quiet_cluster: PgCluster,
) -> None:
    """Five batches of 150 statements never seen again, a reset between batches: the
    session window, the texts and the other caches keep what can still be shown."""
    collector = StatementsCollector(resolve_target(quiet_cluster.dsn), full_every=0.0)
    collector.window = "session"
    conn = await asyncpg.connect(quiet_cluster.dsn)
    distinct = 0
    try:
        await warm(collector, conn)
        for batch in range(5):
            for width in range(1, 151):
                # A different number of columns is a different statement (a new queryid).
                await conn.fetch(f"SELECT {', '.join([str(batch)] * (width + 150 * batch))}")
                distinct += 1
            await collector.collect()
            collector._no_text.update({-i: 0.0 for i in range(1, 500)})  # never on the server
            await conn.execute("SELECT pg_stat_statements_reset()")
            await collector.collect()
        entries = len(collector._windows.last.counters) if collector._windows.last else 0
        session = len(collector._windows.session)
        texts, missing, own = len(collector._texts), len(collector._no_text), len(collector._own)
    finally:
        await conn.close()
        await collector.close()
    assert distinct == 750 and entries < 150
    limit = entries + max(entries, DEPARTED_MIN)
    assert session <= limit, (session, limit)
    assert texts <= limit and missing <= limit and own <= limit
