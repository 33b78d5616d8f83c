"""The perftop Textual app: the dashboard, its keys, and the way to the approval gate.

Data flow: collectors (run as tasks on this app's loop) write to the store; the store tells
the app which sources changed; the app coalesces those notices into one redraw per loop
turn and hands the store to each visible pane (`show(store)`), which reads what it needs.
Panes never sample and never act: actions are built here and handed to the gate, whose
asker is the approval modal.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from ..actions.audit import AuditLog
from ..actions.gate import Action, Gate, Outcome
from ..actions.process import ProcessTarget, Renice, SendSignal
from ..collectors.base import Collection, Collector, CollectorError
from ..collectors.samples import ProcessRow
from ..config import SORT_KEYS, Settings, config_dir
from ..startup import Startup, pause_gc, resume_gc
from ..store import Store
from .dashboard import Dashboard
from .pickers import SignalPicker
from .process_table import ProcessTable
from .textual_private import bindings_of, keymap_of

if TYPE_CHECKING:
    # The stacks and PostgreSQL parts load when first used: the first frame does not wait
    # for them (or for asyncpg); nor for the detail, help and approval screens (or psutil).
    from ..collectors.postgres.connect import Target
    from .database_session import DatabaseSession
    from .queries import QueriesScreen
    from .stack_session import StackSession
    from .stacks import StacksScreen

CLK_TCK = os.sysconf("SC_CLK_TCK")

# Bindings that lead to an intrusive action: absent under --read-only.
INTRUSIVE = frozenset({"signal", "nice-down", "nice-up", "attach"})
# Actions that act on the process selected on the dashboard or shown in its detail.
PROCESS_ACTIONS = frozenset({"signal", "nice", "attach"})


class PerftopApp(App[int]):
    """The live system view."""

    CSS_PATH = "perftop.tcss"
    TITLE = "perftop"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1,question_mark", "help", "Help", id="help"),
        Binding("f7,right_square_bracket", "nice(-1)", "Nice-", id="nice-down"),
        Binding("f8,left_square_bracket", "nice(1)", "Nice+", id="nice-up"),
        Binding("f9,k", "signal", "Kill", id="signal"),
        Binding("a", "attach", "Attach", id="attach"),
        Binding("s", "stacks", "Stacks", id="stacks"),
        Binding("p", "postgres", "PostgreSQL", id="postgres"),
        Binding("q,f10", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        store: Store,
        gate: Gate,
        collection: Collection | None = None,
        detail_collector: Callable[..., Collector] | None = None,
        startup: Startup | None = None,
        database: Target | None = None,
    ) -> None:
        # Under NO_COLOR, Textual filters colours once at start-up: with native ANSI colour
        # that filter keeps the terminal's own palette instead of greying everything.
        super().__init__(ansi_color=settings.no_color)
        self.settings = settings
        self.store = store
        self.gate = gate
        self.collection = collection
        self._detail_collector = detail_collector
        self.startup = startup or Startup()
        self.startup_errors: list[str] = []
        """Problems found while building the app, shown once it is up."""
        self._stacks: StackSession | None = None
        self.database: DatabaseSession | None = None
        if database is not None:
            from .database_session import DatabaseSession

            self.database = DatabaseSession(self, database, settings.delay)
        self._pending: set[str] = set()
        self._redraw_queued = False
        self._unsubscribe = store.subscribe(self._store_changed)
        gate.ask = self._ask
        gate.warn = self._audit_warning

    # screens ---------------------------------------------------------------------------

    @property
    def stacks(self) -> StackSession:
        """The profile shown on the Stacks screen (made when first needed)."""
        if self._stacks is None:
            from .stack_session import StackSession

            self._stacks = StackSession(self, self.startup.rate)
        return self._stacks

    @property
    def dashboard(self) -> Dashboard:
        screen = self.screen_stack[0]
        assert isinstance(screen, Dashboard)
        return screen

    def get_default_screen(self) -> Dashboard:
        return Dashboard(self.settings)

    def on_mount(self) -> None:
        if self.collection is not None:
            self.collection.start()
        if self.database is not None:
            self.database.start()
        for error in self.startup_errors:
            self.notify(error, severity="error", timeout=15, markup=False)
        self.call_after_refresh(self._redraw)  # once the dashboard is composed
        self.call_after_refresh(resume_gc)  # the first frame is drawn (see run)
        startup = self.startup
        if startup.launched is not None:
            self.stacks.launch(startup.launched)
        elif startup.opened is not None:
            self.stacks.open(startup.opened)
        elif startup.pid is not None:
            self._attach_pid(startup.pid)

    async def on_unmount(self) -> None:
        self._unsubscribe()
        if self._stacks is not None:
            await self._stacks.close()
        if self.collection is not None:
            await self.collection.stop()
        if self.database is not None:
            await self.database.close()

    # data --------------------------------------------------------------------------------

    def _store_changed(self, sources: frozenset[str]) -> None:
        self._pending |= sources
        if not self._redraw_queued:
            self._redraw_queued = True
            self.call_next(self._redraw)

    def _redraw(self) -> None:
        """Hand the store to what is on screen: one redraw for a burst of changes."""
        self._redraw_queued = False
        changed, self._pending = frozenset(self._pending), set()
        if not self.is_running or not self.screen_stack:
            return  # shutting down: collectors may still report while screens go away
        if "stacks" in changed and self._stacks is not None:
            self._stacks.check_resumed()
        # The topmost screen that shows data gets it; a modal over it lets it show through.
        for screen in reversed(self.screen_stack):
            if isinstance(screen, Dashboard):
                screen.show(self.store, changed)
                return
            show = getattr(screen, "show", None)
            if callable(show):
                show(self.store)
                return

    # keys --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Layer one, again: even a binding added later cannot reach an intrusive action.
        if self.settings.read_only and action in PROCESS_ACTIONS:
            return False
        if action in PROCESS_ACTIONS:
            # Only where a process is what the screen is about (not on the stacks or
            # PostgreSQL screens, whose keys mean other things).
            from .detail import ProcessDetailScreen

            return isinstance(self.screen, Dashboard | ProcessDetailScreen)
        if action == "stacks":
            return self._stacks is not None and self._stacks.active and not self._stacks.showing
        if action == "postgres":
            return self.database is not None and not self.database.showing
        return True

    def action_help(self) -> None:
        from .detail import ProcessDetailScreen
        from .help import HelpScreen, binding_rows
        from .queries import INTRUSIVE_BINDINGS, QueriesScreen
        from .stacks import StacksScreen

        dashboard = self.dashboard
        keymap = keymap_of(self)
        drop = INTRUSIVE | INTRUSIVE_BINDINGS if self.settings.read_only else frozenset()

        def rows(bindings: Any) -> list[tuple[str, str]]:
            return binding_rows(bindings, keymap=keymap, drop=drop)

        sections = [
            ("Everywhere", rows(bindings_of(self))),
            ("Dashboard", rows(bindings_of(dashboard))),
            ("Process table", rows(bindings_of(dashboard.table))),
            ("Process detail", rows(ProcessDetailScreen.BINDINGS)),
            ("Stacks", rows(StacksScreen.BINDINGS)),
            ("PostgreSQL", rows(QueriesScreen.BINDINGS)),
            ("Mouse", [("click a row", "select it"), ("click a header", "sort by it")]),
        ]
        self.push_screen(HelpScreen(sections=sections))

    @on(ProcessTable.RowOpened)
    def _open_detail(self, event: ProcessTable.RowOpened) -> None:
        from .detail import ProcessDetailScreen

        row = event.row
        self._follow(row.pid)
        if self.collection is not None and self._detail_collector is not None:
            self.collection.add(self._detail_collector(row.pid, interval=self.settings.delay))

        def closed(_: object = None) -> None:
            self._follow(None)
            if self.collection is not None:
                self.collection.remove("detail")
            self.store.forget("detail")
            self._redraw()

        screen = ProcessDetailScreen(row, delay=self.settings.delay)
        screen.show(self.store)  # what is known already (the table's history) from the start
        self.push_screen(screen, closed)

    def _follow(self, pid: int | None) -> None:
        """Keep `pid`'s CPU and RSS history while its detail is open, whatever its rank."""
        for collector in self.collection.collectors if self.collection is not None else ():
            follow = getattr(collector, "follow", None)
            if collector.source == "processes" and follow is not None:
                follow(pid)

    # actions through the gate ------------------------------------------------------------

    def _target_row(self) -> ProcessRow | None:
        from .detail import ProcessDetailScreen

        screen = self.screen
        if isinstance(screen, ProcessDetailScreen):
            return screen.row
        return self.dashboard.table.selected_row

    def _refuse_if_read_only(self) -> bool:
        if self.settings.read_only:
            self.notify("perftop is read-only: nothing can be changed.", severity="warning")
        return self.settings.read_only

    def action_signal(self) -> None:
        if self._refuse_if_read_only():
            return
        row = self._target_row()
        if row is None:
            self.notify("No process selected.", severity="warning")
            return

        def picked(name: str | None) -> None:
            if name is not None:
                self._request(SendSignal(_target(row), name))

        self.push_screen(SignalPicker(target=(row.pid, row.name)), picked)

    def action_nice(self, step: int) -> None:
        if self._refuse_if_read_only():
            return
        row = self._target_row()
        if row is None:
            self.notify("No process selected.", severity="warning")
            return
        new = max(-20, min(19, row.nice + step))
        if new == row.nice:
            self.notify(f"Nice is already {row.nice}, the limit.", severity="warning")
            return
        self._request(Renice(_target(row), row.nice, new))

    def action_attach(self) -> None:
        if self._refuse_if_read_only():
            return
        row = self._target_row()
        if row is None:
            self.notify("No process selected.", severity="warning")
            return
        self._attach_py_spy(_target(row))

    def _attach_pid(self, pid: int) -> None:
        try:
            target = ProcessTarget.from_pid(pid)
        except ProcessLookupError:
            self.notify(f"No process {pid} to attach to.", severity="error")
            return
        self._attach_py_spy(target)

    @work(exclusive=True, group="attach")
    async def _attach_py_spy(self, target: ProcessTarget) -> None:
        await self.stacks.attach(target)

    def action_stacks(self) -> None:
        self.stacks.show()

    def on_stacks_screen_options_changed(self, message: StacksScreen.OptionsChanged) -> None:
        self.run_worker(self.stacks.change_options(message), group="stacks")

    def on_stacks_screen_dump_requested(self, message: StacksScreen.DumpRequested) -> None:
        self.run_worker(self.stacks.dump(), group="stacks")

    def on_stacks_screen_export_requested(self, message: StacksScreen.ExportRequested) -> None:
        self.run_worker(self.stacks.export(message), group="stacks")

    def on_stacks_screen_detach_requested(self, message: StacksScreen.DetachRequested) -> None:
        self.run_worker(self.stacks.detach(), group="stacks")

    def action_postgres(self) -> None:
        if self.database is not None:
            self.database.show()

    def on_queries_screen_window_changed(self, message: QueriesScreen.WindowChanged) -> None:
        if self.database is not None:
            self.database.set_window(message.window)

    def on_queries_screen_watch_changed(self, message: QueriesScreen.WatchChanged) -> None:
        if self.database is not None:
            self.database.watch(message)

    def on_queries_screen_statement_opened(self, message: QueriesScreen.StatementOpened) -> None:
        if self.database is not None:
            self.database.open_statement(message.rate)

    def on_queries_screen_cancel_requested(self, message: QueriesScreen.CancelRequested) -> None:
        if self.database is not None and not self._refuse_if_read_only():
            self.database.cancel(message)

    def on_queries_screen_terminate_requested(
        self, message: QueriesScreen.TerminateRequested
    ) -> None:
        if self.database is not None and not self._refuse_if_read_only():
            self.database.terminate(message)

    def on_queries_screen_reset_requested(self, message: QueriesScreen.ResetRequested) -> None:
        if self.database is not None and not self._refuse_if_read_only():
            self.database.reset(message)

    def on_queries_screen_explain_analyze_requested(
        self, message: QueriesScreen.ExplainAnalyzeRequested
    ) -> None:
        if self.database is not None and not self._refuse_if_read_only():
            self.database.explain_analyze(message)

    def on_queries_screen_create_extension_requested(
        self, message: QueriesScreen.CreateExtensionRequested
    ) -> None:
        if self.database is not None and not self._refuse_if_read_only():
            self.database.create_extension()

    @work(exclusive=False, group="actions")
    async def _request(self, action: Action) -> None:
        self.report(action, await self.gate.request(action))

    def report(self, action: Action, outcome: Outcome) -> None:
        """Say what became of a request, in a notice."""
        if outcome.error is not None:
            self.notify(f"{action.title}: {outcome.error}", severity="error", markup=False)
        elif outcome.result is not None:
            self.notify(outcome.result, markup=False)
        else:
            self.notify(f"{action.title}: declined, nothing was done.", markup=False)

    def _audit_warning(self, message: str) -> None:
        """The gate could not write a record: say so, and that it is kept."""
        self.notify(f"Audit: {message}", severity="error", timeout=30, markup=False)

    async def _ask(self, action: Action) -> bool:
        """The gate's asker: the approval modal, answered by the person."""
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def answered(approved: bool | None) -> None:
            if not answer.done():
                answer.set_result(bool(approved))

        from .approve import ApprovalScreen

        self.push_screen(ApprovalScreen(action), answered)
        return await answer

    # command palette ---------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, Dashboard):
            return
        table = screen.table
        for key in SORT_KEYS:
            yield SystemCommand(
                f"Sort by {key}",
                f"Sort the process table by {key}",
                lambda k=key: table.set_sort(k),
            )
        yield SystemCommand("Toggle tree view", "Show processes as a tree", table.toggle_tree)
        yield SystemCommand("Filter processes", "Type to filter the table", screen.action_filter)


