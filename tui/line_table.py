"""A fixed-column table on Textual's line API, shared by the PostgreSQL tables.

Like the process table (tui/process_table.py), it is a `ScrollView` that formats only the
lines on screen into `Strip`s and caches them until the rows, the width, the styles or the
cursor change: a pane of 5,000 statements costs what its 20 visible lines cost. Subclasses
say what the columns are, how a row is ordered and which text and style each cell has.

Rows are either data rows or section labels (plain `str`, drawn across the whole width, e.g.
"background workers (3)"). The selection follows a row's identity, not its line, as rows move.
All cell text is untrusted and goes through `neutralise` before it becomes a segment.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Generic, TypeVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .text import neutralise

R = TypeVar("R")

SIZED_ROWS = 500
"""Rows, from the top, whose values size the growing columns and are told apart in the
last one: more than a screen holds, without formatting 5,000 statements every tick."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column; the last column of a table takes the rest of the width.

    A column with `grow` takes the width of its longest value (its label at least, `grow`
    at most) when there is room, and narrows to `width` when the table gives way; one
    without is always `width` cells (figures, whose formats have a fixed size).
    """

    key: str  # the sort key it stands for
    label: str
    width: int
    right: bool = True  # numbers are right-aligned
    grow: int = 0


GiveWay = tuple[str, str]
"""One step of a table giving way to a narrow window: ("narrow" or "hide", column key)."""


def wanted(column: Column, natural: Mapping[str, int]) -> int:
    """The width a column takes when there is room: its longest value, within bounds."""
    if not column.grow:
        return column.width
    longest = natural.get(column.key, column.width)
    return max(cell_len(column.label), min(longest, column.grow))


def place(
    columns: Sequence[Column],
    last: Column,
    width: int,
    give_way: Sequence[GiveWay],
    min_last: int,
    natural: Mapping[str, int] | None = None,
) -> tuple[tuple[Column, int], ...]:
    """The columns shown at `width` cells, each with its x and width; `last` takes the rest.

    Every column first takes the width it wants (`wanted`, from `natural`: the longest
    value of each column). While `last` would get fewer than `min_last` cells, the steps of
    `give_way` apply in order: a column narrows to its `width`, or hides. So the last
    column (the query text) is the first to narrow, down to `min_last`.

    >>> cols = (Column("a", "A", 4), Column("b", "B", 5, False, grow=20))
    >>> [(c.key, x, c.width) for c, x in place(cols, Column("q", "Q", 0), 40, (), 10,
    ...                                          {"b": 12})]
    [('a', 0, 4), ('b', 5, 12), ('q', 18, 22)]
    >>> [(c.key, c.width) for c, _ in place(cols, Column("q", "Q", 0), 20, (("narrow", "b"),),
    ...                                     10, {"b": 12})]
    [('a', 4), ('b', 5), ('q', 9)]
    """
    natural = natural or {}
    want = {c.key: wanted(c, natural) for c in columns}
    widths = dict(want)
    shown = list(columns)
    narrowed: list[str] = []
    for step, key in give_way:
        if width - sum(widths[c.key] + 1 for c in shown) >= min_last:
            break
        if step == "hide":
            shown = [c for c in shown if c.key != key]
        else:
            column = next(c for c in columns if c.key == key)
            widths[key] = min(widths[key], column.width)
            narrowed.append(key)
    # A later hide may have freed more than `last` needs: the narrowed columns get it back,
    # the last narrowed first, so `last` stays the one that is narrowest for want of room.
    spare = width - sum(widths[c.key] + 1 for c in shown) - min_last
    for key in reversed(narrowed):
        if spare <= 0:
            break
        if any(c.key == key for c in shown):
            give = min(spare, want[key] - widths[key])
            widths[key] += give
            spare -= give
    placed: list[tuple[Column, int]] = []
    x = 0
    for column in shown:
        placed.append((replace(column, width=widths[column.key]), x))
        x += widths[column.key] + 1
    placed.append((Column(last.key, last.label, max(0, width - x), last.right), x))
    return tuple(placed)


def _cut(text: str, width: int) -> str:
    return set_cell_size(text, width) if cell_len(text) > width else text


def distinct_texts(texts: Sequence[str], widths: int | Sequence[int]) -> list[str]:
    """`texts` cut to `widths` cells (one for all, or one each) so that different texts
    still read differently.

    Two statements alike for longer than the room they have (`UPDATE pgbench_accounts SET
    …`) would show the same prefix; each such text keeps its first word and jumps (…) to a
    little before where it parts from the most similar of the others. Texts whose
    difference shows anyway, and copies of the same text, are only cut.

    >>> distinct_texts(["UPDATE stock SET qty = 1 WHERE sku = $1",
    ...                 "UPDATE stock SET qty = 0 WHERE sku = $1", "SELECT 1"], 20)
    ['UPDATE …qty = 1 WHER', 'UPDATE …qty = 0 WHER', 'SELECT 1']
    """
    rooms = [widths] * len(texts) if isinstance(widths, int) else list(widths)
    # The longest prefix each text shares with another: its neighbours in sorted order.
    alike: dict[str, int] = {}
    ordered = sorted(set(texts))
    for a, b in zip(ordered, ordered[1:], strict=False):
        shared = len(os.path.commonprefix([a, b]))
        alike[a] = max(alike.get(a, 0), shared)
        alike[b] = max(alike.get(b, 0), shared)
    out: list[str] = []
    for text, width in zip(texts, rooms, strict=True):
        parts = alike.get(text, 0)
        if cell_len(text) <= width or parts < width or width < 8:
            out.append(_cut(text, width))
            continue
        space = text.find(" ")
        head = text[: space + 1] if 0 < space < width // 2 else text[: width // 3]
        room = width - cell_len(head) - 1
        # From the start of a word a little before where it parts (context to read it
        # by), unless the words there are long.
        start = max(len(head), text.rfind(" ", len(head), max(len(head), parts - room // 3)) + 1)
        if parts - start > room // 2:  # a long word: start at the next word, or inside it
            after = text.find(" ", parts - room // 2, parts)
            start = after + 1 if after >= 0 else parts - room // 2
        out.append(_cut(head + "…" + text[max(len(head), start) :], width))
    return out


def one_line(text: str) -> str:
    """SQL on one line: runs of whitespace become one space, control characters inert."""
    return neutralise(" ".join(text.split()))


class LineTable(ScrollView, Generic[R], can_focus=True):
    """Rows of `R` (and section labels) under a header; fixed widths, sortable, one cursor."""

    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    LAST: ClassVar[Column] = Column("", "", 0, False)
    GIVE_WAY: ClassVar[tuple[GiveWay, ...]] = ()  # see `place`
    MIN_LAST: ClassVar[int] = 20
    ASCENDING: ClassVar[frozenset[str]] = frozenset()  # keys that read best A to Z

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "line-table--header",
        "line-table--sorted",
        "line-table--cursor",
        "line-table--warning",
        "line-table--error",
        "line-table--muted",
        "line-table--section",
        "line-table--guide",
    }

    DEFAULT_CSS = """
    LineTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        & > .line-table--header { background: $panel; color: $foreground; text-style: bold; }
        & > .line-table--sorted { background: $accent 40%; text-style: bold; }
        & > .line-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .line-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .line-table--warning { color: $warning; }
        & > .line-table--error { color: $error; text-style: bold; }
        & > .line-table--muted { color: $foreground-muted; }
        & > .line-table--section { color: $foreground-muted; text-style: bold; }
        & > .line-table--guide { color: $foreground-muted; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False, id="line-table.cursor-up"),
        Binding("down", "cursor_down", "Down", show=False, id="line-table.cursor-down"),
        Binding("pageup", "page_up", "Page up", show=False, id="line-table.page-up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="line-table.page-down"),
        Binding("home", "first", "First", show=False, id="line-table.first"),
        Binding("end", "last", "Last", show=False, id="line-table.last"),
    ]

    class Activated(Message):
        """A row was double-clicked (Enter is the screen's key)."""

        def __init__(self, table: LineTable[Any], row: object) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> LineTable[Any]:
            return self.table

    def __init__(self, *, sort: str, reverse: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sort_key = sort
        self.reverse = reverse
        self._rows: tuple[R | str, ...] = ()
        self._guides: tuple[str, ...] = ()
        self._cursor = 0
        self._selected: Hashable | None = None
        self._strips: dict[tuple[int, bool], Strip] = {}
        self._header: Strip | None = None
        self._layout: tuple[tuple[Column, int], ...] = ()
        self._width = -1
        # The longest value of each growing column, over the table's life: a column widens
        # for a longer value and does not narrow back when it goes, so the layout of a
        # live table settles instead of shifting from tick to tick.
        self._natural: dict[str, int] = {}
        self._last_texts: dict[int, str] | None = None  # row index: its last column's text

    # what subclasses provide --------------------------------------------------------------

    def identity(self, row: R) -> Hashable:
        """What the selection follows from tick to tick."""
        raise NotImplementedError

    def order(self) -> tuple[tuple[R | str, ...], tuple[str, ...]]:
        """The rows to show (filtered, sorted) and their guides (empty: no guides)."""
        raise NotImplementedError

    def cell(self, row: R, key: str) -> tuple[str, str]:
        """The text of a cell (already safe to show) and its component class or ""."""
        raise NotImplementedError

    def empty_text(self) -> str:
        """What the first line says when there is no row."""
        return ""

    # the public API -----------------------------------------------------------------------

    @property
    def rows_shown(self) -> tuple[R | str, ...]:
        """Rows and section labels, top to bottom, as drawn."""
        return self._rows

    @property
    def selected(self) -> R | None:
        """The data row under the cursor (None on a section label or with no rows)."""
        if not self._rows:
            return None
        row = self._rows[self._cursor]
        return None if isinstance(row, str) else row

    def set_sort(self, key: str, reverse: bool | None = None) -> None:
        """Sort by `key`. Without `reverse`, the same key inverts and a new key starts in
        its natural direction (figures biggest first, names A to Z)."""
        if key not in {c.key for c in (*self.COLUMNS, self.LAST)}:
            raise ValueError(f"unknown sort key {key!r}")
        if reverse is None:
            reverse = not self.reverse if key == self.sort_key else key not in self.ASCENDING
        self.sort_key, self.reverse = key, reverse
        self._header = None
        self.rebuild()

    def rebuild(self) -> None:
        """Order the rows again and redraw, keeping the selection on the same row."""
        rows, guides = self.order()
        was_visible = self._cursor_visible()
        index = None
        if self._selected is not None:
            for i, row in enumerate(rows):
                if not isinstance(row, str) and self.identity(row) == self._selected:
                    index = i
                    break
        if index is None:
            index = min(self._cursor, len(rows) - 1)
        self._rows, self._guides = rows, guides
        if self._grow(rows):
            self._width = -1  # lay the columns out again
        self._last_texts = None
        self._cursor = max(0, index)
        selected = self.selected
        self._selected = None if selected is None else self.identity(selected)
        self._strips.clear()
        self.virtual_size = Size(0, len(rows) + 1)
        if was_visible:
            self._scroll_to_cursor()
        self.refresh()

    def _grow(self, rows: Sequence[R | str]) -> bool:
        """Widen `_natural` for the longest values in `rows`; whether it changed."""
        growing = [c.key for c in self.COLUMNS if c.grow]
        changed = False
        for row in rows[:SIZED_ROWS]:
            if isinstance(row, str):
                continue
            for key in growing:
                width = cell_len(self.cell(row, key)[0])
                if width > self._natural.get(key, 0):
                    self._natural[key] = width
                    changed = True
        return changed

    def _last_text(self, index: int, width: int) -> str:
        """The last column's text for row `index` in `width` cells, told apart from the
        other rows' (`distinct_texts`) among the first SIZED_ROWS rows."""
        if self._last_texts is None:
            indexes, texts, rooms = [], [], []
            for i, row in enumerate(self._rows[:SIZED_ROWS]):
                if not isinstance(row, str):
                    guide = self._guides[i] if self._guides else ""
                    indexes.append(i)
                    texts.append(self.cell(row, self.LAST.key)[0])
                    rooms.append(max(0, width - cell_len(guide)))
            self._last_texts = dict(zip(indexes, distinct_texts(texts, rooms), strict=True))
        shown = self._last_texts.get(index)
        if shown is None:  # beyond SIZED_ROWS: cut only
            row = self._rows[index]
            assert not isinstance(row, str)
            shown = self.cell(row, self.LAST.key)[0]
        return shown

    # cursor ---------------------------------------------------------------------------------

    def move_cursor(self, index: int) -> None:
        if not self._rows:
            return
        index = max(0, min(index, len(self._rows) - 1))
        if index == self._cursor:
            return
        old, self._cursor = self._cursor, index
        selected = self.selected
        self._selected = None if selected is None else self.identity(selected)
        self.refresh_line(old + 1)  # line 0 is the header
        self.refresh_line(index + 1)
        self._scroll_to_cursor()

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _cursor_visible(self) -> bool:
        top = self.scroll_offset.y
        return top <= self._cursor < top + self._page()

    def _scroll_to_cursor(self) -> None:
        if not self.size.height:
            return
        top, page = self.scroll_offset.y, self._page()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False, force=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._cursor - self._page())

    def action_page_down(self) -> None:
        self.move_cursor(self._cursor + self._page())

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._rows) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        event.stop()
        if offset.y == 0:
            for column, x in self._layout:
                if offset.x <= x + column.width:
                    self.set_sort(column.key)
                    return
            return
        index = self.scroll_offset.y + offset.y - 1
        if index < len(self._rows):
            self.move_cursor(index)
            selected = self.selected
            if event.chain >= 2 and selected is not None:
                self.post_message(self.Activated(self, selected))

    def _on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._scroll_to_cursor)

    # drawing --------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._header = None
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._layout = place(
                self.COLUMNS, self.LAST, width, self.GIVE_WAY, self.MIN_LAST, self._natural
            )
            self._strips.clear()
            self._last_texts = None
            self._header = None
        if y == 0:
            if self._header is None:
                self._header = self._header_strip()
            return self._header
        index = self.scroll_offset.y + y - 1
        if index >= len(self._rows):
            if index == 0:
                style = self.rich_style + self.get_component_rich_style("line-table--muted")
                text = set_cell_size("  " + neutralise(self.empty_text()), width)
                return Strip([Segment(text, style)], width)
            return Strip.blank(width, self.rich_style)
        key = (index, index == self._cursor)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = self._row_strip(index, key[1])
        return strip

    def _header_strip(self) -> Strip:
        base = self.rich_style + self.get_component_rich_style("line-table--header")
        sorted_style = base + self.get_component_rich_style("line-table--sorted")
        arrow = "▼" if self.reverse else "▲"
        segments: list[Segment] = []
        for column, x in self._layout:
            if x:
                segments.append(Segment(" ", base))
            is_sorted = column.key == self.sort_key
            label = column.label
            if is_sorted:  # the arrow always shows, even if the label must give way
                label = label[: max(0, column.width - 1)] + arrow
            label = label.rjust(column.width) if column.right else label.ljust(column.width)
            segments.append(Segment(label[: column.width], sorted_style if is_sorted else base))
        return Strip(segments).simplify().adjust_cell_length(self._width, base)

    def _row_strip(self, index: int, cursor: bool) -> Strip:
        row = self._rows[index]
        base = self.rich_style
        over = self.get_component_rich_style("line-table--cursor") if cursor else Style()
        plain = base + over
        if isinstance(row, str):
            style = base + self.get_component_rich_style("line-table--section") + over
            return Strip([Segment(set_cell_size(neutralise(row), self._width), style)])
        segments: list[Segment] = []
        for column, x in self._layout:
            if x:
                segments.append(Segment(" ", plain))
            text, component = self.cell(row, column.key)
            style = base + self.get_component_rich_style(component) + over if component else plain
            if column is self._layout[-1][0]:
                text = self._last_text(index, column.width)
                guide = self._guides[index] if self._guides else ""
                guide = set_cell_size(guide, min(cell_len(guide), column.width))
                if guide:
                    guide_style = base + self.get_component_rich_style("line-table--guide") + over
                    segments.append(Segment(guide, guide_style))
                segments.append(Segment(set_cell_size(text, column.width - cell_len(guide)), style))
                continue
            text = set_cell_size(text, column.width) if cell_len(text) > column.width else text
            text = text.rjust(column.width) if column.right else text.ljust(column.width)
            segments.append(Segment(text, style))
        return Strip(segments).simplify().adjust_cell_length(self._width, plain)
