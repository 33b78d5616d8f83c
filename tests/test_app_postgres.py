"""The PostgreSQL screens in the app against a real server: the statements a known workload
ran, and cancelling a real sleeping backend only after the person said yes."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import asyncpg

from perftop.actions.audit import AuditLog
from perftop.actions.gate import Gate
from perftop.collectors.base import Collection
from perftop.collectors.postgres.connect import resolve_target
from perftop.collectors.postgres.samples import ActivitySample, StatementsSample
from perftop.config import Settings
from perftop.store import Store
from perftop.themes import load
from perftop.tui.app import PerftopApp
from perftop.tui.approve import ApprovalScreen
from perftop.tui.queries import QueriesScreen

from .pg_cluster import PgCluster
from .support import run, until


def make_app(tmp_path: Path, dsn: str, read_only: bool = False) -> tuple[PerftopApp, AuditLog]:
    store = Store()
    audit = AuditLog(tmp_path / "audit.jsonl")
    settings = Settings(audit_file=audit.path, read_only=read_only, delay=0.5)
    gate = Gate(audit, read_only=read_only)
    app = PerftopApp(settings, store, gate, Collection(store, []), None, None, resolve_target(dsn))
    app.register_theme(load("perftop-dark"))
    app.theme = "perftop-dark"
    return app, audit


@run
async def test_statements_of_a_known_workload_show_on_the_queries_screen(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    app, _ = make_app(tmp_path, pg_cluster.dsn)
    conn = await asyncpg.connect(pg_cluster.dsn)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            await pilot.press("p")
            await until(pilot, lambda: isinstance(app.screen, QueriesScreen))
            screen = app.screen
            assert isinstance(screen, QueriesScreen)
            await until(
                pilot, lambda: app.store.latest("pg.statements", StatementsSample) is not None
            )
            for _ in range(40):
                # Its own shape: pg_stat_statements ignores column aliases, so a statement
                # differing from another test's by its alias alone would share its entry (and
                # show that test's text).
                await conn.fetchval("SELECT $1::int + 7 AS app_screen_marker", 7)

            def seen() -> bool:
                return any(
                    "app_screen_marker" in r.query and r.calls > 0
                    for r in screen.statements.rows_shown
                    if not isinstance(r, str)
                )

            await until(pilot, seen)
            rows = [r for r in screen.statements.rows_shown if not isinstance(r, str)]
            ours = [r for r in rows if "app_screen_marker" in r.query]
            assert sum(r.calls for r in ours) == 40
            assert not any(r.query.lstrip().startswith("-- perftop:") for r in rows)
    finally:
        await conn.close()


async def sleeping_backend(dsn: str) -> tuple[asyncpg.Connection[Any], asyncio.Task[Any], int]:
    conn = await asyncpg.connect(dsn, server_settings={"application_name": "sleeper"})
    task = asyncio.ensure_future(conn.execute("SELECT pg_sleep(60)"))
    return conn, task, conn.get_server_pid()


async def select_backend(pilot: Any, app: PerftopApp, pid: int) -> QueriesScreen:
    await pilot.press("p")
    await until(pilot, lambda: isinstance(app.screen, QueriesScreen))
    screen = app.screen
    assert isinstance(screen, QueriesScreen)

    def running() -> bool:
        sample = app.store.latest("pg.activity", ActivitySample)
        return sample is not None and any(
            b.pid == pid and b.state == "active" for b in sample.backends
        )

    await until(pilot, running)
    table = screen.activity_table

    def listed() -> bool:
        return any(not isinstance(r, str) and r.pid == pid for r in table.rows_shown)

    await until(pilot, listed)  # the screen has drawn the sample
    table.focus()
    rows = table.rows_shown
    index = next(i for i, r in enumerate(rows) if not isinstance(r, str) and r.pid == pid)
    table.move_cursor(index)
    await pilot.pause()
    selected = screen.selected_backend()
    assert selected is not None and selected.pid == pid
    return screen


@run
async def test_cancel_needs_a_yes_and_then_cancels_the_real_query(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    app, audit = make_app(tmp_path, pg_cluster.dsn)
    conn, task, pid = await sleeping_backend(pg_cluster.dsn)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            await select_backend(pilot, app, pid)
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
            await pilot.press("n")
            await until(pilot, lambda: len(audit.read()) == 1)  # the decision
            assert not task.done()  # declined: the query still runs
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
            await pilot.press("y")
            await until(pilot, task.done, 10)
        assert isinstance(task.exception(), asyncpg.QueryCanceledError)
        assert await conn.fetchval("SELECT 1") == 1  # the session stays connected
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await conn.close()
    assert [(r["action"], r["decision"]) for r in audit.read()] == [
        ("pg-cancel", "declined"),
        ("pg-cancel", "approved"),
    ]


@run
async def test_read_only_cannot_cancel(tmp_path: Path, pg_cluster: PgCluster) -> None:
    app, audit = make_app(tmp_path, pg_cluster.dsn, read_only=True)
    conn, task, pid = await sleeping_backend(pg_cluster.dsn)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            await select_backend(pilot, app, pid)
            bound = {b.action for _, b, _, _ in app.screen.active_bindings.values()}
            assert not bound & {"cancel", "terminate", "reset", "explain"}, bound
            for key in ("c", "K", "R", "A"):
                await pilot.press(key)
                await pilot.pause()
                assert not isinstance(app.screen, ApprovalScreen)
            assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await conn.close()
    assert audit.read() == []
