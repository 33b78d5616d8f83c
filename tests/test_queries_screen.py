"""The PostgreSQL screens fed from a hand-filled store: order, filters, the blocking tree,
highlights, failures, literal text, copy, the requests the app turns into actions, render
cost and pixels. Nothing here talks to PostgreSQL: the collectors' tests do."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from rich.style import Style
from textual import on
from textual.app import App
from textual.geometry import Region
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from perftop.collectors.postgres.activity import blocking_tree
from perftop.collectors.postgres.samples import Backend, StatementRate
from perftop.store import SourceStatus, Store
from perftop.themes import load
from perftop.tui.line_table import LineTable
from perftop.tui.pg_tables import (
    STATEMENT_SORTS,
    ActivityTable,
    StatementsTable,
    idle_class,
)
from perftop.tui.queries import INTRUSIVE_BINDINGS, ChoicePicker, QueriesScreen
from perftop.tui.query_text import QueryTextScreen
from perftop.tui.statement_detail import StatementDetailScreen

from .support import (
    activity_sample,
    backend,
    fixed_backends,
    fixed_statements,
    pg_server,
    pg_store,
    run,
    statement,
    statements_sample,
)

# The attribute each sort key orders by, read straight from the sample (not via the table).
FIGURES = {
    "share": "share",
    "ms_per_s": "ms_per_s",
    "calls_per_s": "calls_per_s",
    "mean_ms": "mean_ms",
    "mean_ms_overall": "mean_ms_overall",
    "rows_per_s": "rows_per_s",
    "hit_percent": "hit_percent",
    "blks_read_per_s": "blks_read_per_s",
    "temp_written_per_s": "temp_written_per_s",
    "wal_bytes_per_s": "wal_bytes_per_s",
    "plan_ms": "plan_ms",
}


class Host(App[None]):
    """A bare app that opens `screen`, feeds it `store` and records what it posts."""

    def __init__(self, store: Store | None = None, screen: Screen[Any] | None = None) -> None:
        super().__init__()
        self.store = store
        self.first = screen
        self.posted: list[Message] = []

    def on_mount(self) -> None:
        self.register_theme(load("perftop-dark"))
        self.theme = "perftop-dark"
        screen = self.first if self.first is not None else QueriesScreen()
        self.push_screen(screen)
        if self.store is not None:
            screen.show(self.store)  # type: ignore[attr-defined]  # both screens have show()

    @on(QueriesScreen.WindowChanged)
    @on(QueriesScreen.CancelRequested)
    @on(QueriesScreen.TerminateRequested)
    @on(QueriesScreen.ResetRequested)
    @on(QueriesScreen.ExplainAnalyzeRequested)
    @on(QueriesScreen.CreateExtensionRequested)
    @on(QueriesScreen.StatementOpened)
    @on(QueriesScreen.WatchChanged)
    def _record(self, message: Message) -> None:
        self.posted.append(message)


def queries(app: App[Any]) -> QueriesScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, QueriesScreen)
    return screen


def screen_text(app: App[Any]) -> str:
    strips = app.screen._compositor.render_strips()  # noqa: SLF001 - what is on screen
    return "\n".join(strip.text for strip in strips)


def static_text(screen: Screen[Any], selector: str) -> str:
    content = screen.query_one(selector, Static).render()
    return str(content.plain if hasattr(content, "plain") else content)


def shown_text(widget: Widget) -> str:
    """The characters a widget draws, row by row."""
    size = widget.outer_size  # borders included
    strips = widget.render_lines(Region(0, 0, size.width, size.height))
    return "\n".join(strip.text.rstrip() for strip in strips)


def table_lines(table: LineTable[Any]) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def pids(table: ActivityTable) -> list[int | str]:
    return [r.pid if isinstance(r, Backend) else "section" for r in table.rows_shown]


def shown(table: StatementsTable) -> list[StatementRate]:
    return [r for r in table.rows_shown if isinstance(r, StatementRate)]


# statements: order and filters ----------------------------------------------------------------


@run
async def test_sorting_by_each_figure_orders_biggest_first_and_inverts() -> None:
    app = Host(pg_store())
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        table = queries(app).statements
        orders = set()
        for key, attribute in FIGURES.items():
            table.set_sort(key, reverse=True)
            values = [getattr(r, attribute) for r in shown(table)]
            numbers = [-1.0 if v is None else v for v in values]
            assert numbers == sorted(numbers, reverse=True), key
            assert len(values) == len(fixed_statements())
            orders.add(tuple((r.key, r.user) for r in shown(table)))
            table.set_sort(key, reverse=False)
            numbers = [-1.0 if getattr(r, attribute) is None else getattr(r, attribute)
                       for r in shown(table)]  # fmt: skip
            assert numbers == sorted(numbers), key
        # The fixed data puts the statements in many different orders: sorting did something.
        assert len(orders) >= 8
        table.set_sort("database", reverse=False)
        assert [r.database for r in shown(table)][:2] == ["analytics", "analytics"]
        assert set(FIGURES) | {"database", "user", "query"} == set(STATEMENT_SORTS)


@run
async def test_header_click_sort_keys_and_the_sort_picker() -> None:
    app = Host(pg_store())
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        table = queries(app).statements
        assert table.sort_key == "ms_per_s" and table.reverse
        header = table.render_line(0).text
        x = header.index("calls/s")
        await pilot.click(table, offset=(x + 1, 0))
        await pilot.pause()
        assert table.sort_key == "calls_per_s" and table.reverse
        assert shown(table)[0].key.queryid == 101 and shown(table)[0].user == "app"
        assert "calls/s▼" in table.render_line(0).text
        await pilot.press("I")
        await pilot.pause()
        assert table.sort_key == "calls_per_s" and not table.reverse
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ChoicePicker)
        # From the last choice (query) up past user, database, plan and WAL/s to temp/s.
        await pilot.press("end", "up", "up", "up", "up", "up", "enter")
        await pilot.pause()
        assert table.sort_key == "temp_written_per_s" and table.reverse
        assert shown(table)[0].key.queryid == 103  # the one that spills


@run
async def test_filter_by_text_database_and_user() -> None:
    app = Host(pg_store())
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        screen = queries(app)
        table = screen.statements
        await pilot.press("slash", *"ORDERS")
        await pilot.pause()
        assert {r.key.queryid for r in shown(table)} == {101, 103, 107}
        # Backends are filtered by the same text.
        assert {b.pid for b in screen.activity_table.rows_shown if isinstance(b, Backend)} == {
            303,
            400,
        }
        await pilot.press("escape")
        await pilot.pause()
        assert len(shown(table)) == 8 and table.has_focus
        await pilot.press("d")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, ChoicePicker)
        assert [key for key, _ in picker.choices][1:] == ["analytics", "shop"]
        await pilot.press("down", "enter")
        await pilot.pause()
        assert table.database == "analytics"
        assert {r.key.queryid for r in shown(table)} == {103, 107}
        await pilot.press("u")
        await pilot.pause()
        assert [key for key, _ in app.screen.choices][1:] == ["app", "postgres", "report"]  # type: ignore[attr-defined]
        await pilot.press("down", "down", "down", "enter")
        await pilot.pause()
        assert table.user == "report"
        assert [(r.key.queryid, r.user, r.database) for r in shown(table)] == [
            (103, "report", "analytics")
        ]
        await pilot.press("d", "home", "enter")  # back to all databases
        await pilot.pause()
        assert table.database is None
        assert {(r.key.queryid, r.database) for r in shown(table)} == {
            (103, "analytics"),
            (101, "shop"),
        }
        table.set_filter(database="nowhere")
        await pilot.pause()
        assert "no statement matches the filter" in table.render_line(1).text


@run
async def test_perftops_own_queries_are_shown_apart() -> None:
    app = Host(pg_store())
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        screen = queries(app)
        assert "perftop's own queries: not measured yet" in static_text(screen, "#pg-summary")
        own = statements_sample(own_ms_per_s=0.4, own_calls_per_s=3.0, own_seconds=10.0)
        app.store.put("pg.statements", own)  # type: ignore[union-attr]
        screen.show(app.store)  # type: ignore[arg-type]
        assert "perftop's own queries: 0.4 ms/s, 3.0 calls/s" in static_text(screen, "#pg-summary")
        # perftop's own connections: no row of Activity, not in its counts, said apart.
        others = (backend(7), backend(8), backend(9, backend_type="checkpointer"))
        mine = (backend(4001, application="perftop"), backend(4002))
        app.store.put("pg.activity", activity_sample(others, own=mine))  # type: ignore[union-attr]
        screen.show(app.store)  # type: ignore[arg-type]
        await pilot.pause()
        title = static_text(screen, "#pg-activity-title")
        assert "2 client backends · 1 background · perftop's own 2 not listed" in title
        assert sorted(p for p in pids(screen.activity_table) if isinstance(p, int)) == [7, 8, 9]


@run
async def test_w_cycles_the_window() -> None:
    app = Host(pg_store())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = queries(app)
        assert screen.window == "interval"
        assert "window: last interval (2.0s)" in static_text(screen, "#pg-summary")
        await pilot.press("w")
        await pilot.pause()
        assert not isinstance(app.screen, ChoicePicker)
        changed = [m for m in app.posted if isinstance(m, QueriesScreen.WindowChanged)]
        assert [m.window for m in changed] == ["minute"]
        assert screen.window == "minute"
        # The sample is still the interval's: the screen says it is waiting, not wrong figures.
        assert "window: last minute (waiting" in static_text(screen, "#pg-summary")
        app.store.put("pg.statements", statements_sample(window="minute"))  # type: ignore[union-attr]
        screen.show(app.store)  # type: ignore[arg-type]
        assert "window: last minute (2.0s)" in static_text(screen, "#pg-summary")
        await pilot.press("w", "w", "w")  # session, reset, and round to the interval again
        await pilot.pause()
        assert [m.window for m in app.posted if isinstance(m, QueriesScreen.WindowChanged)] == [
            "minute",
            "session",
            "reset",
            "interval",
        ]
        screen.set_window("interval")  # the same window again: nothing to tell
        assert len([m for m in app.posted if isinstance(m, QueriesScreen.WindowChanged)]) == 4


# activity --------------------------------------------------------------------------------------


def test_blocking_tree_root_first_each_backend_once() -> None:
    a, b, c, d = backend(1), backend(2, blocked_by=(1,)), backend(3, blocked_by=(2,)), backend(4)
    assert [(x.pid, depth) for x, depth in blocking_tree((d, c, b, a))] == [
        (1, 0), (2, 1), (3, 2),
    ]  # fmt: skip
    # Blocked by two, waiting on a pid not listed (a prepared transaction), and a cycle.
    e, f = backend(5, blocked_by=(1, 2)), backend(6, blocked_by=(0,))
    g, h = backend(7, blocked_by=(8,)), backend(8, blocked_by=(7,))
    assert [(x.pid, depth) for x, depth in blocking_tree((a, b, e, f, g, h))] == [
        (1, 0), (2, 1), (5, 1), (6, 0), (7, 0), (8, 1),
    ]  # fmt: skip
    # A hot row: each of 40 waiters is blocked by every earlier one. One line each.
    queue = [backend(100 + i, blocked_by=tuple(range(100, 100 + i))) for i in range(40)]
    order = blocking_tree(queue)
    assert [x.pid for x, _ in order] == list(range(100, 140))
    assert [depth for _, depth in order][:3] == [0, 1, 1]
    # A chain deeper than Python's recursion limit.
    chain = [backend(1000 + i, blocked_by=(999 + i,) if i else ()) for i in range(3000)]
    assert [depth for _, depth in blocking_tree(chain)] == list(range(3000))


@run
async def test_blocking_tree_chain_root_first_then_the_independent() -> None:
    a = backend(10, "idle in transaction", query_seconds=None)
    b = backend(11, blocked_by=(10,), query_seconds=5.0)
    c = backend(12, blocked_by=(11,), query_seconds=50.0)
    d = backend(13, query_seconds=500.0)
    store = pg_store()
    store.put("pg.activity", activity_sample((d, c, b, a)))
    app = Host(store)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        table = queries(app).activity_table
        assert pids(table) == [13, 12, 11, 10]  # flat: longest running query first
        await pilot.press("b")
        await pilot.pause()
        assert pids(table) == [10, 11, 12, 13]
        lines = table_lines(table)[1:5]
        assert [line.split()[0] for line in lines] == ["10", "11", "12", "13"]
        assert "└─" not in lines[0] and "└─" not in lines[3]  # the root and the independent
        assert "└─ SELECT 1" in lines[1]
        assert lines[2].index("└─ SELECT 1") == lines[1].index("└─ SELECT 1") + 3  # one deeper


@run
async def test_blocking_tree_view_roots_first_with_guides() -> None:
    app = Host(pg_store())
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        screen = queries(app)
        table = screen.activity_table
        assert not table.blocking_tree
        await pilot.press("b")
        await pilot.pause()
        assert table.blocking_tree
        assert pids(table)[:3] == [300, 301, 302]
        assert "blocking tree (b)" in static_text(screen, "#pg-activity-title")
        lines = table_lines(table)
        assert "└─ UPDATE stock SET qty = 1" in lines[2]
        assert "   └─ DELETE FROM stock" in lines[3]
        await pilot.press("b")
        await pilot.pause()
        # Flat: running queries first, longest on top; the idle blocker after them.
        assert pids(table)[:2] == [301, 302]


@run
async def test_background_workers_in_their_own_section() -> None:
    app = Host(pg_store())
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        table = queries(app).activity_table
        order = pids(table)
        assert order[-3:] == ["section", 400, 401]
        assert all(isinstance(p, int) and p < 400 for p in order[:-3])
        label = table.rows_shown[-3]
        assert label == "── background workers (2) ──"
        table.focus()
        await pilot.press("g")
        await pilot.pause()
        assert pids(table)[-1] == "section" and 400 not in pids(table)
        assert "hidden" in str(table.rows_shown[-1])


@run
async def test_idle_in_transaction_stands_out_by_how_long() -> None:
    assert idle_class(backend(1, "idle in transaction", state_seconds=3.0)) == ""
    assert (
        idle_class(backend(1, "idle in transaction", state_seconds=12.0)) == "line-table--warning"
    )
    assert idle_class(backend(1, "idle in transaction (aborted)", state_seconds=61.0)) == (
        "line-table--error"
    )
    assert idle_class(backend(1, "active", state_seconds=600.0)) == ""
    app = Host(pg_store())
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        table = queries(app).activity_table

        def state_style(pid: int) -> Style:
            y = 1 + pids(table).index(pid) - table.scroll_offset.y
            for segment in table.render_line(y):
                if "idle in xact" in segment.text or " active " in segment.text:
                    assert segment.style is not None
                    return segment.style
            raise AssertionError(f"no state cell for {pid}")

        table.action_last()  # the cursor's colours win on its line: keep it off these
        await pilot.pause()
        error = table.get_component_rich_style("line-table--error").color
        warning = table.get_component_rich_style("line-table--warning").color
        assert error is not None and warning is not None and error != warning
        assert state_style(300).color == error  # 90 s idle in transaction
        assert state_style(300).bold
        assert state_style(303).color == warning  # 12 s
        assert state_style(301).color not in (warning, error)  # active


# failures ---------------------------------------------------------------------------------------


@run
async def test_a_failing_source_shows_its_message_and_keeps_the_last_data() -> None:
    store = Store()
    app = Host(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = queries(app)
        assert "PostgreSQL: connecting…" in static_text(screen, "#pg-statements-status")
        failing = SourceStatus("failing", "connection refused at 127.0.0.1:5432", retry_in=8.0)
        store.set_status("pg.statements", failing)
        store.set_status("pg.activity", failing)
        screen.show(store)
        await pilot.pause()
        message = "PostgreSQL: connection refused at 127.0.0.1:5432 (retrying in 8s)"
        assert static_text(screen, "#pg-statements-status") == message
        assert not screen.statements.display  # the message takes the table's place
        assert message in screen_text(app)
        # Data arrives, then the server goes away again: the last rows stay under the message.
        store.put("pg.server", pg_server())
        store.put("pg.statements", statements_sample())
        store.put("pg.activity", activity_sample())
        screen.show(store)
        await pilot.pause()
        assert not screen.query_one("#pg-statements-status").display
        assert screen.statements.display and len(shown(screen.statements)) == 8
        store.set_status("pg.statements", failing)
        screen.show(store)
        await pilot.pause()
        status = static_text(screen, "#pg-statements-status")
        assert status.startswith(message) and "showing the last data read" in status
        assert screen.statements.display and len(shown(screen.statements)) == 8
        assert "UPDATE stock SET qty = qty" in screen_text(app)


@run
async def test_notices_missing_role_reset_and_missing_extension_in_plain_words() -> None:
    store = pg_store(can_read_all_stats=False, user="app")
    store.put(
        "pg.statements",
        statements_sample(reset_seen=True, notices=("gap of 12s after a reconnect",)),
    )
    app = Host(store)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        text = static_text(queries(app), "#pg-summary")
        assert "gap of 12s after a reconnect" in text
        assert "pg_stat_statements was reset: the figures started over" in text
        assert "role app is not a member of pg_read_all_stats" in text
        assert "other users' query texts are hidden" in text
        store.put("pg.server", pg_server(pgss_version=None))
        queries(app).show(store)
        assert "press E to create it" in static_text(queries(app), "#pg-summary")
        store.put("pg.server", pg_server(pgss_version=None, pgss_preloaded=False))
        queries(app).show(store)
        text = static_text(queries(app), "#pg-summary")
        assert "shared_preload_libraries = 'pg_stat_statements'" in text and "restart" in text


# untrusted text ---------------------------------------------------------------------------------


@run
async def test_hostile_query_text_is_literal_everywhere() -> None:
    app = Host(pg_store())
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        screen = queries(app)
        text = screen_text(app)
        assert "SELECT '[red]x[/red]' ^[[31m" in text  # statements and activity
        assert text.count("[red]x[/red]") == 2
        assert "[b]app^[]0" in text  # the application name: markup and OSC shown inert
        hostile = next(b for b in fixed_backends() if b.pid == 304)
        assert screen.activity_table.cell(hostile, "application")[0] == "[b]app^[]0;t^G"
        assert "\x1b" not in text and "\x07" not in text
        table = screen.statements
        table.set_sort("calls_per_s", reverse=False)
        index = [r.key.queryid for r in shown(table)].index(104)
        table.move_cursor(index)
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, QueryTextScreen)
        text = screen_text(app)
        assert "SELECT '[red]x[/red]' ^[[31m" in text and "\x1b" not in text
        await pilot.press("escape", "enter")
        await pilot.pause()
        detail = StatementDetailScreen(shown(table)[index])
        app.push_screen(detail)
        await pilot.pause()
        detail.show(app.store)  # type: ignore[arg-type]
        await pilot.pause()
        assert static_text(detail, "#stmt-text") == "SELECT '[red]x[/red]' ^[[31m"
        assert "\x1b" not in screen_text(app)


@run
async def test_copy_key_copies_the_exact_text(monkeypatch: pytest.MonkeyPatch) -> None:
    copied: list[str] = []
    query = "SELECT *\n  FROM orders\tWHERE note = '\x1b[31m'"
    app = Host(screen=QueryTextScreen(query, "queryid 1"))
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = static_text(app.screen, "#query-text")
        assert text.splitlines() == ["SELECT *", "  FROM orders WHERE note = '^[[31m'"]
        await pilot.press("y")
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert copied == [query, query]
        notices = [n.message for n in app._notifications]  # noqa: SLF001 - what was said
        assert f"copied {len(query)} characters" in notices
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, QueryTextScreen)


# requests for the app ---------------------------------------------------------------------------


@run
async def test_each_request_is_posted_with_the_selected_object() -> None:
    store = pg_store()
    app = Host(store)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        screen = queries(app)
        top = screen.selected_statement()
        assert top is not None and top.key.queryid == 103
        await pilot.press("enter")
        await pilot.pause()
        assert [type(m) for m in app.posted] == [
            QueriesScreen.WatchChanged,
            QueriesScreen.StatementOpened,
        ]
        assert app.posted[0].key == top.key and app.posted[1].rate is top  # type: ignore[attr-defined]
        await pilot.press("A")
        await pilot.pause()
        assert app.posted[-1].statement is top  # type: ignore[attr-defined]
        await pilot.press("R", "enter")  # this statement only
        await pilot.pause()
        assert isinstance(app.posted[-1], QueriesScreen.ResetRequested)
        assert app.posted[-1].key == top.key
        await pilot.press("R", "down", "enter")  # all
        await pilot.pause()
        assert isinstance(app.posted[-1], QueriesScreen.ResetRequested)
        assert app.posted[-1].key is None
        await pilot.press("W")
        await pilot.pause()
        assert isinstance(app.posted[-1], QueriesScreen.WatchChanged)
        assert app.posted[-1].key is None  # it was watched since Enter: W stops watching
        count = len(app.posted)
        await pilot.press("c")  # the statements table has focus: no backend is chosen
        await pilot.pause()
        assert len(app.posted) == count
        await pilot.press("tab", "down")
        await pilot.pause()
        assert screen.activity_table.has_focus
        chosen = screen.selected_backend()
        assert chosen is not None and chosen.pid == 302
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.posted[-1], QueriesScreen.CancelRequested)
        assert app.posted[-1].backend is chosen
        await pilot.press("K")
        await pilot.pause()
        assert isinstance(app.posted[-1], QueriesScreen.TerminateRequested)
        assert app.posted[-1].backend is chosen
        count = len(app.posted)
        await pilot.press("E")  # the extension exists: nothing to create
        await pilot.pause()
        assert len(app.posted) == count
        store.put("pg.server", pg_server(pgss_version=None))
        screen.show(store)
        await pilot.press("E")
        await pilot.pause()
        assert isinstance(app.posted[-1], QueriesScreen.CreateExtensionRequested)


@run
async def test_read_only_has_no_intrusive_keys() -> None:
    ids = {b.id for b in QueriesScreen.BINDINGS if hasattr(b, "id")}
    assert INTRUSIVE_BINDINGS <= ids and all(i.startswith("pg-") for i in INTRUSIVE_BINDINGS)
    store = pg_store(pgss_version=None)
    app = Host(store, QueriesScreen(read_only=True))
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        screen = queries(app)
        bound = {active.binding.id for active in screen.active_bindings.values()}
        assert not bound & INTRUSIVE_BINDINGS and "queries.window" in bound
        await pilot.press("A", "R", "E", "tab", "c", "K")
        await pilot.pause()
        assert app.posted == []
        assert "perftop is read-only" in static_text(screen, "#pg-summary")


# render cost ------------------------------------------------------------------------------------


@run
async def test_five_thousand_statements_render_only_visible_lines() -> None:
    many = tuple(
        statement(10_000 + i, f"SELECT {i} FROM t{i % 97}", calls=1 + (i * 37) % 1000,
                  ms=float((i * 7919) % 5000), userid=10 + i % 3)
        for i in range(5000)
    )  # fmt: skip
    store = pg_store()
    app = Host(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        table = queries(app).statements
        calls: list[int] = []
        draw = table.render_line

        def counted(y: int):  # type: ignore[no-untyped-def]
            calls.append(y)
            return draw(y)

        formatted: list[int] = []
        format_row = table._row_strip  # noqa: SLF001 - the per-row formatting

        def counted_rows(index: int, cursor: bool):  # type: ignore[no-untyped-def]
            formatted.append(index)
            return format_row(index, cursor)

        table.render_line = counted  # type: ignore[method-assign]  # counting spy
        table._row_strip = counted_rows  # type: ignore[method-assign]  # counting spy
        store.put("pg.statements", statements_sample(many))
        queries(app).show(store)
        await pilot.pause()
        assert len(shown(table)) == 5000
        assert 0 < len(calls) <= 2 * table.size.height
        assert max(calls) < table.size.height
        assert 0 < len(formatted) <= 2 * table.size.height  # only visible rows were formatted
        assert max(formatted) < table.size.height
        calls.clear()
        await pilot.press("down")
        await pilot.pause()
        assert sorted(calls) == [1, 2]  # the two cursor lines, not the screen


# the statement detail ----------------------------------------------------------------------------


def detail_store() -> Store:
    store = pg_store()
    for i in range(40):
        store.extend(
            {
                "pg.watch.ms_per_s": float((i * 37) % 900),
                "pg.watch.calls_per_s": 1.0 + i % 3,
                "pg.watch.mean_ms": 1300.0 + (i * 11) % 200,
                "pg.watch.rows_per_s": float(i % 7),
            }
        )
    return store


def orders_statement() -> StatementRate:
    return next(r for r in fixed_statements() if r.key.queryid == 101 and r.user == "app")


@run
async def test_statement_detail_figures_runners_charts_and_plan() -> None:
    store = detail_store()
    app = Host(store, StatementDetailScreen(orders_statement()))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StatementDetailScreen)
        assert static_text(screen, "#stmt-text") == "SELECT * FROM orders WHERE id = $1"
        runners = shown_text(screen.query_one("#stmt-runners"))
        assert (
            "app" in runners
            and "report" in runners
            and runners.index("app") < runners.index("report")
        )
        spark = screen.query_one("#chart-pg-watch-ms_per_s", Sparkline)
        assert spark.data == store.history("pg.watch.ms_per_s") and len(spark.data or ()) == 40
        figures = shown_text(screen.query_one("#stmt-figures"))
        assert "2.0k/s (4000 in all)" in figures and "12ms" in figures
        assert "fetching the plan" in static_text(screen, "#stmt-plan")
        reason = (
            "EXPLAIN without execution needs PostgreSQL 16 (GENERIC_PLAN); this server is 15.18"
        )
        screen.show_plan(None, reason)
        assert static_text(screen, "#stmt-plan") == reason
        screen.show_plan("Index Scan using orders_pkey on orders\n  Index Cond: (id = $1)", "")
        assert static_text(screen, "#stmt-plan").splitlines()[1] == "  Index Cond: (id = $1)"
        # The statement left the window: last figures stay, the title says so.
        store.put("pg.statements", statements_sample(fixed_statements()[2:6]))
        screen.show(store)
        assert "not in the latest window" in static_text(screen, "#stmt-title")
        await pilot.pause()
        assert "4000 in all" in shown_text(screen.query_one("#stmt-figures"))
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, StatementDetailScreen)


# pixels -----------------------------------------------------------------------------------------


def test_snapshot_queries_80x24(snap_compare: Any) -> None:
    assert snap_compare(Host(pg_store()), terminal_size=(80, 24))


def test_snapshot_queries_160x45(snap_compare: Any) -> None:
    async def tree(pilot: Any) -> None:
        await pilot.press("b")

    assert snap_compare(Host(pg_store()), terminal_size=(160, 45), run_before=tree)


def test_snapshot_statement_detail_100x30(snap_compare: Any) -> None:
    screen = StatementDetailScreen(orders_statement())

    async def plan(pilot: Any) -> None:
        screen.show_plan(None, "EXPLAIN without execution needs PostgreSQL 16 (GENERIC_PLAN);"
                         " this server is 15.18")  # fmt: skip

    assert snap_compare(Host(detail_store(), screen), terminal_size=(100, 30), run_before=plan)


# layout: columns take the width there is ---------------------------------------------------------

PGBENCH_BALANCE = "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2"
PGBENCH_FILLER = "UPDATE pgbench_accounts SET filler = $1 WHERE aid = $2"


def layout_store() -> Store:
    """The fixed data plus two statements alike for 28 characters and the workers whose
    names and waits are long (what pgbench and a stock server show)."""
    store = pg_store()
    rates = (
        *fixed_statements(),
        statement(201, PGBENCH_BALANCE, user="bench", userid=13, database="pgbench",
                  dbid=7, calls=900, ms=1800.0, mean_overall=2.0, rows=900.0),
        statement(202, PGBENCH_FILLER, user="bench", userid=13, database="pgbench",
                  dbid=7, calls=300, ms=1700.0, mean_overall=5.5, rows=300.0),
    )  # fmt: skip
    total = sum(r.total_ms for r in rates)
    rates = tuple(dataclasses.replace(r, share=100.0 * r.total_ms / total) for r in rates)
    store.put("pg.statements", statements_sample(rates))
    backends = (
        *fixed_backends(),
        backend(310, "active", PGBENCH_BALANCE, user="bench", database="pgbench",
                query_seconds=0.02, xact_seconds=0.03, state_seconds=0.02),
        backend(311, "active", PGBENCH_FILLER, user="bench", database="pgbench",
                query_seconds=0.01, xact_seconds=0.01, state_seconds=0.01),
        backend(402, "", "", user="", database="", client="", application="",
                backend_type="checkpointer", query_seconds=None, xact_seconds=None,
                state_seconds=None, wait=("Activity", "CheckpointerMain")),
        backend(403, "", "", user="", database="", client="", application="",
                backend_type="background writer", query_seconds=None, xact_seconds=None,
                state_seconds=None, wait=("Activity", "BgWriterHibernate")),
    )  # fmt: skip
    store.put("pg.activity", activity_sample(backends))
    return store


def header_of(table: LineTable[Any]) -> list[str]:
    return table.render_line(0).text.replace("▼", " ").replace("▲", " ").split()


def line_of(table: LineTable[Any], pid: int) -> str:
    return table_lines(table)[1 + pids(table).index(pid) - table.scroll_offset.y]  # type: ignore[arg-type]


def cell_texts(table: LineTable[Any], key: str) -> list[str]:
    """What the screen shows of column `key` in each data row on screen."""
    spans = {column.key: (x, column.width) for column, x in table._layout}  # noqa: SLF001
    x, width = spans[key]
    lines = table_lines(table)[1:]
    rows = table.rows_shown[table.scroll_offset.y :][: len(lines)]
    return [
        line[x : x + width].strip()
        for line, row in zip(lines, rows, strict=False)
        if not isinstance(row, str)
    ]


@run
async def test_at_80_columns_durations_xact_and_user_stay_and_statements_read_apart() -> None:
    app = Host(layout_store())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = queries(app)
        activity = screen.activity_table
        header = header_of(activity)
        for label in ("PID", "USER", "STATE", "TIME", "XACT", "WAIT"):
            assert label in header, header
        # The root blocker (idle in transaction for 90 s) shows how long, in both columns.
        activity.move_cursor(pids(activity).index(300))
        await pilot.pause()
        root = line_of(activity, 300)
        assert "1m30s" in root and "1m36s" in root, root
        statements = screen.statements
        assert "USER" in header_of(statements) and "mean" in header_of(statements)
        shown_queries = cell_texts(statements, "query")
        balance = [q for q in shown_queries if "abalance" in q]
        filler = [q for q in shown_queries if "filler" in q]
        assert len(balance) == 1 and len(filler) == 1, shown_queries
        assert all(q.startswith("UPDATE") for q in balance + filler)
        texts = cell_texts(activity, "query")
        assert any("abalance" in t for t in texts) and any("filler" in t for t in texts), texts


@run
async def test_at_160_columns_no_value_is_cut_when_there_is_room() -> None:
    app = Host(layout_store())
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        activity = queries(app).activity_table
        activity.action_last()
        await pilot.pause()
        text = "\n".join(table_lines(activity))
        for value in ("logical replication launcher", "background writer", "checkpointer",
                      "Activity:LogicalLauncherMain", "Activity:CheckpointerMain",
                      "Activity:BgWriterHibernate", "Lock:transactionid", "idle in xact",
                      "10.0.0.5:51234"):  # fmt: skip
            assert value in text, value
        # What is left goes to the query text, which runs to the table's edge.
        assert "UPDATE pgbench_accounts SET abalance" in text
        column, x = activity._layout[-1]  # noqa: SLF001 - the layout drawn
        assert (
            column.key == "query" and x + column.width == activity.scrollable_content_region.width
        )
        assert column.width >= ActivityTable.MIN_LAST
        statements = queries(app).statements
        assert "UPDATE pgbench_accounts SET filler = $1 WHERE aid = $2" in "\n".join(
            table_lines(statements)
        )


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
@run
async def test_one_rule_for_durations_every_backend_with_a_state_has_a_time(
    size: tuple[int, int],
) -> None:
    app = Host(layout_store())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        activity = queries(app).activity_table
        backends = {b.pid: b for b in fixed_backends()}
        for row, time in zip(
            [r for r in activity.rows_shown if isinstance(r, Backend)],
            cell_texts(activity, "query_seconds"),
            strict=False,
        ):
            if row.state:  # running a query or not: how long it has been in its state
                assert time, (row.pid, row.state)
            else:  # a worker PostgreSQL gives no state: nothing to time
                assert time == "", (row.pid, time)
        assert cell_texts(activity, "query_seconds")[pids(activity).index(305)] == "5m"
        assert backends[305].query_seconds is None  # idle: no query runs, its state lasts


def test_snapshot_pg_tables_80x24(snap_compare: Any) -> None:
    assert snap_compare(Host(layout_store()), terminal_size=(80, 24))


def test_snapshot_pg_tables_160x45(snap_compare: Any) -> None:
    assert snap_compare(Host(layout_store()), terminal_size=(160, 45))


@run
async def test_a_tick_with_new_figures_repaints_without_laying_the_screen_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four lines updated every tick with Static.update used to lay the whole screen out
    once a tick: on a real server that cost more than drawing the two tables."""
    from textual.screen import Screen as TextualScreen

    layouts = 0
    real = TextualScreen._refresh_layout

    def counted(self: TextualScreen[Any], *args: Any, **kwargs: Any) -> None:
        nonlocal layouts
        layouts += 1
        real(self, *args, **kwargs)

    monkeypatch.setattr(TextualScreen, "_refresh_layout", counted)
    app = Host(pg_store())
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        screen = queries(app)
        before = static_text(screen, "#pg-summary")
        layouts = 0
        for tick in range(1, 6):
            rates = tuple(
                dataclasses.replace(r, ms_per_s=r.ms_per_s + tick) for r in fixed_statements()
            )
            app.store.put("pg.statements", statements_sample(rates))  # type: ignore[union-attr]
            screen.show(app.store)  # type: ignore[arg-type]
            await pilot.pause()
        assert static_text(screen, "#pg-summary") != before  # the figures did change
        assert layouts == 0
