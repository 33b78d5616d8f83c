"""The dashboard screen: CPU, memory, disk and network panes over the process table.

It lays itself out for the terminal's size (compact panes below 100×32, no I/O row below 22
lines, a message instead of everything below 60×15), owns the keys that only make sense
here (filter, sort, tree), and redraws from the store when the app tells it what changed.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static

from ..collectors.samples import ProcessSample
from ..config import Settings
from ..store import Store
from .columns import ASCENDING_KEYS
from .filter_bar import FilterBar, shown
from .footer import KeyFooter
from .panes import CpuPane, DiskPane, MemoryPane, NetPane, Pane
from .pickers import SortPicker
from .process_table import ProcessTable

# Below this size the dashboard cannot be drawn legibly; a message says so instead.
MIN_WIDTH, MIN_HEIGHT = 60, 15
# Longest time the panes' new samples wait for the process table's (see Dashboard.show).
HOLD_S = 0.2


class TooSmall(Static):
    """Shown instead of the dashboard when the terminal is smaller than it needs."""


class Dashboard(Screen[None]):
    """The live system view."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash,f3,f4", "filter", "Filter", id="filter"),
        Binding("f6,greater_than_sign,less_than_sign", "sort", "Sort", id="sort"),
        Binding("t,f5", "tree", "Tree", id="tree"),
    ]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self._held: set[str] = set()  # sources whose redraw waits for the process table's
        self._hold: Timer | None = None
        self._store: Store | None = None

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
        yield FilterBar("pid, user or command", input_id="filter")
        yield TooSmall(id="too-small")
        yield KeyFooter()

    @property
    def table(self) -> ProcessTable:
        return self.query_one(ProcessTable)

    def on_mount(self) -> None:
        self.fit(self.app.size.width, self.app.size.height)
        self.table.focus()

    def on_resize(self, event: events.Resize) -> None:
        self.fit(event.size.width, event.size.height)

    def fit(self, width: int, height: int) -> None:
        """Choose the layout for this terminal size."""
        too_small = width < MIN_WIDTH or height < MIN_HEIGHT
        message = self.query_one(TooSmall)
        message.display = too_small
        message.update(
            f"perftop needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT};"
            f" this one is {width}×{height}."
        )
        self.query_one("#meters").display = not too_small
        self.query_one("#io").display = not too_small and height >= 22
        self.table.display = not too_small
        compact = height < 32 or width < 100
        for pane in self.query(Pane):
            pane.compact = compact

    def show(self, store: Store, changed: frozenset[str]) -> None:
        """Redraw what `changed` touched (everything when it is empty).

        The collectors tick together but finish apart (the process scan takes ~10 ms more
        than the others), and every finish would be a frame of its own: a render and a
        write to the terminal. Once the table has rows, the panes' new samples wait for the
        process table's (at most HOLD_S), so that one tick is one frame.
        """
        self._store = store
        if changed and "processes" not in changed and self.table.rows_shown:
            self._held |= changed
            if self._hold is None:
                self._hold = self.set_timer(HOLD_S, self._release)
            return
        if changed and self._held:
            changed = changed | self._held
        self._held.clear()
        if self._hold is not None:
            self._hold.stop()
            self._hold = None
        for pane in self.query(Pane):
            if not changed or pane.source in changed:
                pane.show(store)
        if not changed or "processes" in changed:
            sample = store.latest("processes", ProcessSample)
            if sample is not None:
                self.table.update_rows(sample)

    def _release(self) -> None:
        """The process table's sample did not come in time: draw the held ones alone."""
        self._hold = None
        if self._held and self._store is not None:
            held, self._held = frozenset(self._held), set()
            self.show(self._store, held | {"processes"})

    # keys --------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        shown(box, True)
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_kept(self, event: Input.Submitted) -> None:
        shown(self.query_one("#filter", Input), bool(event.value))
        self.table.focus()

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_focus:
            event.stop()
            box.value = ""
            shown(box, False)
            self.table.focus()

    def action_sort(self) -> None:
        table = self.table

        def picked(key: str | None) -> None:
            if key is not None:
                table.set_sort(key)

        self.app.push_screen(SortPicker(current=table.sort_key), picked)

    def action_tree(self) -> None:
        self.table.toggle_tree()
