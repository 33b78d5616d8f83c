"""The icicle view: a call tree drawn as rows of coloured boxes, callers on top.

Each row is one depth of the tree; each box a function reached through one path, as wide as
its share of the samples (`profile.icicle_rows` does the layout). The top row always spans
the width: the node zoomed into, or "all" at the root. Arrows move a selection between boxes
(left/right along a row, up to the caller, down to the hottest callee); Enter asks to zoom
into the selected box, Backspace or Escape to zoom out. The widget only asks: the screen owns
the zoom (one path shared with the call tree and the top table) and calls `show` again.

Colours: a box's colour is chosen by its file name (a stable CRC, not Python's salted hash)
from six theme colours, so the functions of one module share a colour across the whole view
and from one refresh to the next; native frames are drawn muted. Colours are component
classes that use theme variables only, so every theme (including the ANSI one) applies.

Boxes read `name (file:line)` (names.py: the same naming as the other views), cut to the
box's width: the name comes first, so a narrow box still says which function it is.

Drawn with the line API: only the rows on screen are formatted, each once per layout.
"""

from __future__ import annotations

import zlib
from typing import ClassVar

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..collectors.stacks.names import Names
from ..collectors.stacks.profile import CallNode, Cell, FunctionKey, icicle_rows
from .text import neutralise

PALETTE_SIZE = 6
"""How many colours boxes are drawn in (component classes `icicle--c0` … `icicle--c5`)."""

Path = tuple[FunctionKey, ...]


def colour_index(file: str) -> int:
    """The palette slot of a file: the same file gets the same colour in every run."""
    return zlib.crc32(file.encode("utf-8", "surrogateescape")) % PALETTE_SIZE


