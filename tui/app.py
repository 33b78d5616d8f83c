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
from collections.abc import Iterable
from typing import ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from ..actions.audit import AuditLog
from ..actions.gate import Action, Gate
from ..actions.process import ProcessTarget, Renice, SendSignal
from ..collectors.base import Collection
from ..collectors.samples import ProcessRow, ProcessSample
from ..config import SORT_KEYS, Settings, config_dir
from ..store import Store
from .approve import ApprovalScreen
from .detail import ProcessDetailScreen
from .help import HelpScreen, binding_rows
from .panes import CpuPane, DiskPane, MemoryPane, NetPane
from .pickers import SignalPicker, SortPicker
from .process_table import ASCENDING_KEYS, ProcessTable

CLK_TCK = os.sysconf("SC_CLK_TCK")

# Bindings that lead to an intrusive action: absent under --read-only.
INTRUSIVE = frozenset({"signal", "nice-down", "nice-up"})

# Below this size the dashboard cannot be drawn legibly; a message says so instead.
MIN_WIDTH, MIN_HEIGHT = 60, 15


class TooSmall(Static):
    """Shown instead of the dashboard when the terminal is smaller than it needs."""


class PerftopApp(App[int]):
    """The live system view."""

    CSS_PATH = "perftop.tcss"
    TITLE = "perftop"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1,question_mark", "help", "Help", id="help"),
        Binding("slash,f3,f4", "filter", "Filter", id="filter"),
        Binding("f6,greater_than_sign,less_than_sign", "sort", "Sort", id="sort"),
        Binding("t,f5", "tree", "Tree", id="tree"),
        Binding("f7,right_square_bracket", "nice(-1)", "Nice-", id="nice-down"),
        Binding("f8,left_square_bracket", "nice(1)", "Nice+", id="nice-up"),
        Binding("f9,k", "signal", "Kill", id="signal"),
        Binding("q,f10", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        store: Store,
        gate: Gate,
        collection: Collection | None = None,
        detail_collector: type | None = None,
    ) -> None:
        # Under NO_COLOR, Textual filters colours once at start-up: with native ANSI colour
        # that filter keeps the terminal's own palette instead of greying everything.
        super().__init__(ansi_color=settings.no_color)
        self.settings = settings
        self.store = store
        self.gate = gate
        self.collection = collection
        self._detail_collector = detail_collector
        self._pending: set[str] = set()
        self._redraw_queued = False
        self._unsubscribe = store.subscribe(self._store_changed)
        gate.ask = self._ask
        if settings.read_only:
            # Layer one of three: the keys for intrusive actions do not exist.
            for key, bindings in list(self._bindings.key_to_bindings.items()):
                kept = [b for b in bindings if b.id not in INTRUSIVE]
                if kept:
                    self._bindings.key_to_bindings[key] = kept
                else:
                    del self._bindings.key_to_bindings[key]

    # layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="meters"):
            yield CpuPane(id="cpu")
            yield MemoryPane(id="memory")
        with Horizontal(id="io"):
            yield DiskPane(id="disk")
            yield NetPane(id="net")
        sort = self.settings.sort
        yield ProcessTable(
            sort=sort, reverse=sort not in ASCENDING_KEYS, tree=self.settings.tree, id="processes"
        )
        yield Input(placeholder="filter: pid, user or command", id="filter")
        yield TooSmall(id="too-small")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self._fit(self.size.width, self.size.height)
        self.query_one(ProcessTable).focus()
        if self.collection is not None:
            self.collection.start()
        self._redraw()

    async def on_unmount(self) -> None:
        self._unsubscribe()
        if self.collection is not None:
            await self.collection.stop()

    def on_resize(self, event: events.Resize) -> None:
        # The app's own size is updated a moment after this event: use the event's.
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        """Choose the layout for this terminal size."""
        too_small = width < MIN_WIDTH or height < MIN_HEIGHT
        message = self.query_one(TooSmall)
        message.display = too_small
        message.update(
            f"perftop needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT};"
            f" this one is {width}×{height}."
        )
        for node in self.query("#meters, #io, ProcessTable"):
            node.display = not too_small
        compact = height < 32 or width < 100
        for pane in self.query("CpuPane, MemoryPane, DiskPane, NetPane"):
            pane.compact = compact  # type: ignore[attr-defined]  # every pane has it
        self.query_one("#io").display = not too_small and height >= 22

    # data --------------------------------------------------------------------------------

    def _store_changed(self, sources: frozenset[str]) -> None:
        self._pending |= sources
        if not self._redraw_queued:
            self._redraw_queued = True
            self.call_next(self._redraw)

    def _redraw(self) -> None:
        """Hand the store to what is on screen: one redraw for a burst of changes."""
        self._redraw_queued = False
        changed, self._pending = self._pending, set()
        if not self.is_running or not self.screen_stack:
            return  # shutting down: collectors may still report while screens go away
        screen = self.screen
        if isinstance(screen, ProcessDetailScreen):
            screen.show(self.store)
            return
        if not changed or changed & {"cpu"}:
            self.query_one(CpuPane).show(self.store)
        if not changed or changed & {"memory"}:
            self.query_one(MemoryPane).show(self.store)
        if not changed or changed & {"disk"}:
            self.query_one(DiskPane).show(self.store)
        if not changed or changed & {"net"}:
            self.query_one(NetPane).show(self.store)
        if not changed or "processes" in changed:
            sample = self.store.latest("processes", ProcessSample)
            if sample is not None:
                self.query_one(ProcessTable).update_rows(sample)

    # keys --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Layer one, again: even a binding added later cannot reach an intrusive action.
        if self.settings.read_only and action in ("signal", "nice"):
            return False
        return True

    def action_help(self) -> None:
        table = self.query_one(ProcessTable)
        sections = [
            ("Everywhere", binding_rows(self._bindings, keymap=self._keymap)),
            ("Process table", binding_rows(table._bindings, keymap=self._keymap)),
            ("Mouse", [("click a row", "select it"), ("click a header", "sort by it")]),
        ]
        self.push_screen(HelpScreen(sections=sections))

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(ProcessTable).set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        box = self.query_one("#filter", Input)
        box.display = bool(event.value)
        self.query_one(ProcessTable).focus()

    def on_key(self, event: object) -> None:
        key = getattr(event, "key", None)
        box = self.query_one("#filter", Input)
        if key == "escape" and box.has_focus:
            box.value = ""
            box.display = False
            self.query_one(ProcessTable).focus()

    def action_sort(self) -> None:
        table = self.query_one(ProcessTable)

        def picked(key: str | None) -> None:
            if key is not None:
                table.set_sort(key)

        self.push_screen(SortPicker(current=table.sort_key), picked)

    def action_tree(self) -> None:
        self.query_one(ProcessTable).toggle_tree()

    @on(ProcessTable.RowOpened)
    def _open_detail(self, event: ProcessTable.RowOpened) -> None:
        row = event.row
        if self.collection is not None and self._detail_collector is not None:
            self.collection.add(self._detail_collector(row.pid, interval=self.settings.delay))

        def closed(_: object = None) -> None:
            if self.collection is not None:
                self.collection.remove("detail")
            self.store.forget("detail")
            self._redraw()

        self.push_screen(ProcessDetailScreen(row, delay=self.settings.delay), closed)

    # actions through the gate ------------------------------------------------------------

    def _target_row(self) -> ProcessRow | None:
        screen = self.screen
        if isinstance(screen, ProcessDetailScreen):
            return screen.row
        return self.query_one(ProcessTable).selected_row

    def _refuse_if_read_only(self) -> bool:
        if self.settings.read_only:
            self.notify("perftop is read-only: processes cannot be changed.", severity="warning")
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

        self.push_screen(SignalPicker(), picked)

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

    @work(exclusive=False, group="actions")
    async def _request(self, action: Action) -> None:
        outcome = await self.gate.request(action)
        if outcome.error is not None:
            self.notify(f"{action.title}: {outcome.error}", severity="error", markup=False)
        elif outcome.result is not None:
            self.notify(outcome.result, markup=False)
        else:
            self.notify(f"{action.title}: declined, nothing was done.", markup=False)

    async def _ask(self, action: Action) -> bool:
        """The gate's asker: the approval modal, answered by the person."""
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def answered(approved: bool | None) -> None:
            if not answer.done():
                answer.set_result(bool(approved))

        self.push_screen(ApprovalScreen(action), answered)
        return await answer

    # command palette ---------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        table = self.query_one(ProcessTable)
        for key in SORT_KEYS:
            yield SystemCommand(
                f"Sort by {key}",
                f"Sort the process table by {key}",
                lambda k=key: table.set_sort(k),
            )
        yield SystemCommand("Toggle tree view", "Show processes as a tree", table.toggle_tree)
        yield SystemCommand("Filter processes", "Type to filter the table", self.action_filter)


def _target(row: ProcessRow) -> ProcessTarget:
    return ProcessTarget(
        pid=row.pid,
        start_ticks=round(row.start_time * CLK_TCK),
        name=row.name,
        cmdline=row.cmdline,
        user=row.user,
    )


def build(settings: Settings, store: Store | None = None) -> PerftopApp:
    """The app wired to live collectors, the audit file and the chosen theme."""
    from ..collectors.detail import ProcessDetailCollector
    from ..collectors.system import default_collectors
    from ..themes import load as load_theme

    store = store if store is not None else Store()
    gate = Gate(AuditLog(settings.audit_file), read_only=settings.read_only)
    collection = Collection(store, default_collectors(settings.delay))
    app = PerftopApp(settings, store, gate, collection, ProcessDetailCollector)
    theme_name = "perftop-ansi" if settings.no_color else settings.theme
    theme = load_theme(theme_name, config_dir() / "themes")
    app.register_theme(theme)
    app.theme = theme.name
    return app


def run(settings: Settings) -> int:
    """Run the TUI until the person quits; returns the exit code."""
    app = build(settings)
    app.run()
    return app.return_code or 0
