"""The PostgreSQL server perftop watches, and what the person can do there.

The collectors (statements, activity, server info) run with the others; this object turns
the PostgreSQL screens' requests into collector settings and gate requests: cancel or
terminate a backend, reset pg_stat_statements, EXPLAIN ANALYZE (it executes the statement),
a plan that may run code outside pg_catalog, create the extension. The screens only show the
store.

Opening a statement plans it unasked only when `plan_safety.assess` finds nothing in it that
could run someone else's code with perftop's rights; otherwise the detail says why and its
`P` sends a PlanStatement through the gate. EXPLAIN ANALYZE's prompt gets the same check
(with triggers), read before the prompt is shown.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..actions.gate import Action
from ..actions.pg_statements import (
    CreateExtension,
    ExplainAnalyze,
    PlanStatement,
    ResetStatements,
)
from ..actions.postgres import CancelQuery, Connect, TerminateBackend, connection_factory
from ..collectors.base import Collector
from ..collectors.postgres.activity import ActivityCollector
from ..collectors.postgres.connect import Target
from ..collectors.postgres.plan_safety import Assessment, assess
from ..collectors.postgres.plans import NOT_FETCHED, explain_problem, generic_plan
from ..collectors.postgres.samples import ServerInfo, StatementRate
from ..collectors.postgres.server import ServerCollector
from ..collectors.postgres.statements import StatementsCollector
from .queries import QueriesScreen
from .query_text import QueryTextScreen
from .statement_detail import StatementDetailScreen

if TYPE_CHECKING:
    import asyncpg

    from .app import PerftopApp


class DatabaseSession:
    """The collectors of one PostgreSQL server and the requests made about it."""

    def __init__(self, app: PerftopApp, target: Target, interval: float) -> None:
        self.app = app
        self.target = target
        self.statements = StatementsCollector(target, interval)
        self.activity = ActivityCollector(target, interval)
        self.server = ServerCollector(self.statements, self.activity, max(2.0, interval))
        self.showing = False  # the queries screen is on the screen stack

    @property
    def collectors(self) -> list[Collector]:
        return [self.statements, self.activity, self.server]

    def start(self) -> None:
        if self.app.collection is not None:
            for collector in self.collectors:
                self.app.collection.add(collector)
        if self.target.notice:
            self.app.notify(self.target.notice, severity="warning", timeout=10, markup=False)

    async def close(self) -> None:
        await self.statements.close()
        await self.activity.close()

    def show(self) -> None:
        if self.showing:
            return

        def left(_: object = None) -> None:
            self.showing = False

        self.showing = True
        screen = QueriesScreen(self.statements.window, read_only=self.app.settings.read_only)
        self.app.push_screen(screen, left)

    # the screens' requests ---------------------------------------------------------------

    def set_window(self, window: str) -> None:
        self.statements.window = window

    def watch(self, message: QueriesScreen.WatchChanged) -> None:
        self.statements.watch = message.key

    def open_statement(self, rate: StatementRate) -> None:
        self.statements.watch = rate.key
        screen = StatementDetailScreen(rate, read_only=self.app.settings.read_only)
        screen.ask_plan = lambda: self.ask_plan(screen, rate)

        def closed(_: object = None) -> None:
            self.statements.watch = None

        self.app.push_screen(screen, closed)
        self.app.run_worker(self._plan(screen, rate), group="pg")

    def connect_to(self, database: str) -> Connect:
        """A factory of new connections to `database` on this server (one per use)."""
        return connection_factory(self.target, database=database)

    async def _plan(self, screen: StatementDetailScreen, rate: StatementRate) -> None:
        """EXPLAIN without executing it, on the statement's database, when nothing in it can
        run code outside pg_catalog; else the reason, and `P` on the screen. Never raises:
        the screen may be gone by the time the answer is there."""
        try:
            await self._fetch_plan(screen, rate)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - shown in words, never a crash
            screen.show_plan(None, f"no plan: {exc}")

    async def _fetch_plan(self, screen: StatementDetailScreen, rate: StatementRate) -> None:
        info = self.statements.info
        if info is None:
            screen.show_plan(None, "not connected: no plan")
            return
        if rate.query_hidden or not rate.query:
            screen.show_plan(None, "the statement's text is not visible to this role")
            return
        try:
            conn = await self.connect_to(rate.database)()
        except Exception as exc:  # noqa: BLE001 - any failure to connect is shown in words
            screen.show_plan(None, f"cannot connect to {rate.database}: {exc}")
            return
        try:
            verdict = await assess(conn, rate.server_text)
            if verdict.safe:
                plan, how = await generic_plan(conn, rate.server_text, info.version_num)
            else:
                plan, how = None, NOT_FETCHED + verdict.why()
        finally:
            await _close(conn)
        if plan is None and how.startswith(NOT_FETCHED):
            why = how.removeprefix(NOT_FETCHED)
            if verdict.safe:  # refused by the plan's own last checks (parameter types)
                verdict = replace(verdict, problems=(why,))
            screen.plan_refused(verdict, why)
        else:
            screen.show_plan(plan, how)

    def ask_plan(self, screen: StatementDetailScreen, rate: StatementRate) -> None:
        """The person asked for the plan the check refused: through the gate."""
        info = self.statements.info
        verdict = screen.assessment
        if info is None or verdict is None:
            return
        action = PlanStatement(
            rate.server_text,
            rate.database,
            rate.user,
            info.version_num,
            verdict,
            self.connect_to(rate.database),
        )
        self.app.run_worker(self._plan_asked(screen, action), group="pg")

    async def _plan_asked(self, screen: StatementDetailScreen, action: PlanStatement) -> None:
        outcome = await self.app.gate.request(action)
        if outcome.result is None:
            self.app.report(action, outcome)
            return
        how, _, plan = outcome.result.partition("\n")
        screen.show_plan(plan, how)

    def _info(self) -> ServerInfo | None:
        return self.statements.info or self.activity.link.info

    def cancel(self, message: QueriesScreen.CancelRequested) -> None:
        backend = message.backend
        self._request(CancelQuery(backend, connection_factory(self.target)))

    def terminate(self, message: QueriesScreen.TerminateRequested) -> None:
        backend = message.backend
        self._request(TerminateBackend(backend, connection_factory(self.target)))

    def reset(self, message: QueriesScreen.ResetRequested) -> None:
        key = message.key
        rate = None
        screen = self.app.screen
        if key is not None and isinstance(screen, QueriesScreen):
            rate = screen.selected_statement()
        self._request(
            ResetStatements(
                key,
                rate.query if rate is not None else "",
                connection_factory(self.target),
                user=rate.user if rate is not None else "",
                database=rate.database if rate is not None else "",
            )
        )

    def explain_analyze(self, message: QueriesScreen.ExplainAnalyzeRequested) -> None:
        statement = message.statement
        problem = explain_problem(statement.server_text)
        if problem is not None:
            self.app.notify(f"EXPLAIN ANALYZE: {problem}", severity="warning", markup=False)
            return
        self.app.run_worker(self._explain(statement), group="pg")

    async def _explain(self, statement: StatementRate) -> None:
        """Read what the statement reaches (for the prompt), then ask, then run."""
        connect = self.connect_to(statement.database)
        verdict = await _assess(connect, statement.server_text, executes=True)
        action = ExplainAnalyze(
            statement.server_text,
            statement.database,
            statement.user,
            connect,
            assessment=verdict,
        )
        outcome = await self.app.gate.request(action)
        if outcome.result is not None:
            self.app.push_screen(QueryTextScreen(outcome.result, "EXPLAIN ANALYZE (rolled back)"))
        else:
            self.app.report(action, outcome)

    def create_extension(self) -> None:
        info = self._info()
        if info is None:
            self.app.notify("Not connected to PostgreSQL yet.", severity="warning")
            return
        action = CreateExtension(info, connection_factory(self.target))
        self.app.run_worker(self._create_extension(action), group="pg")

    async def _create_extension(self, action: CreateExtension) -> None:
        """Through the gate; once created, the server info is read again at once (it was
        read at connect), so the Queries screen shows the extension without a reconnect."""
        outcome = await self.app.gate.request(action)
        self.app.report(action, outcome)
        if outcome.result is None:
            return
        self.statements.link.info_stale = True
        if self.app.collection is not None:  # tick now, not after the failure's backoff
            self.app.collection.add(self.statements)
            self.app.collection.add(self.server)

    def _request(self, action: Action) -> None:
        self.app._request(action)


async def _assess(connect: Connect, query: str, *, executes: bool) -> Assessment | None:
    """`assess` on a connection of its own; None when it cannot be read at all."""
    try:
        conn = await connect()
    except Exception:  # noqa: BLE001 - the prompt says it could not check
        return None
    try:
        return await assess(conn, query, executes=executes)
    finally:
        await _close(conn)


async def _close(conn: asyncpg.Connection[Any]) -> None:
    try:
        await asyncio.wait_for(conn.close(), 2.0)
    except Exception:  # noqa: BLE001 - a broken connection: drop it
        conn.terminate()
