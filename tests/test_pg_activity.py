"""ActivityCollector on the real server of every supported major, and the blocking tree as a
pure function."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from perftop.collectors.postgres.activity import ActivityCollector, blocking_tree
from perftop.collectors.postgres.connect import resolve_target
from perftop.collectors.postgres.samples import ActivitySample, Backend

from .pg_cluster import PgCluster
from .support import run


def backend(pid: int, *blocked_by: int) -> Backend:
    return Backend(pid, "db", "u", "local", "app", "client backend", "active", 1.0, 1.0, 1.0,
                   "Lock" if blocked_by else "", "", "SELECT 1", False, blocked_by)  # fmt: skip


def tree(backends: list[Backend]) -> list[tuple[int, int]]:
    """The tree of `backends` given in pid order (siblings keep the order given)."""
    ordered = sorted(backends, key=lambda b: b.pid)
    return [(b.pid, depth) for b, depth in blocking_tree(ordered)]


def test_root_blocker_first_and_chains_nest() -> None:
    # 10 blocks 20 and 30; 20 blocks 40; 50 runs free.
    rows = [backend(40, 20), backend(30, 10), backend(50), backend(20, 10), backend(10)]
    assert tree(rows) == [(10, 0), (20, 1), (40, 2), (30, 1)]


def test_cycles_end_and_unknown_blockers_are_roots() -> None:
    assert tree([backend(1, 2), backend(2, 1)]) == [(1, 0), (2, 1)]
    assert tree([backend(7, 0)]) == [(7, 0)]  # waiting on a prepared transaction
    # 3 waits on 4, 4 on 5, 5 on 3: 3 blocks 5 and 9, 5 blocks 4 (and 4 blocks 3: not again).
    assert tree([backend(3, 4), backend(4, 5), backend(5, 3), backend(9, 3)]) == [
        (3, 0), (5, 1), (4, 2), (9, 1)
    ]  # fmt: skip
    assert tree([backend(1), backend(2)]) == []


def mine(sample: ActivitySample, pid: int) -> Backend:
    [found] = [b for b in sample.backends if b.pid == pid]
    return found


@run
async def test_a_sleeping_backend_and_its_wait(pg_major_cluster: PgCluster) -> None:
    collector = ActivityCollector(resolve_target(pg_major_cluster.dsn))
    sleeper = await asyncpg.connect(
        pg_major_cluster.dsn, server_settings={"application_name": "zzz"}
    )
    pid = sleeper.get_server_pid()
    ours = 0
    task = asyncio.ensure_future(sleeper.execute("SELECT pg_sleep(30) /* sleeper */"))
    try:
        for _ in range(100):
            sample = await collector.collect()
            if mine(sample, pid).state == "active":
                break
            await asyncio.sleep(0.05)
        row = mine(sample, pid)
        assert collector.link._conn is not None
        ours = collector.link._conn.get_server_pid()
    finally:
        sleeper.terminate()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await collector.close()
    assert row.wait_event_type == "Timeout" and row.wait_event == "PgSleep"
    assert row.query == "SELECT pg_sleep(30) /* sleeper */"
    assert row.application == "zzz" and row.user == "postgres" and row.is_client
    assert row.client.startswith("127.0.0.1:") and row.database == pg_major_cluster.database
    assert row.query_seconds is not None and row.query_seconds >= 0
    assert ours and ours not in {b.pid for b in sample.backends}
    assert any(b.backend_type == "checkpointer" and not b.is_client for b in sample.backends)
    assert sample.notices == ()


@run
async def test_a_real_lock_chain_in_tree_order(pg_major_cluster: PgCluster) -> None:
    pg_major_cluster.psql("CREATE TABLE IF NOT EXISTS locked(id int primary key, v int);"
                    "INSERT INTO locked VALUES (1, 0) ON CONFLICT DO NOTHING")  # fmt: skip
    holder = await asyncpg.connect(pg_major_cluster.dsn)
    waiter = await asyncpg.connect(pg_major_cluster.dsn)
    second = await asyncpg.connect(pg_major_cluster.dsn)
    collector = ActivityCollector(resolve_target(pg_major_cluster.dsn))
    tasks = []
    hp, wp, sp = (c.get_server_pid() for c in (holder, waiter, second))
    try:
        await holder.execute("BEGIN; UPDATE locked SET v = v + 1 WHERE id = 1")
        tasks.append(asyncio.ensure_future(waiter.execute("UPDATE locked SET v = 2 WHERE id = 1")))
        for _ in range(100):
            sample = await collector.collect()
            if mine(sample, wp).blocked_by:
                break
            await asyncio.sleep(0.05)
        # The second waits behind the first waiter's tuple lock and the holder.
        tasks.append(asyncio.ensure_future(second.execute("UPDATE locked SET v = 3 WHERE id = 1")))
        for _ in range(100):
            sample = await collector.collect()
            if mine(sample, sp).blocked_by:
                break
            await asyncio.sleep(0.05)
        ordered = blocking_tree(sample.backends)
    finally:
        for conn in (holder, waiter, second):
            conn.terminate()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await collector.close()
    assert mine(sample, hp).state == "idle in transaction"
    assert mine(sample, wp).blocked_by == (hp,)
    assert mine(sample, wp).wait_event_type == "Lock"
    assert [(b.pid, d) for b, d in ordered][:2] == [(hp, 0), (wp, 1)]
    assert sp in [b.pid for b, d in ordered if d >= 1]


@run
async def test_other_users_queries_hidden_without_read_all_stats(
    pg_major_cluster: PgCluster,
) -> None:
    plain = pg_major_cluster.create_role("activity_plain")
    other = await asyncpg.connect(pg_major_cluster.dsn)
    other_pid = other.get_server_pid()
    collector = ActivityCollector(resolve_target(plain))
    try:
        sample = await collector.collect()
    finally:
        await other.close()
        await collector.close()
    row = mine(sample, other_pid)
    assert row.query_hidden and row.query == ""
    assert any("pg_read_all_stats" in n and "pg_monitor" in n for n in sample.notices)


@pytest.mark.parametrize("monitor", [True, False])
@run
async def test_monitor_role_sees_queries(pg_major_cluster: PgCluster, monitor: bool) -> None:
    dsn = pg_major_cluster.create_role(
        "activity_monitor", monitor=monitor, read_all_stats=not monitor
    )
    other = await asyncpg.connect(pg_major_cluster.dsn)
    await other.execute("SELECT 'visible' AS seen")
    other_pid = other.get_server_pid()
    collector = ActivityCollector(resolve_target(dsn))
    try:
        sample = await collector.collect()
    finally:
        await other.close()
        await collector.close()
    row = mine(sample, other_pid)
    assert not row.query_hidden and "visible" in row.query and sample.notices == ()
