"""A statement's plan in the app, on the real server: another role's function never runs
unasked; asking goes through the approval prompt and the audit; a pg_catalog-only statement
is planned at once; closing the detail while its plan is on the way raises nothing.

Version-sensitive (run on every major): they plan real statements (generic plans through
PREPARE, the planner folding IMMUTABLE calls) and read the catalog.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from perftop.collectors.postgres.samples import StatementRate, StatementsSample
from perftop.tui.app import PerftopApp
from perftop.tui.approve import ApprovalScreen
from perftop.tui.queries import QueriesScreen
from perftop.tui.statement_detail import StatementDetailScreen

from .pg_cluster import PgCluster
from .support import run, until
from .test_app_postgres import make_app
from .test_pg_plan_safety import EVIL, RAN, ROLE, ServerLog, plan_objects
from .test_queries_screen import Host, detail_store, orders_statement

__all__ = ["plan_objects"]  # a fixture, used by name

# pg_stat_statements keeps it as `... AND id + $4 > $3::int`: its constants become $n too.
SAFE_QUERY = "SELECT name FROM plan.t WHERE id = $1 AND lower(name) = $2 AND id + 1 > $3::int"


async def open_detail(
    pilot: Any,
    app: PerftopApp,
    matches: Any,
    workload: Any,
    before_open: Any = None,
    timeout: float = 20.0,
) -> StatementDetailScreen:
    """Show the queries screen, run `workload` until the statement `matches` picks is in a
    sample (the default window shows the last interval's calls), open its detail."""
    await pilot.press("p")
    await until(pilot, lambda: isinstance(app.screen, QueriesScreen))

    def found() -> StatementRate | None:
        sample = app.store.latest("pg.statements", StatementsSample)
        rates = sample.statements if sample is not None else ()
        return next((r for r in rates if matches(r)), None)

    deadline = time.monotonic() + timeout
    while found() is None:
        sample = app.store.latest("pg.statements", StatementsSample)
        shown = [r.query[:70] for r in sample.statements] if sample is not None else None
        assert time.monotonic() < deadline, f"the statement never showed; shown: {shown}"
        await workload()
        await pilot.pause(0.1)
    rate = found()
    assert rate is not None and app.database is not None
    if before_open is not None:
        await before_open()
    app.database.open_statement(rate)
    await until(pilot, lambda: isinstance(app.screen, StatementDetailScreen))
    screen = app.screen
    assert isinstance(screen, StatementDetailScreen)
    return screen


def plan_text(screen: StatementDetailScreen) -> str:
    from rich.text import Text
    from textual.widgets import Static

    content = screen.query_one("#stmt-plan", Static).render()
    return content.plain if isinstance(content, Text) else str(content)


@run
async def test_another_roles_function_runs_only_after_yes(
    tmp_path: Path, plan_objects: PgCluster
) -> None:
    app, audit = make_app(tmp_path, plan_objects.dsn)
    conn = await asyncpg.connect(plan_objects.dsn_for(ROLE))
    log = ServerLog(plan_objects)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            screen = await open_detail(
                pilot,
                app,
                lambda r: r.query == EVIL and r.user == ROLE,
                lambda: conn.fetchval(EVIL),
            )
            await until(pilot, lambda: screen.assessment is not None)
            expected = (
                "plan not fetched: it may run code outside pg_catalog: function app.evil() "
                "(owner plan_app); press P to plan it (asks first)"
            )
            assert screen.plan_reason == expected
            assert " ".join(plan_text(screen).split()) == expected
            assert f"{RAN} as postgres" not in log.settled()

            await pilot.press("P")
            await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
            prompt = app.screen
            assert isinstance(prompt, ApprovalScreen)
            asked = prompt.action_to_approve.describe()
            assert "perftop's role postgres (a superuser)" in asked
            assert "function app.evil() (owner plan_app)" in asked
            await pilot.press("y")
            await until(pilot, lambda: screen.plan is not None)
            assert screen.plan_reason == "estimated plan (not executed)"
            assert app.screen is screen
        assert f"{RAN} as postgres (superuser: on)" in log.settled()
    finally:
        await conn.close()
    records = [r for r in audit.records() if r["action"] == "pg-plan"]
    assert [(r["stage"], r["decision"]) for r in records] == [
        ("intent", "approved"),
        ("outcome", "approved"),
    ]


@run
async def test_a_pg_catalog_statement_is_planned_without_asking(
    tmp_path: Path, plan_objects: PgCluster
) -> None:
    app, audit = make_app(tmp_path, plan_objects.dsn)
    conn = await asyncpg.connect(plan_objects.dsn)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            screen = await open_detail(
                pilot,
                app,
                lambda r: r.query.startswith(SAFE_QUERY[:40]),
                lambda: conn.fetchval(SAFE_QUERY, 1, "n", 0),
            )
            await until(pilot, lambda: screen.plan is not None)
            assert screen.plan_reason == "generic plan (not executed)"
            assert screen.plan is not None and "Index Cond: (id = $1)" in screen.plan
            assert "Index Cond: (id = $1)" in plan_text(screen)
            assert screen.assessment is None and not screen._may_ask()
    finally:
        await conn.close()
    assert audit.records() == []  # nothing was asked, nothing acted


@run
async def test_closing_the_detail_while_its_plan_waits_raises_nothing(
    tmp_path: Path, plan_objects: PgCluster
) -> None:
    """The plan waits on a lock another session holds; the detail is closed; the lock is
    released, the plan arrives for a screen that is gone; the app goes on."""
    app, _ = make_app(tmp_path, plan_objects.dsn)
    query = "SELECT count(*) FROM plan.t"
    conn = await asyncpg.connect(plan_objects.dsn)
    locker = await asyncpg.connect(plan_objects.dsn)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            screen = await open_detail(
                pilot,
                app,
                lambda r: r.query == query,
                lambda: conn.fetchval(query),
                lambda: locker.execute("BEGIN; LOCK TABLE plan.t IN ACCESS EXCLUSIVE MODE"),
            )

            async def plan_waits() -> bool:
                waiting = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'perftop' "
                    "AND wait_event_type = 'Lock'"
                )
                return bool(waiting)

            deadline = time.monotonic() + 10
            while not await plan_waits():
                assert time.monotonic() < deadline, "the plan never waited on the lock"
                await pilot.pause(0.05)
            assert screen.plan is None  # still on its way
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, QueriesScreen))
            await locker.execute("ROLLBACK")

            def planned() -> bool:
                return not any(w.group == "pg" and w.is_running for w in app.workers)

            await until(pilot, planned)
            await pilot.pause(0.2)
            assert app.is_running and isinstance(app.screen, QueriesScreen)
            assert screen.plan is not None  # it did arrive, for the closed screen
        assert app.return_code in (None, 0)
    finally:
        await locker.close()
        await conn.close()


