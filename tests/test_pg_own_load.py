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
from perftop.collectors.postgres.connect import resolve_target
from perftop.collectors.postgres.samples import StatementsSample
from perftop.collectors.postgres.statements import StatementsCollector

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