def _target(row: ProcessRow) -> ProcessTarget:
    return ProcessTarget(
        pid=row.pid,
        start_ticks=round(row.start_time * CLK_TCK),
        name=row.name,
        cmdline=row.cmdline,
        user=row.user,
    )


def process_target(pid: int) -> ProcessTarget | None:
    """The process now running as `pid`, or None when there is none."""
    try:
        return ProcessTarget.from_pid(pid)
    except ProcessLookupError:
        return None


def _detail_collector(pid: int, interval: float) -> Collector:
    """The detail screen's collector, imported (with psutil) when a detail first opens."""
    from ..collectors.detail import ProcessDetailCollector

    return ProcessDetailCollector(pid, interval=interval)


def build(
    settings: Settings, store: Store | None = None, startup: Startup | None = None
) -> PerftopApp:
    """The app wired to live collectors, the audit file and the chosen theme."""
    from ..collectors.system import default_collectors
    from ..themes import load as load_theme

    store = store if store is not None else Store()
    audit = AuditLog(settings.audit_file)
    if not settings.read_only:
        audit.check()  # raises AuditError: found now, not when a person approves something
    gate = Gate(audit, read_only=settings.read_only)
    collection = Collection(store, default_collectors(settings.delay))
    from ..collectors.postgres.locate import wanted

    database, problem = None, None
    if wanted(settings.dsn):
        from ..collectors.postgres.connect import find_target

        try:
            database = find_target(settings.dsn)
        except CollectorError as exc:
            problem = str(exc)
    app = PerftopApp(settings, store, gate, collection, _detail_collector, startup, database)
    if problem is not None:
        app.startup_errors.append(f"PostgreSQL: {problem}")
    theme_name = "perftop-ansi" if settings.no_color else settings.theme
    theme = load_theme(theme_name, config_dir() / "themes")
    app.register_theme(theme)
    app.theme = theme.name
    return app


def run(settings: Settings, startup: Startup | None = None) -> int:
    """Run the TUI until the person quits; returns the exit code."""
    pause_gc()  # until the first frame is drawn (on_mount): see startup.pause_gc
    try:
        app = build(settings, startup=startup)
        try:
            app.run()
        finally:
            app.gate.finish()  # the terminal is back: records still unwritten go to stderr
    finally:
        resume_gc()
    return app.return_code or 0