@run
async def test_explain_analyze_prompt_names_the_functions_read_before_it(
    tmp_path: Path, plan_objects: PgCluster
) -> None:
    app, audit = make_app(tmp_path, plan_objects.dsn)
    conn = await asyncpg.connect(plan_objects.dsn_for(ROLE))
    log = ServerLog(plan_objects)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            screen = await open_detail(
                pilot,
                app,
                lambda r: r.query == EVIL and r.user == ROLE,
                lambda: conn.fetchval(EVIL),
            )
            app.post_message(QueriesScreen.ExplainAnalyzeRequested(screen.rate))
            await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
            prompt = app.screen
            assert isinstance(prompt, ApprovalScreen)
            asked = prompt.action_to_approve.describe()
            assert "rights of perftop's role postgres (a superuser)" in asked
            assert "function app.evil() (owner plan_app)" in asked
            await pilot.press("n")
            await until(pilot, lambda: app.screen is screen)
    finally:
        await conn.close()
    assert f"{RAN} as postgres" not in log.settled()
    records = [r for r in audit.records() if r["action"] == "pg-explain-analyze"]
    assert [(r["stage"], r["decision"]) for r in records] == [("decision", "declined")]


@run
async def test_closing_the_detail_while_an_approved_plan_waits_raises_nothing(
    tmp_path: Path, plan_objects: PgCluster
) -> None:
    app, audit = make_app(tmp_path, plan_objects.dsn)
    query = "SELECT * FROM plan.v_evil"  # planning it locks plan.t, under the view
    conn = await asyncpg.connect(plan_objects.dsn)
    locker = await asyncpg.connect(plan_objects.dsn)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            screen = await open_detail(
                pilot, app, lambda r: r.query == query, lambda: conn.fetch(query)
            )
            await until(pilot, lambda: screen.assessment is not None)
            await locker.execute("BEGIN; LOCK TABLE plan.t IN ACCESS EXCLUSIVE MODE")
            await pilot.press("P")
            await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
            await pilot.press("y")

            async def plan_waits() -> bool:
                waiting = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'perftop' "
                    "AND wait_event_type = 'Lock'"
                )
                return bool(waiting)

            deadline = time.monotonic() + 10
            while not await plan_waits():
                assert time.monotonic() < deadline, "the plan never waited on the lock"
                await pilot.pause(0.05)
            assert app.screen is screen and screen.plan is None
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, QueriesScreen))
            await locker.execute("ROLLBACK")

            def done() -> bool:
                return not any(w.is_running for w in app.workers if w.group in ("pg", "actions"))

            await until(pilot, done)
            await pilot.pause(0.2)
            assert app.is_running and isinstance(app.screen, QueriesScreen)
            assert screen.plan is not None
    finally:
        await locker.close()
        await conn.close()
    stages = [(r["stage"], r["decision"]) for r in audit.records() if r["action"] == "pg-plan"]
    assert stages == [("intent", "approved"), ("outcome", "approved")]


@pytest.mark.parametrize("read_only", [False, True])
@run
async def test_p_asks_only_for_a_refused_plan_and_never_under_read_only(read_only: bool) -> None:
    from perftop.collectors.postgres.plan_safety import Assessment, Foreign, Rights

    asked: list[bool] = []
    screen = StatementDetailScreen(
        orders_statement(), read_only=read_only, ask_plan=lambda: asked.append(True)
    )
    app = Host(detail_store(), screen)
    verdict = Assessment(Rights("postgres", True, ()), (Foreign("function", "app.f()", "x"),))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("P")  # nothing refused yet: nothing to ask
        assert asked == [] and screen.check_action("plan", ()) is False
        screen.plan_refused(verdict, verdict.why())
        await pilot.pause()
        await pilot.press("P")
        if read_only:
            assert asked == []
            assert screen.plan_reason.endswith("(perftop is read-only: it is not planned)")
        else:
            assert asked == [True]
            assert screen.plan_reason.endswith("; press P to plan it (asks first)")
        screen.show_plan("Result", "estimated plan (not executed)")
        await pilot.press("P")  # planned: nothing more to ask
        assert len(asked) == (0 if read_only else 1)
