"""One statement in full: its normalised text, figures, history, who runs it, and its plan.

The app opens it with the `StatementRate` the person chose (and watches that statement, so
the collector keeps the "pg.watch.*" series), calls `show(store)` on every store change and
hands it a plan with `show_plan(text, reason)`: an estimated or generic plan (EXPLAIN, never
executed), or the reason there is none. When the plan was not fetched because planning could
run code outside pg_catalog (`plan_refused`), the screen says why and offers `P`, which asks
the opener (`ask_plan`) to send a PlanStatement through the gate. Results that arrive after
the screen was closed are dropped. The text is untrusted and shown literally.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Sparkline, Static

from ..collectors.postgres.plan_safety import Assessment
from ..collectors.postgres.samples import StatementRate, StatementsSample
from ..store import SourceStatus, Store
from .footer import KeyFooter
from .pg_tables import HIDDEN_QUERY, NOT_FETCHED, WINDOWS, figure, status_text
from .queries import STATEMENTS_SOURCE
from .query_text import QueryTextScreen, full_text
from .text import literal
from .units import fmt_bytes, fmt_time_ms

WATCH_SERIES: tuple[tuple[str, str], ...] = (
    ("pg.watch.ms_per_s", "ms/s"),
    ("pg.watch.calls_per_s", "calls/s"),
    ("pg.watch.mean_ms", "mean ms"),
    ("pg.watch.rows_per_s", "rows/s"),
)
"""The watched statement's series in the store, and their labels."""

PLAN_PENDING = "fetching the plan…"


