"""The PostgreSQL screen: the statements costing time now, over what is running and waiting.

The app calls `show(store)` when the store changed; the screen only reads the sources
"pg.server" (`ServerInfo`), "pg.statements" (`StatementsSample`) and "pg.activity"
(`ActivitySample`) and their statuses. It never talks to PostgreSQL and never acts: every
request (cancel, terminate, reset, EXPLAIN ANALYZE, CREATE EXTENSION, a new window, the
statement to watch) is a message the app turns into an action for the approval gate or a
setting of the collector. Under read-only the intrusive keys (ids in `INTRUSIVE_BINDINGS`)
do not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static

from ..collectors.postgres.samples import (
    ActivitySample,
    Backend,
    ServerInfo,
    StatementKey,
    StatementRate,
    StatementsSample,
)
from ..store import SourceStatus, Store
from .filter_bar import FilterBar, shown
from .footer import KeyFooter
from .line_table import LineTable
from .pg_tables import (
    STATEMENT_LABELS,
    WINDOWS,
    ActivityTable,
    StatementsTable,
    status_text,
    summary,
)
from .pickers import PICKER_CSS, Picker
from .query_text import QueryTextScreen
from .statics import show_text
from .text import literal

SERVER_SOURCE = "pg.server"
STATEMENTS_SOURCE = "pg.statements"
ACTIVITY_SOURCE = "pg.activity"


INTRUSIVE_BINDINGS = frozenset(
    {"pg-cancel", "pg-terminate", "pg-reset", "pg-explain-analyze", "pg-create-extension"}
)
"""Ids of the bindings that lead to an intrusive action: absent under --read-only."""
_INTRUSIVE_ACTIONS = frozenset({"cancel", "terminate", "reset", "explain", "create_extension"})

_ALL = "\x00all"  # a picker choice no database or user can be named (names have no NUL)


class ChoicePicker(Picker):
    """A titled list of (key, label) choices; dismisses with the key or None."""

    DEFAULT_CSS = PICKER_CSS.format(name="ChoicePicker")

    def __init__(self, title: str, choices: Sequence[tuple[str, Text]], current: str) -> None:
        super().__init__(choices, current)
        self.box_title = title


class QueriesScreen(Screen[None]):
    """Statements (top) and activity (bottom); tab moves between them."""

    DEFAULT_CSS = """
    QueriesScreen { layout: vertical; }
    QueriesScreen #pg-summary {
        height: auto; max-height: 8; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    QueriesScreen .pg-status { height: auto; color: $error; text-style: bold; padding: 0 1; }
    QueriesScreen .pg-status.-starting { color: $foreground-muted; text-style: italic; }
    QueriesScreen #pg-statements { height: 3fr; }
    QueriesScreen #pg-activity { height: 2fr; }
    QueriesScreen #pg-activity-title {
        height: 1; background: $panel; color: $foreground; text-style: bold; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", id="queries.open"),
        Binding("v", "view", "View text", id="queries.view"),
        Binding("slash", "filter", "Filter", id="queries.filter"),
        Binding("w", "next_window", "Window", id="queries.window"),
        Binding("s,f6", "sort", "Sort", id="queries.sort"),
        Binding("I", "invert", "Invert sort", show=False, id="queries.invert"),
        Binding("d", "pick_database", "Database", id="queries.database"),
        Binding("u", "pick_user", "User", id="queries.user"),
        Binding("b", "tree", "Blocking tree", id="queries.tree"),
        Binding("g", "workers", "Workers", show=False, id="queries.workers"),
        Binding("W", "watch", "Watch", show=False, id="queries.watch"),
        Binding("c", "cancel", "Cancel query", id="pg-cancel"),
        Binding("K", "terminate", "Terminate", id="pg-terminate"),
        Binding("R", "reset", "Reset stats", show=False, id="pg-reset"),
        Binding("A", "explain", "EXPLAIN ANALYZE", show=False, id="pg-explain-analyze"),
        Binding("E", "create_extension", "Create extension", show=False, id="pg-create-extension"),
    ]

    class WindowChanged(Message):
        """The person chose another statement window (a key of `WINDOWS`)."""

        def __init__(self, window: str) -> None:
            super().__init__()
            self.window = window

    class CancelRequested(Message):
        """Cancel this backend's running query (pg_cancel_backend), after approval."""

        def __init__(self, backend: Backend) -> None:
            super().__init__()
            self.backend = backend

    class TerminateRequested(Message):
        """Terminate this backend (pg_terminate_backend), after approval."""

        def __init__(self, backend: Backend) -> None:
            super().__init__()
            self.backend = backend

    class ResetRequested(Message):
        """Reset pg_stat_statements: one entry, or all of them when `key` is None."""

        def __init__(self, key: StatementKey | None) -> None:
            super().__init__()
            self.key = key

    class ExplainAnalyzeRequested(Message):
        """Run EXPLAIN ANALYZE of this statement (it executes it), after approval."""

        def __init__(self, statement: StatementRate) -> None:
            super().__init__()
            self.statement = statement

    class CreateExtensionRequested(Message):
        """CREATE EXTENSION pg_stat_statements (it is preloaded but not created)."""

    class StatementOpened(Message):
        """Open the detail screen of this statement."""

        def __init__(self, rate: StatementRate) -> None:
            super().__init__()
            self.rate = rate

    class WatchChanged(Message):
        """Keep a history ("pg.watch.*" series) of this statement, or of none."""

        def __init__(self, key: StatementKey | None) -> None:
            super().__init__()
            self.key = key

    def __init__(self, window: str = "interval", read_only: bool = False) -> None:
        super().__init__()
        if window not in WINDOWS:
            raise ValueError(f"unknown window {window!r}; one of {', '.join(WINDOWS)}")
        self.window = window
        self.read_only = read_only
        self.watched: StatementKey | None = None
        self.server: ServerInfo | None = None
        self.sample: StatementsSample | None = None
        self.activity: ActivitySample | None = None
        self._statements_status = SourceStatus("starting")
        self._activity_status = SourceStatus("starting")
        self._composed = False  # `is_mounted` is still False inside on_mount

    def compose(self) -> ComposeResult:
        yield Static(id="pg-summary")
        yield Static(id="pg-statements-status", classes="pg-status")
        yield StatementsTable(id="pg-statements")
        yield Static(id="pg-activity-title")
        yield Static(id="pg-activity-status", classes="pg-status")
        yield ActivityTable(id="pg-activity")
        yield FilterBar("query text, database, user, pid", input_id="pg-filter")
        yield KeyFooter()

    @property
    def statements(self) -> StatementsTable:
        return self.query_one(StatementsTable)

    @property
    def activity_table(self) -> ActivityTable:
        return self.query_one(ActivityTable)

    def on_mount(self) -> None:
        self._composed = True
        self._draw()
        self.statements.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Layer one of three under --read-only: the intrusive keys are not bound (False
        # leaves them out of the active bindings, the footer and the help).
        return not (self.read_only and action in _INTRUSIVE_ACTIONS)

    # data ----------------------------------------------------------------------------------

    def show(self, store: Store) -> None:
        """Read the PostgreSQL sources and redraw what changed."""
        self.server = store.latest(SERVER_SOURCE, ServerInfo)
        sample = store.latest(STATEMENTS_SOURCE, StatementsSample)
        activity = store.latest(ACTIVITY_SOURCE, ActivitySample)
        self._statements_status = store.status(STATEMENTS_SOURCE)
        self._activity_status = store.status(ACTIVITY_SOURCE)
        self.sample, self.activity = sample, activity
        self._draw()

    def _draw(self) -> None:
        if not self._composed:
            return
        if self.sample is not None and self.statements.statements is not self.sample.statements:
            self.statements.update(self.sample.statements)
        if self.activity is not None and self.activity_table.backends is not self.activity.backends:
            self.activity_table.update(self.activity.backends)
        show_text(
            self.query_one("#pg-summary", Static),
            summary(self.server, self.sample, self.window, self.read_only),
        )
        self._draw_status(
            "#pg-statements-status", self.statements, self._statements_status, self.sample
        )
        self._draw_status(
            "#pg-activity-status", self.activity_table, self._activity_status, self.activity
        )
        show_text(self.query_one("#pg-activity-title", Static), self._activity_title())

    def _draw_status(
        self, selector: str, table: LineTable[Any], status: SourceStatus, data: object
    ) -> None:
        line = self.query_one(selector, Static)
        message = status_text(status) if status.state != "ok" else ""
        if message and data is not None:
            message += " · showing the last data read"
        if status.state == "starting" and data is not None:
            message = ""
        line.display = bool(message)
        line.set_class(status.state == "starting", "-starting")
        show_text(line, literal(message))
        # Without any data the message takes the table's place; with data the last rows
        # stay under it (the history is kept, the gap shows in the charts).
        table.display = data is not None or not message

    def _activity_title(self) -> Text:
        table = self.activity_table
        backends = self.activity.backends if self.activity is not None else ()
        clients = sum(b.is_client for b in backends)
        blocked = sum(bool(b.blocked_by) for b in backends)
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append("Activity")
        text.append(f" · {clients} client backends · {len(backends) - clients} background")
        own = len(self.activity.own) if self.activity is not None else 0
        if own:
            text.append(f" · perftop's own {own} not listed")
        if blocked:
            text.append(f" · {blocked} blocked", "bold")
        text.append(" · blocking tree (b)" if table.blocking_tree else " · b: blocking tree")
        for notice in self.activity.notices if self.activity is not None else ():
            text.append(" · ")
            text.append_text(literal(notice))
        return text

    # selection ------------------------------------------------------------------------------

    def _focused_table(self) -> LineTable[Any]:
        if self.activity_table.has_focus:
            return self.activity_table
        return self.statements

    def selected_statement(self) -> StatementRate | None:
        return self.statements.selected

    def selected_backend(self) -> Backend | None:
        return self.activity_table.selected

    # keys ----------------------------------------------------------------------------------

    def action_open(self) -> None:
        if self.activity_table.has_focus:
            self.action_view()
            return
        rate = self.selected_statement()
        if rate is None:
            return
        if self.watched != rate.key:
            self.watched = rate.key
            self.post_message(self.WatchChanged(rate.key))
        self.post_message(self.StatementOpened(rate))

    @on(LineTable.Activated)
    def _activated(self, event: LineTable.Activated) -> None:
        event.stop()
        event.table.focus()
        self.action_open()

    def action_view(self) -> None:
        if self.activity_table.has_focus:
            backend = self.selected_backend()
            if backend is None:
                return
            if backend.query_hidden:
                self.notify("This backend's query is hidden from this role.", severity="warning")
                return
            title = f"backend {backend.pid} · {backend.user} · {backend.database}"
            self.app.push_screen(QueryTextScreen(backend.query, title))
            return
        rate = self.selected_statement()
        if rate is None:
            return
        if rate.query_hidden or not rate.query:
            self.notify("The text of this statement is not visible.", severity="warning")
            return
        title = f"queryid {rate.key.queryid} · {rate.user} · {rate.database}"
        self.app.push_screen(QueryTextScreen(rate.query, title))

    def action_filter(self) -> None:
        box = self.query_one("#pg-filter", Input)
        shown(box, True)
        box.focus()

    @on(Input.Changed, "#pg-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.statements.set_filter(event.value)
        self.activity_table.set_filter(event.value)

    @on(Input.Submitted, "#pg-filter")
    def _filter_kept(self, event: Input.Submitted) -> None:
        shown(self.query_one("#pg-filter", Input), bool(event.value))
        self.statements.focus()

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#pg-filter", Input)
        if event.key == "escape" and box.has_focus:
            event.stop()
            box.value = ""
            shown(box, False)
            self.statements.focus()

    def action_next_window(self) -> None:
        """The next statement window, round from the last to the first."""
        keys = list(WINDOWS)
        self.set_window(keys[(keys.index(self.window) + 1) % len(keys)])

    def set_window(self, window: str) -> None:
        """Choose the statement window; tells the app when it changed."""
        if window not in WINDOWS:
            raise ValueError(f"unknown window {window!r}; one of {', '.join(WINDOWS)}")
        if window != self.window:
            self.window = window
            self.post_message(self.WindowChanged(window))
            self._draw()

    def action_sort(self) -> None:
        table = self._focused_table()
        if table is self.statements:
            choices = [(k, Text(label, end="")) for k, label in STATEMENT_LABELS.items()]
        else:
            choices = [(c.key, Text(c.label, end="")) for c in (*table.COLUMNS, table.LAST)]

        def picked(key: str | None) -> None:
            if key is not None:
                table.set_sort(key)

        self.app.push_screen(ChoicePicker("Sort by", choices, table.sort_key), picked)

    def action_invert(self) -> None:
        table = self._focused_table()
        table.set_sort(table.sort_key, not table.reverse)

    def _pick_name(self, title: str, names: set[str], current: str | None, apply: str) -> None:
        choices = [(_ALL, Text(f"all {title}s", style="italic", end=""))]
        choices += [(name, literal(name)) for name in sorted(names, key=str.casefold)]

        def picked(name: str | None) -> None:
            if name is not None:
                value = None if name == _ALL else name
                self.statements.set_filter(**{apply: value})

        picker = ChoicePicker(f"Statements of {title}", choices, current or _ALL)
        self.app.push_screen(picker, picked)

    def action_pick_database(self) -> None:
        names = {r.database for r in self.statements.statements}
        self._pick_name("database", names, self.statements.database, "database")

    def action_pick_user(self) -> None:
        names = {r.user for r in self.statements.statements}
        self._pick_name("user", names, self.statements.user, "user")

    def action_tree(self) -> None:
        self.activity_table.toggle_tree()
        self._draw()

    def action_workers(self) -> None:
        self.activity_table.toggle_workers()

    def action_watch(self) -> None:
        rate = self.selected_statement()
        key = None if rate is None or rate.key == self.watched else rate.key
        self.watched = key
        self.post_message(self.WatchChanged(key))
        self.notify("Watching this statement." if key else "Not watching any statement.")

    # requests for intrusive actions (the app asks the gate) ----------------------------------

    def _backend_or_say(self) -> Backend | None:
        backend = self.selected_backend() if self.activity_table.has_focus else None
        if backend is None:
            self.notify("Select a backend in Activity first (tab).", severity="warning")
        return backend

    def action_cancel(self) -> None:
        backend = self._backend_or_say()
        if backend is not None:
            self.post_message(self.CancelRequested(backend))

    def action_terminate(self) -> None:
        backend = self._backend_or_say()
        if backend is not None:
            self.post_message(self.TerminateRequested(backend))

    def action_reset(self) -> None:
        rate = self.selected_statement() if self.statements.has_focus else None
        if rate is None:
            self.post_message(self.ResetRequested(None))
            return
        choices = [
            ("one", Text(f"this statement only (queryid {rate.key.queryid})", end="")),
            ("all", Text("all statements", end="")),
        ]

        def picked(which: str | None) -> None:
            if which is not None:
                self.post_message(self.ResetRequested(rate.key if which == "one" else None))

        self.app.push_screen(ChoicePicker("Reset pg_stat_statements", choices, "one"), picked)

    def action_explain(self) -> None:
        rate = self.selected_statement()
        if rate is None:
            return
        if rate.query_hidden or not rate.query:
            self.notify("The text of this statement is not visible.", severity="warning")
            return
        self.post_message(self.ExplainAnalyzeRequested(rate))

    def action_create_extension(self) -> None:
        server = self.server
        if server is None or server.pgss_version is not None:
            self.notify("pg_stat_statements is already there.")
            return
        if not server.pgss_preloaded:
            self.notify(
                "pg_stat_statements must be in shared_preload_libraries first (needs a restart).",
                severity="warning",
            )
            return
        self.post_message(self.CreateExtensionRequested())