class Icicle(ScrollView, can_focus=True):
    """An icicle graph of one call-tree node, zoomable, navigable with the keyboard."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *(f"icicle--c{i}" for i in range(PALETTE_SIZE)),
        "icicle--root",
        "icicle--native",
        "icicle--selected",
        "icicle--empty",
    }

    DEFAULT_CSS = """
    Icicle {
        height: 1fr;
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        & > .icicle--c0 { background: $primary; color: auto 90%; }
        & > .icicle--c1 { background: $secondary; color: auto 90%; }
        & > .icicle--c2 { background: $accent; color: auto 90%; }
        & > .icicle--c3 { background: $success; color: auto 90%; }
        & > .icicle--c4 { background: $warning; color: auto 90%; }
        & > .icicle--c5 { background: $error; color: auto 90%; }
        & > .icicle--root { background: $panel; color: $foreground; text-style: bold; }
        & > .icicle--native { background: $boost; color: $foreground-muted; }
        & > .icicle--selected { text-style: bold reverse; }
        & > .icicle--empty { color: $foreground-muted; text-style: italic; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move('left')", "Left", show=False, id="icicle.left"),
        Binding("right", "move('right')", "Right", show=False, id="icicle.right"),
        Binding("up", "move('up')", "Caller", show=False, id="icicle.up"),
        Binding("down", "move('down')", "Callee", show=False, id="icicle.down"),
        Binding("enter", "zoom_in", "Zoom in", id="icicle.zoom-in"),
        Binding("backspace,escape", "zoom_out", "Zoom out", id="icicle.zoom-out"),
    ]

    class Highlighted(Message):
        """The selection moved to another box (`node` is None when nothing is drawn)."""

        def __init__(self, node: CallNode | None) -> None:
            super().__init__()
            self.node = node

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Icicle.Highlighted)

    class ZoomIn(Message):
        """Enter on a box: show the subtree at `path` (a `CallNode.path`)."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class ZoomOut(Message):
        """Backspace or Escape while zoomed: show the caller of the zoomed node."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.node: CallNode | None = None
        """The node drawn in the top row (a root, frame None, is drawn as "all")."""
        self.selected: Path = ()
        """The path of the selected box; kept across refreshes while that path exists."""
        self.names = Names()
        """How the boxes name files (the screen's, one per profile)."""
        self._rows: list[list[Cell]] = []
        self._laid_out_for: tuple[int, int] | None = None  # (id of node, width)
        self._strips: dict[int, Strip] = {}
        self._styles: dict[str, Style] = {}  # per component class, until the styles change

    # the public API -----------------------------------------------------------------------

    def show(self, node: CallNode | None, names: Names | None = None) -> None:
        """Draw `node`'s subtree; keep the selection on the same path if it is still there.
        `names` says how files are shown (names.py): each box reads `name (file:line)`."""
        self.node = node
        if names is not None:
            self.names = names
        self._laid_out_for = None
        self._layout()
        self.refresh()

    @property
    def zoomed(self) -> bool:
        """Whether the top row is a frame rather than the whole profile."""
        return self.node is not None and self.node.frame is not None

    @property
    def rows(self) -> list[list[Cell]]:
        """The boxes per row at the current width, top row first."""
        self._layout()
        return self._rows

    @property
    def selected_node(self) -> CallNode | None:
        found = self._find(self.selected)
        return None if found is None else self._rows[found[0]][found[1]].node

    # layout and selection -----------------------------------------------------------------

    def _layout(self) -> None:
        width = self.scrollable_content_region.width or self.size.width
        # By identity: comparing trees by value would walk every node on every line drawn.
        if self._laid_out_for == (id(self.node), width):
            return
        self._laid_out_for = (id(self.node), width)
        self._strips.clear()
        node = self.node
        if node is None or width <= 0 or node.total <= 0:
            self._rows = []
        elif node.frame is None:
            # The root has no frame of its own: a row for "all" keeps the top row spanning
            # the width at every zoom level, and is where Up from a thread's root lands.
            self._rows = [[Cell(0, width, node)], *icicle_rows(node, width)]
        else:
            self._rows = icicle_rows(node, width)
        self.virtual_size = Size(0, len(self._rows))
        if self._find(self.selected) is None:
            self._select(self._fallback())

    def _find(self, path: Path) -> tuple[int, int] | None:
        for y, row in enumerate(self._rows):
            for x, cell in enumerate(row):
                if cell.node.path == path:
                    return y, x
        return None

    def _fallback(self) -> Path:
        """The nearest caller of the old selection still drawn, else the top box."""
        path = self.selected
        while path:
            path = path[:-1]
            if self._find(path) is not None:
                return path
        return self._rows[0][0].node.path if self._rows else ()

    def _select(self, path: Path) -> None:
        old = self._find(self.selected)
        self.selected = path
        new = self._find(path)
        for found in (old, new):
            if found is not None:
                self._strips.pop(found[0], None)
                self.refresh_line(found[0])
        if new is not None and self.size.height:
            top, height = self.scroll_offset.y, self.scrollable_content_region.height
            if new[0] < top:
                self.scroll_to(y=new[0], animate=False, force=True)
            elif new[0] >= top + height:
                self.scroll_to(y=new[0] - height + 1, animate=False, force=True)
        self.post_message(self.Highlighted(self.selected_node))

    def action_move(self, direction: str) -> None:
        """Move the selection left/right along its row, up to the caller, down a callee."""
        self._layout()
        found = self._find(self.selected)
        if found is None:
            return
        y, x = found
        cell = self._rows[y][x]
        target: Cell | None = None
        if direction == "left" and x > 0:
            target = self._rows[y][x - 1]
        elif direction == "right" and x + 1 < len(self._rows[y]):
            target = self._rows[y][x + 1]
        elif direction == "up" and y > 0:
            target = next(
                (c for c in self._rows[y - 1] if c.start <= cell.start < c.start + c.width), None
            )
        elif direction == "down" and y + 1 < len(self._rows):
            # Callees are laid out inside their caller's columns, the hottest first.
            target = next(
                (c for c in self._rows[y + 1] if cell.start <= c.start < cell.start + cell.width),
                None,
            )
        if target is not None:
            self._select(target.node.path)

    def action_zoom_in(self) -> None:
        node = self.selected_node
        if node is not None and node is not self.node:
            self.post_message(self.ZoomIn(node.path))

    def action_zoom_out(self) -> None:
        self.post_message(self.ZoomOut())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Not zoomed, Escape and Backspace belong to the screen (back to the dashboard).
        if action == "zoom_out" and not self.zoomed:
            return False
        return True

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        y = self.scroll_offset.y + offset.y
        if 0 <= y < len(self._rows):
            for cell in self._rows[y]:
                if cell.start <= offset.x < cell.start + cell.width:
                    self._select(cell.node.path)
                    if event.chain >= 2:
                        self.action_zoom_in()
                    return

    # drawing ------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._styles.clear()
        self.refresh()

    def _on_resize(self, event: events.Resize) -> None:
        self._layout()

    def render_line(self, y: int) -> Strip:
        self._layout()
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        if index >= len(self._rows):
            if index == 0:
                style = self.rich_style + self.get_component_rich_style("icicle--empty")
                text = "  no samples in this span" if self.node is not None else ""
                return Strip([Segment(text, style)]).adjust_cell_length(width, self.rich_style)
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(index)
        if strip is None:
            strip = self._strips[index] = self._row_strip(index, width)
        return strip

    def _row_strip(self, index: int, width: int) -> Strip:
        base = self.rich_style
        selected = self.get_component_rich_style("icicle--selected", partial=True)
        segments: list[Segment] = []
        x = 0
        for cell in self._rows[index]:
            if cell.start > x:
                segments.append(Segment(" " * (cell.start - x), base))
            style = self._cell_style(cell, base)
            if cell.node.path == self.selected:
                style += selected
            if cell.width < 2:
                segments.append(Segment(set_cell_size(self._cell_label(cell), cell.width), style))
            else:
                # The last column is a gap, so neighbours of one colour stay apart.
                label = set_cell_size(self._cell_label(cell), cell.width - 1)
                segments += [Segment(label, style), Segment(" ", base)]
            x = cell.start + cell.width
        return Strip(segments).adjust_cell_length(width, base)

    def _cell_style(self, cell: Cell, base: Style) -> Style:
        frame = cell.node.frame
        if frame is None:
            name = "icicle--root"
        elif frame.native:
            name = "icicle--native"
        else:
            name = f"icicle--c{colour_index(frame.file)}"
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = base + self.get_component_rich_style(name)
        return style

    def _cell_label(self, cell: Cell) -> str:
        frame = cell.node.frame
        if frame is None:
            return f"all ({cell.node.total} samples)"
        return neutralise(self.names.label(frame))
