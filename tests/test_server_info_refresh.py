"""The server info follows the server: after `E` (CREATE EXTENSION, approved in the app) the
Queries screen shows pg_stat_statements installed without a reconnect, and while the
extension is missing it is looked for again every few seconds, so one created from
elsewhere shows too. Against the real server; the database has no extension, the server
has it in shared_preload_libraries."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from perftop.collectors.postgres.connect import INFO_RECHECK
from perftop.collectors.postgres.samples import ServerInfo, StatementsSample
from perftop.tui.approve import ApprovalScreen
from perftop.tui.queries import QueriesScreen

from .pg_cluster import PgCluster
from .support import run
from .test_app_postgres import make_app


async def until(pilot: Any, check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await pilot.pause(0.1)


def extension_missing(app: Any) -> bool:
    info = app.store.latest("pg.server", ServerInfo)
    status = app.store.status("pg.statements")
    return (
        info is not None
        and info.pgss_version is None
        and status.state == "failing"
        and "not installed" in status.message
    )


def extension_shown(app: Any) -> bool:
    info = app.store.latest("pg.server", ServerInfo)
    return (
        info is not None
        and info.pgss_version is not None
        and app.store.status("pg.statements").state == "ok"
        and app.store.latest("pg.statements", StatementsSample) is not None
    )


@run
async def test_after_create_extension_the_pane_shows_it_without_a_reconnect(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    dsn = pg_cluster.create_database("refresh_noext")
    app, audit = make_app(tmp_path, dsn)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, QueriesScreen))
        await until(pilot, lambda: extension_missing(app))
        assert app.database is not None
        generation = app.database.statements.link.generation
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.press("y")
        # Well before the periodic re-read would have found it.
        await until(pilot, lambda: extension_shown(app), timeout=INFO_RECHECK / 2)
        assert app.database.statements.link.generation == generation  # the same connection
        screen = app.screen
        assert isinstance(screen, QueriesScreen)
        await pilot.pause(0.3)
        assert "not installed" not in str(screen.query_one("#pg-statements-status").render())
    assert [(r["action"], r["decision"]) for r in audit.read()][-1][1] == "approved"


@run
async def test_an_extension_created_elsewhere_is_found_while_it_is_missing(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    dsn = pg_cluster.create_database("refresh_elsewhere")
    app, _ = make_app(tmp_path, dsn)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        await until(pilot, lambda: extension_missing(app))
        assert app.database is not None
        generation = app.database.statements.link.generation
        pg_cluster.psql("CREATE EXTENSION pg_stat_statements", "refresh_elsewhere")
        await until(pilot, lambda: extension_shown(app), timeout=INFO_RECHECK + 40)
        assert app.database.statements.link.generation == generation