def figures(rate: StatementRate) -> Table:
    """The statement's figures over its window, two columns of label and value."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    hit = "" if rate.hit_percent is None else f"{rate.hit_percent:.1f}%"
    rows = (
        ("share of DB time", f"{rate.share:.1f}%"),
        ("execution", f"{figure(rate.ms_per_s)} ms/s ({fmt_time_ms(rate.total_ms)} in all)"),
        ("calls", f"{figure(rate.calls_per_s)}/s ({rate.calls} in all)"),
        ("mean", fmt_time_ms(rate.mean_ms) if rate.calls else "no call"),
        ("mean overall", fmt_time_ms(rate.mean_ms_overall)),
        ("rows", f"{figure(rate.rows_per_s)}/s"),
        ("buffer hits", hit or "no block access"),
        ("blocks read", f"{figure(rate.blks_read_per_s)}/s"),
        ("temp written", f"{figure(rate.temp_written_per_s)} blocks/s"),
        ("WAL", f"{fmt_bytes(rate.wal_bytes_per_s)}/s" if rate.wal_bytes_per_s else "0"),
        ("planning", fmt_time_ms(rate.plan_ms) if rate.plan_ms else "not tracked or 0"),
        ("level", "top level" if rate.key.toplevel else "nested (inside a function)"),
    )
    for label, value in rows:
        style = "bold" if label == "temp written" and rate.temp_written_per_s > 0 else ""
        grid.add_row(label, Text(value, style=style))
    return grid


class StatementDetailScreen(Screen[None]):
    """A statement's text, figures, charts, databases and users, and EXPLAIN."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="statement.back"),
        Binding("v", "view", "View / copy text", id="statement.view"),
        Binding("P", "plan", "Plan (asks first)", id="pg-plan"),
    ]
    DEFAULT_CSS = """
    StatementDetailScreen #stmt-title {
        height: 1; padding: 0 1; text-style: bold; text-wrap: nowrap; text-overflow: ellipsis;
    }
    StatementDetailScreen #stmt-status { height: auto; color: $error; padding: 0 1; }
    StatementDetailScreen .stmt-box {
        height: auto;
        border: round $panel;
        border-title-color: $foreground-muted;
        padding: 0 1;
    }
    StatementDetailScreen #stmt-numbers { height: auto; }
    StatementDetailScreen #stmt-figures { width: auto; min-width: 40; height: auto; }
    StatementDetailScreen #stmt-charts { width: 1fr; height: auto; }
    StatementDetailScreen #stmt-charts Static { text-wrap: nowrap; text-overflow: ellipsis; }
    StatementDetailScreen #stmt-charts Sparkline { height: 1; margin-bottom: 1; }
    StatementDetailScreen #stmt-plan.-unavailable { color: $foreground-muted; }
    """

    def __init__(
        self,
        rate: StatementRate,
        *,
        read_only: bool = False,
        ask_plan: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.read_only = read_only
        self.ask_plan = ask_plan
        """Called when the person asks for a plan the check refused (`P`)."""
        self.assessment: Assessment | None = None
        """Why the plan was not fetched unasked, while it is not (None otherwise)."""
        self.rate = rate
        """The statement's newest figures (those it was opened with until a sample has it)."""
        self.window = ""
        """The window of the newest sample ("" before the first)."""
        self.seconds = rate.seconds
        self.in_sample = True
        """Whether the newest sample has this statement (False: it ran no more)."""
        self.runners: tuple[StatementRate, ...] = (rate,)
        """Every entry with this queryid: the databases and users running it."""
        self.histories: dict[str, tuple[float, ...]] = {name: () for name, _ in WATCH_SERIES}
        self.status = SourceStatus("ok")
        self.plan: str | None = None
        self.plan_reason = PLAN_PENDING
        self._composed = False  # `is_mounted` is still False inside on_mount

    def compose(self) -> ComposeResult:
        yield Static(id="stmt-title")
        yield Static(id="stmt-status")
        with VerticalScroll(id="stmt-body"):
            yield Static(id="stmt-text", classes="stmt-box")
            with Horizontal(id="stmt-numbers"):
                yield Static(id="stmt-figures", classes="stmt-box")
                with Vertical(id="stmt-charts", classes="stmt-box"):
                    for name, _ in WATCH_SERIES:
                        yield Static(id=f"label-{_id(name)}")
                        yield Sparkline((), id=f"chart-{_id(name)}")
            yield Static(id="stmt-runners", classes="stmt-box")
            yield Static(id="stmt-plan", classes="stmt-box")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#stmt-text").border_title = "Statement"
        self.query_one("#stmt-figures").border_title = "Figures"
        self.query_one("#stmt-charts").border_title = "History"
        self.query_one("#stmt-runners").border_title = "Run by"
        self.query_one("#stmt-plan").border_title = "EXPLAIN"
        self._composed = True
        self._redraw()

    def on_unmount(self) -> None:
        self._composed = False  # a plan arriving after the screen closed is dropped

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "plan":
            return self._may_ask()
        return True

    def _may_ask(self) -> bool:
        return self.assessment is not None and self.ask_plan is not None and not self.read_only

    def action_plan(self) -> None:
        if self._may_ask() and self.ask_plan is not None:
            self.ask_plan()

    def action_back(self) -> None:
        # dismiss, so the opener's callback (stop watching) runs.
        self.dismiss()

    def action_view(self) -> None:
        if self.rate.query and not self.rate.query_hidden:
            self.app.push_screen(
                QueryTextScreen(self.rate.query, f"queryid {self.rate.key.queryid}")
            )

    def show(self, store: Store) -> None:
        """Read this statement's newest figures, its watch series and the source's status."""
        self.status = store.status(STATEMENTS_SOURCE)
        sample = store.latest(STATEMENTS_SOURCE, StatementsSample)
        if sample is not None:
            self.window, self.seconds = sample.window, sample.seconds
            same = [r for r in sample.statements if r.key.queryid == self.rate.key.queryid]
            mine = [r for r in same if r.key == self.rate.key]
            self.in_sample = bool(mine)
            if mine:
                self.rate = mine[0]
            if same:
                self.runners = tuple(sorted(same, key=lambda r: (-r.ms_per_s, r.key)))
        for name, _ in WATCH_SERIES:
            # Keep the last history when the series is gone (the store dropped it).
            self.histories[name] = store.history(name) or self.histories[name]
        self._redraw()

    def show_plan(self, text: str | None, reason: str) -> None:
        """The plan without execution, or None and why there is none."""
        self.plan, self.plan_reason = text, reason
        self.assessment = None
        self._redraw()

    def plan_refused(self, assessment: Assessment, why: str) -> None:
        """Planning it unasked could run code outside pg_catalog: say why, offer `P`."""
        self.plan, self.assessment = None, assessment
        if self.read_only:
            self.plan_reason = f"plan not fetched: {why} (perftop is read-only: it is not planned)"
        else:
            self.plan_reason = f"plan not fetched: {why}; press P to plan it (asks first)"
        self._redraw()

    # drawing ----------------------------------------------------------------------------------

    def _redraw(self) -> None:
        if not self._composed:
            return
        rate = self.rate
        title = Text(no_wrap=True, overflow="ellipsis", end="")
        title.append(f"queryid {rate.key.queryid} · ")
        title.append_text(literal(rate.user))
        title.append(" · ")
        title.append_text(literal(rate.database))
        if self.window:
            title.append(f" · {WINDOWS.get(self.window, self.window)} ({self.seconds:.1f}s)")
        if not self.in_sample:
            title.append(" · not in the latest window: showing the last figures", "italic")
        self.query_one("#stmt-title", Static).update(title)
        status = self.query_one("#stmt-status", Static)
        message = status_text(self.status) if self.status.state == "failing" else ""
        status.display = bool(message)
        status.update(literal(message))
        if rate.query_hidden:
            body = Text(HIDDEN_QUERY, style="italic")
        else:
            body = full_text(rate.query) if rate.query.strip() else Text(NOT_FETCHED, "italic")
        self.query_one("#stmt-text", Static).update(body)
        self.query_one("#stmt-figures", Static).update(figures(rate))
        for name, label in WATCH_SERIES:
            points = self.histories[name]
            line = Text.assemble((label, "bold"), no_wrap=True, end="")
            if points:
                line.append(f"  now {figure(points[-1])}  max {figure(max(points))}", "dim")
            else:
                line.append("  no history yet", "dim")
            self.query_one(f"#label-{_id(name)}", Static).update(line)
            self.query_one(f"#chart-{_id(name)}", Sparkline).data = tuple(points)
        self.query_one("#stmt-runners", Static).update(self._runners())
        plan = self.query_one("#stmt-plan", Static)
        plan.set_class(self.plan is None, "-unavailable")
        plan.update(full_text(self.plan) if self.plan is not None else literal(self.plan_reason))
        self.refresh_bindings()

    def _runners(self) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        grid.add_column(justify="right", no_wrap=True)
        for r in self.runners:
            level = "" if r.key.toplevel else " (nested)"
            grid.add_row(
                literal(r.database),
                literal(r.user + level),
                f"{figure(r.ms_per_s)} ms/s",
                f"{figure(r.calls_per_s)} calls/s",
            )
        return grid


def _id(series: str) -> str:
    return series.replace(".", "-")
