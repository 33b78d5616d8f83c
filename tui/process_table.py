"""The process list: htop's table, drawn with Textual's line API.

A `DataTable` cleared and refilled every second costs 7-33 % of a core
(docs/ARCHITECTURE.md), so this table is a `ScrollView` that draws only the lines on
screen. Per tick it builds one filtered, sorted tuple of rows; a visible row is formatted
into a `Strip` the first time it is drawn and that strip is reused until the rows, the
width, the styles or the cursor move.

Columns have fixed widths, as in htop, and hide on narrow terminals (see columns.py).

Command lines, process names and user names are untrusted: they are drawn as plain
segments (never parsed as markup) after `neutralise` has made control characters inert,
and command lines pass through `redact` so that passwords in argv stay off the screen.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..collectors.process_order import SORT_KEYS, sort_rows, tree_order
from ..collectors.samples import ProcessRow, ProcessSample
from ..redact import redact
from .columns import (
    ASCENDING_KEYS,
    CELLS,
    Column,
    cell_class,
    layout,
    matches,
    program_first,
)
from .text import literal, neutralise
from .textual_private import set_virtual_size_quietly

WHERE_WIDTH = 60
"""COMMAND cells from which a program's directory follows its arguments."""


class _TableMessage(Message):
    """A message from a ProcessTable; `control` is the table, for `@on(..., "#id")`."""

    table: ProcessTable | None = None  # set by the table when it posts the message

    @property
    def control(self) -> ProcessTable | None:
        return self.table


class ProcessTable(ScrollView, can_focus=True):
    """Every process, one line each, sortable, filterable, optionally as a tree.

    Feed it with `update_rows(sample)` every tick. The selection follows the process (pid
    and start time), not the line, as rows move.
    """

    COMPONENT_CLASSES = {
        "process-table--header",
        "process-table--sorted",
        "process-table--cursor",
        "process-table--running",
        "process-table--stuck",
        "process-table--cpu-high",
        "process-table--cpu-hot",
        "process-table--kernel",
        "process-table--basename",
        "process-table--tree",
        "process-table--empty",
    }

    DEFAULT_CSS = """
    ProcessTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        & > .process-table--header {
            background: $panel;
            color: $foreground;
            text-style: bold;
        }
        & > .process-table--sorted {
            background: $accent 40%;
            text-style: bold;
        }
        & > .process-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .process-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .process-table--running { text-style: bold; }
        & > .process-table--stuck { color: $warning; }
        & > .process-table--cpu-high { color: $warning; }
        & > .process-table--cpu-hot { color: $error; text-style: bold; }
        & > .process-table--kernel { color: $foreground-muted; }
        & > .process-table--basename { color: $accent; text-style: bold; }
        & > .process-table--tree { color: $foreground-muted; }
        & > .process-table--empty { color: $foreground-muted; text-style: italic; }
    }
    """

    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False, id="process-table.cursor-up"),
        Binding("down", "cursor_down", "Down", show=False, id="process-table.cursor-down"),
        Binding("pageup", "page_up", "Page up", show=False, id="process-table.page-up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="process-table.page-down"),
        Binding("home", "first", "First", show=False, id="process-table.first"),
        Binding("end", "last", "Last", show=False, id="process-table.last"),
        Binding("enter", "open", "Details", show=False, id="process-table.open"),
        Binding("P", "sort('cpu')", "Sort by CPU", show=False, id="process-table.sort-cpu"),
        Binding("M", "sort('mem')", "Sort by memory", show=False, id="process-table.sort-mem"),
        Binding("T", "sort('time')", "Sort by time", show=False, id="process-table.sort-time"),
        Binding("I", "invert_sort", "Invert sort", show=False, id="process-table.invert"),
    ]

    class RowHighlighted(_TableMessage):
        """The selection moved to another process."""

        def __init__(self, row: ProcessRow) -> None:
            super().__init__()
            self.row = row

        def can_replace(self, message: Message) -> bool:
            # Holding down an arrow key: only the newest highlight matters.
            return isinstance(message, ProcessTable.RowHighlighted) and message.table is self.table

    class RowOpened(_TableMessage):
        """A process was opened (Enter or a double click) to see its details."""

        def __init__(self, row: ProcessRow) -> None:
            super().__init__()
            self.row = row

    class SortChanged(_TableMessage):
        """The sort column or direction changed."""

        def __init__(self, key: str, reverse: bool) -> None:
            super().__init__()
            self.key = key
            self.reverse = reverse

    def __init__(
        self, *, sort: str = "cpu", reverse: bool = True, tree: bool = False, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        if sort not in SORT_KEYS:
            raise ValueError(f"unknown sort key {sort!r}; one of {', '.join(SORT_KEYS)}")
        self.sort_key = sort
        self.reverse = reverse
        self._tree_view = tree
        self.filter_text = ""
        self._all: tuple[ProcessRow, ...] = ()  # the newest sample's rows, unfiltered
        self._rows: tuple[ProcessRow, ...] = ()  # what is shown, in order
        self._guides: tuple[str, ...] = ()  # tree guides per shown row; empty when flat
        self._cursor = 0
        self._selected: tuple[int, float] | None = None  # (pid, start_time)
        # Formatted rows by pid: (row, cursor?, tree guide, strip). A row is formatted again
        # only when it is another row object with other values, or its cursor or guide
        # moved; the collector hands back the same object for a process that did nothing.
        self._strips: dict[int, tuple[ProcessRow, bool, str, Strip]] = {}
        # What each line on screen (1 = the first row) showed when it was last drawn, so
        # that a tick refreshes only the lines whose content changed.
        self._drawn: dict[int, object] = {}
        self._header: Strip | None = None
        self._layout: tuple[tuple[Column, int], ...] = ()
        self._width = -1
        self._styles: dict[str, Style] = {}  # rich styles by component ("" is the base)

    # the public API -----------------------------------------------------------------------

    # This shadows DOMNode.tree, a debugging aid that renders the DOM as a Rich tree; the
    # table's own meaning (tree view on/off) is the one its callers need, and Textual itself
    # only logs `tree` of the app and of nodes being debugged.
    @property
    def tree(self) -> bool:  # type: ignore[override]  # a bool here, a Rich Tree on DOMNode
        """Whether rows are shown as a process tree (change it with `toggle_tree`)."""
        return self._tree_view

    @property
    def rows_shown(self) -> tuple[ProcessRow, ...]:
        """The rows after filter and sort (or tree order), top to bottom."""
        return self._rows

    @property
    def selected_row(self) -> ProcessRow | None:
        """The process under the cursor, if any row is shown."""
        return self._rows[self._cursor] if self._rows else None

    def update_rows(self, sample: ProcessSample) -> None:
        """Show the newest sample: filter and sort once, keep the selection on its process."""
        if sample.rows is self._all:
            return  # the same rows (a redraw for another source): nothing to do
        self._all = sample.rows
        self._rebuild(partial=True)

    def set_sort(self, key: str, reverse: bool | None = None) -> None:
        """Sort by `key`. Without `reverse`, the same key inverts and a new key starts in
        its natural direction (numbers descending; pid, user, command, state ascending).

        A new order is read from its top, as in htop: the table scrolls to the first row,
        and the selection stays on its process only if that is on the first screenful
        (else it moves to the first row), so the cursor is always in sight.
        """
        if key not in SORT_KEYS:
            raise ValueError(f"unknown sort key {key!r}; one of {', '.join(SORT_KEYS)}")
        if reverse is None:
            reverse = not self.reverse if key == self.sort_key else key not in ASCENDING_KEYS
        self.sort_key = key
        self.reverse = reverse
        self._header = None
        self._rebuild(from_top=True)
        self._post(self.SortChanged(key, reverse))

    def invert_sort(self) -> None:
        """Flip the direction of the current sort."""
        self.set_sort(self.sort_key, not self.reverse)

    def toggle_tree(self) -> None:
        """Switch between the flat list and the process tree."""
        self._tree_view = not self._tree_view
        self._rebuild()

    def set_filter(self, text: str) -> None:
        """Show only rows whose pid, user, name or command line contain `text` (any case)."""
        previous = self.filter_text.casefold()
        needle = text.casefold()
        self.filter_text = text
        if previous and previous in needle and not self.tree:
            # A longer needle matches a subset of what is shown, already in order.
            self._show(tuple(r for r in self._rows if matches(r, needle)), ())
        else:
            self._rebuild()

    # ordering and selection ---------------------------------------------------------------

    def _rebuild(self, partial: bool = False, from_top: bool = False) -> None:
        rows = self._all
        needle = self.filter_text.casefold()
        if needle:
            rows = tuple(r for r in rows if matches(r, needle))
        if self.tree:
            lines = tree_order(rows, self.sort_key, self.reverse)
            rows = tuple(line.row for line in lines)
            self._show(rows, tuple(line.prefix for line in lines), partial, from_top)
        else:
            rows = tuple(sort_rows(rows, self.sort_key, self.reverse))
            self._show(rows, (), partial, from_top)

    def _show(
        self,
        rows: tuple[ProcessRow, ...],
        guides: tuple[str, ...],
        partial: bool = False,
        from_top: bool = False,
    ) -> None:
        """Make `rows` the shown rows, keeping the selection on the same process.

        `partial` (a new sample, same sort and filter): refresh only the lines on screen
        whose content changed; otherwise the whole table is drawn again. `from_top` (a new
        order): scroll to the first row, and keep the selection only if it is on the first
        screenful, else put it on the first row.
        """
        was_visible = self._cursor_visible()
        index = None
        if self._selected is not None:
            pid, start = self._selected
            for i, row in enumerate(rows):
                if row.pid == pid and row.start_time == start:
                    index = i
                    break
        if from_top and (index is None or index >= self._page()):
            index = 0
        if index is None:  # the process is gone (or filtered out): stay at the same place
            index = min(self._cursor, len(rows) - 1)
        self._rows = rows
        self._guides = guides
        self._cursor = max(0, index)
        self._set_virtual_height(len(rows) + 1)
        self._select_current()
        if from_top:
            self._scroll_home()
        elif was_visible:
            self._scroll_to_cursor()
        self._prune_strips()
        if partial and self._drawn:
            self._refresh_changed_lines()
        else:
            self._drawn.clear()
            self.refresh()

    def _set_virtual_height(self, height: int) -> None:
        """Resize the scrollable area without a layout of the whole screen.

        Assigning `virtual_size` (a layout reactive) reflows every widget on the screen,
        and the row count changes on most ticks of a busy machine. Only the table's
        scrollbar depends on it: set it quietly and update the scrollbar, as Textual does
        itself when a layout resizes a widget (`Widget._size_updated`). A scrollbar that
        appears or goes still takes a layout (`show_vertical_scrollbar` is a layout
        reactive), since the rows get narrower or wider then.
        """
        size = Size(0, height)
        if size == self.virtual_size:
            return
        if not self.size:
            self.virtual_size = size  # not laid out yet: the first layout will size it
            return
        set_virtual_size_quietly(self, size)

    def _line_key(self, y: int) -> object:
        """What line `y` of the widget shows (rows from 1), to compare between ticks."""
        index = self.scroll_offset.y + y - 1
        if index < len(self._rows):
            guide = self._guides[index] if self._guides else ""
            return (self._rows[index], index == self._cursor, guide)
        if index == 0 and self.filter_text:
            return self.filter_text
        return None

    def _refresh_changed_lines(self) -> None:
        """Refresh the rows on screen whose row, cursor or guide differs from the last draw."""
        drawn = self._drawn
        width = max(self.virtual_size.width, self.size.width)
        for y in range(1, self.scrollable_content_region.height):
            key = self._line_key(y)
            # Tuples compare their items by identity first, then by value: a new row
            # object with the same values counts as unchanged.
            if y not in drawn or drawn[y] != key:
                self.refresh(Region(0, y, width, 1))

    def _select_current(self) -> None:
        row = self.selected_row
        key = None if row is None else (row.pid, row.start_time)
        if key != self._selected:
            self._selected = key
            if row is not None:
                self._post(self.RowHighlighted(row))

    def _move_cursor(self, index: int) -> None:
        if not self._rows:
            return
        index = max(0, min(index, len(self._rows) - 1))
        if index == self._cursor:
            # The view may have been scrolled away from the cursor (the mouse wheel moves
            # the view only): a cursor key brings the cursor back into sight.
            self._scroll_to_cursor()
            return
        old, self._cursor = self._cursor, index
        self.refresh_line(old + 1)
        self.refresh_line(index + 1)
        self._select_current()
        self._scroll_to_cursor()

    def _page(self) -> int:
        """Rows that fit below the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def _cursor_visible(self) -> bool:
        top = self.scroll_offset.y
        return top <= self._cursor < top + self._page()

    def _scroll_to_cursor(self) -> None:
        if not self.size.height:
            return  # not laid out yet; nothing to keep in view
        top, page = self.scroll_offset.y, self._page()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False, force=True)

    def _scroll_home(self) -> None:
        if self.size.height:  # before the first layout the table is at the top anyway
            self.scroll_to(y=0, animate=False, force=True)

    def _post(self, message: _TableMessage) -> None:
        message.table = self
        self.post_message(message)

    # actions and mouse ----------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self._move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self._move_cursor(self._cursor - self._page())

    def action_page_down(self) -> None:
        self._move_cursor(self._cursor + self._page())

    def action_first(self) -> None:
        self._move_cursor(0)

    def action_last(self) -> None:
        self._move_cursor(len(self._rows) - 1)

    def action_open(self) -> None:
        row = self.selected_row
        if row is not None:
            self._post(self.RowOpened(row))

    def action_sort(self, key: str) -> None:
        # htop's P/M/T always mean "biggest first" (pressing again does not invert: I does).
        self.set_sort(key, key not in ASCENDING_KEYS)

    def action_invert_sort(self) -> None:
        self.invert_sort()

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
            self._move_cursor(index)
            if event.chain >= 2:
                self.action_open()

    def _on_resize(self, event: events.Resize) -> None:
        # A shorter window must not leave the selected row below its bottom edge.
        self.call_after_refresh(self._scroll_to_cursor)

    # drawing --------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # Theme, focus (the cursor's colour) or CSS changed: every cached strip is stale.
        self._strips.clear()
        self._styles.clear()
        self._drawn.clear()
        self._header = None
        self.refresh()

    def _style(self, component: str) -> Style:
        """The base style plus a component's (cached until the styles change)."""
        style = self._styles.get(component)
        if style is None:
            base = self._styles.get("")
            if base is None:
                base = self._styles[""] = self.rich_style
            style = base + self.get_component_rich_style(component) if component else base
            self._styles[component] = style
        return style

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._layout = layout(width)
            self._strips.clear()
            self._header = None
        if y == 0:
            if self._header is None:
                self._header = self._header_strip()
            return self._header
        key = self._line_key(y)
        self._drawn[y] = key
        if not isinstance(key, tuple):
            if key is not None:  # the filter matches nothing: say so on the first line
                style = self._style("process-table--empty")
                text = literal(f"  no process matches {self.filter_text}")
                empty = Strip(text.render(self.app.console)).apply_style(style)
                return empty.adjust_cell_length(width, style)
            return Strip.blank(width, self._style(""))
        row, cursor, guide = key
        cached = self._strips.get(row.pid)
        if cached is not None and cached[1:3] == (cursor, guide) and cached[0] == row:
            return cached[3]
        strip = self._row_strip(row, cursor, guide)
        if len(self._strips) >= 4 * max(1, self.size.height):
            self._prune_strips()  # scrolled a long way within one tick
        self._strips[row.pid] = (row, cursor, guide, strip)
        return strip

    def _prune_strips(self) -> None:
        """Forget the formatted rows that are not on screen (memory follows the window)."""
        top = self.scroll_offset.y
        shown = {r.pid for r in self._rows[top : top + self.size.height]}
        self._strips = {pid: e for pid, e in self._strips.items() if pid in shown}

    def _header_strip(self) -> Strip:
        base = self._style("process-table--header")
        sorted_style = base + self.get_component_rich_style("process-table--sorted")
        arrow = "▼" if self.reverse else "▲"
        segments: list[Segment] = []
        for column, x in self._layout:
            if x:
                segments.append(Segment(" ", base))
            label = column.label
            if column.key == self.sort_key:
                label += arrow
            label = label.rjust(column.width) if column.right else label.ljust(column.width)
            is_sorted = column.key == self.sort_key
            segments.append(Segment(label[: column.width], sorted_style if is_sorted else base))
        return Strip(segments).simplify().adjust_cell_length(self._width, base)

    def _row_strip(self, row: ProcessRow, cursor: bool, guide: str) -> Strip:
        style = self._style
        over = "process-table--cursor" if cursor else ""
        plain = style(over)
        segments: list[Segment] = []
        for column, x in self._layout:
            if x:
                segments.append(Segment(" ", plain))
            if column.key == "command":
                segments.extend(self._command_segments(row, guide, column.width, cursor))
                continue
            text, component = CELLS[column.key](row), cell_class(column.key, row)
            text = text.rjust(column.width) if column.right else text.ljust(column.width)
            segments.append(Segment(text, self._over(component, cursor) if component else plain))
        return Strip(segments).simplify().adjust_cell_length(self._width, plain)

    def _over(self, component: str, cursor: bool) -> Style:
        """A component's style, with the cursor's over it on the cursor's line."""
        if not cursor:
            return self._style(component)
        key = f"{component} cursor"
        style = self._styles.get(key)
        if style is None:
            cursor_style = self.get_component_rich_style("process-table--cursor")
            style = self._styles[key] = self._style(component) + cursor_style
        return style

    def _command_segments(
        self, row: ProcessRow, guide: str, width: int, cursor: bool
    ) -> list[Segment]:
        guide = set_cell_size(guide, min(cell_len(guide), width))
        # Kernel threads have no memory and no argv (the collector shows them as [comm]);
        # not `ppid == 2`, which inside a container is an ordinary process.
        kernel = row.rss == 0 and row.cmdline == f"[{row.name}]"
        room = width - cell_len(guide)
        command = neutralise(redact(row.cmdline))
        if kernel:
            segments = [
                Segment(set_cell_size(command, room), self._over("process-table--kernel", cursor))
            ]
        else:
            # The program's name first, highlighted, then its arguments; where it lives
            # follows in a wide COMMAND column, if all of it fits (see `program_first`).
            name, arguments, directory = program_first(command)
            name = set_cell_size(name, min(cell_len(name), room))
            arguments = set_cell_size(arguments, min(cell_len(arguments), room - cell_len(name)))
            rest = room - cell_len(name) - cell_len(arguments)
            wide = width >= WHERE_WIDTH and cell_len(directory) + 2 <= rest
            where = f"  {directory}" if directory and wide else ""
            segments = [
                Segment(name, self._over("process-table--basename", cursor)),
                Segment(arguments, self._over("", cursor)),
                Segment(where, self._over("process-table--tree", cursor)),
                Segment(" " * (rest - cell_len(where)), self._over("", cursor)),
            ]
        if guide:
            segments.insert(0, Segment(guide, self._over("process-table--tree", cursor)))
        return segments
