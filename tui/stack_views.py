"""The Stacks screen's parts: the top-functions table, the call tree, the thread picker and
the now view (every thread's stack at one instant), and the small helpers they share with
the screen (stacks.py), which lays them out and feeds them.

Function and file names are untrusted: every one is drawn through `literal`/`neutralise`.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from ..collectors.stacks.model import Stack
from ..collectors.stacks.names import Names
from ..collectors.stacks.profile import (
    CallNode,
    FunctionStat,
    Profile,
    function_key,
)
from .icicle import Path
from .pickers import PICKER_CSS, Picker
from .text import literal, neutralise
from .units import counted

SortBy = Literal["own", "total"]


def span_text(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole > 0 else 0.0


def subtree(profile: Profile, path: Path) -> Profile:
    """`profile` restricted to the stacks through `path`, each starting at its last frame:
    the functions ranked when a person drilled into that frame."""
    if not path:
        return profile
    n = len(path)
    stacks = tuple(
        (dataclasses.replace(stack, frames=stack.frames[n - 1 :]), count)
        for stack, count in profile.stacks
        if len(stack.frames) >= n and tuple(map(function_key, stack.frames[:n])) == path
    )
    return dataclasses.replace(profile, stacks=stacks)


def idle_text(profile: Profile, shown: bool) -> str:
    """ "idle: 76% hidden (i shows)": how much of the span the sampler saw waiting, and
    whether the views count it. Idle samples are always taken (the rate counts them)."""
    if profile.idle <= 0:
        return "idle: none"
    share = 100.0 * profile.idle_share
    amount = "<1%" if share < 1 else f"{share:.0f}%"
    return f"idle: {amount} shown (i hides)" if shown else f"idle: {amount} hidden (i shows)"


def hottest_path(node: CallNode) -> set[Path]:
    """The paths of `node` and of its hottest callee, and of that one's, to a leaf."""
    paths = {node.path}
    while node.children:
        node = node.children[0]
        paths.add(node.path)
    return paths


# the top functions table ---------------------------------------------------------------------

_NUMBERS = (("OWN%", 6), ("OWN", 7), ("TOTAL%", 6), ("TOTAL", 7))


class FunctionTable(ScrollView, can_focus=True):
    """Functions with their own and total samples, drawn with the line API (one strip per
    visible row, cached until the rows, the width or the cursor change)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "function-table--header",
        "function-table--sorted",
        "function-table--cursor",
        "function-table--file",
        "function-table--empty",
    }
    DEFAULT_CSS = """
    FunctionTable {
        height: 1fr;
        background: $surface;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        & > .function-table--header { background: $panel; text-style: bold; }
        & > .function-table--sorted { background: $accent 40%; text-style: bold; }
        & > .function-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .function-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .function-table--file { color: $foreground-muted; }
        & > .function-table--empty { color: $foreground-muted; text-style: italic; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Up", show=False, id="function-table.up"),
        Binding("down", "move(1)", "Down", show=False, id="function-table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="function-table.page-up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="function-table.page-down"),
        Binding("home", "move(-1000000)", "First", show=False, id="function-table.first"),
        Binding("end", "move(1000000)", "Last", show=False, id="function-table.last"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.by: SortBy = "own"
        self.names = Names()
        self.filter_text = ""
        self._all: list[FunctionStat] = []
        self._rows: list[FunctionStat] = []
        self._cursor = 0
        self._strips: dict[tuple[int, bool], Strip] = {}
        self._width = -1

    @property
    def rows_shown(self) -> list[FunctionStat]:
        """The functions after the filter, in order, top first."""
        return self._rows

    def update(self, stats: list[FunctionStat], by: SortBy, names: Names | None = None) -> None:
        """Show `stats` (already ranked by `by`), filtered by the filter text; files as
        `names` shows them, with the line each function was at most."""
        self._all, self.by = stats, by
        if names is not None:
            self.names = names
        needle = self.filter_text.casefold()
        self._rows = [s for s in stats if needle in s.name.casefold()] if needle else stats
        self._cursor = max(0, min(self._cursor, len(self._rows) - 1))
        self._strips.clear()
        self.virtual_size = Size(0, len(self._rows) + 1)
        self.refresh()

    def set_filter(self, text: str) -> None:
        """Show only functions whose name contains `text` (any case)."""
        self.filter_text = text
        self.update(self._all, self.by)

    def action_move(self, step: int) -> None:
        if not self._rows:
            return
        old, self._cursor = self._cursor, max(0, min(self._cursor + step, len(self._rows) - 1))
        self.refresh_lines(old + 1)
        self.refresh_lines(self._cursor + 1)
        page = max(1, self.scrollable_content_region.height - 1)
        top = self.scroll_offset.y
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False, force=True)

    def action_page(self, pages: int) -> None:
        self.action_move(pages * max(1, self.scrollable_content_region.height - 1))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self.refresh()

    def _columns(self, width: int) -> tuple[int, int]:
        """Widths of FUNCTION and FILE: what is left after the numbers, 3 : 2."""
        rest = width - sum(w + 1 for _, w in _NUMBERS) - 2  # the spaces around FUNCTION
        function = max(8, rest * 3 // 5)
        return function, max(0, rest - function)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._strips.clear()
        base = self.rich_style
        if y == 0:
            return self._header(width)
        index = self.scroll_offset.y + y - 1
        if index >= len(self._rows):
            if index == 0:
                empty = self.get_component_rich_style("function-table--empty")
                text = f"  no function matches {neutralise(self.filter_text)}"
                message = text if self.filter_text else "  no samples in this span"
                return Strip([Segment(message, base + empty)]).adjust_cell_length(width, base)
            return Strip.blank(width, base)
        key = (index, index == self._cursor)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = self._row(self._rows[index], key[1], width)
        return strip

    def _header(self, width: int) -> Strip:
        base = self.rich_style + self.get_component_rich_style("function-table--header")
        hot = base + self.get_component_rich_style("function-table--sorted")
        function, file = self._columns(width)
        segments = []
        for label, w in _NUMBERS:
            sorted_here = label == self.by.upper()
            segments += [Segment(label.rjust(w), hot if sorted_here else base), Segment(" ", base)]
        segments += [Segment(" " + "FUNCTION".ljust(function), base), Segment(" ", base)]
        segments.append(Segment("FILE"[:file].ljust(file), base))
        return Strip(segments).adjust_cell_length(width, base)

    def _row(self, stat: FunctionStat, cursor: bool, width: int) -> Strip:
        over = self.get_component_rich_style("function-table--cursor") if cursor else None
        plain = self.rich_style + over if over else self.rich_style
        dim = plain + self.get_component_rich_style("function-table--file")
        if over:
            dim += over
        function, file = self._columns(width)
        numbers = (f"{stat.own_percent:.1f}", str(stat.own), f"{stat.total_percent:.1f}")
        segments = []
        for text, (_, w) in zip((*numbers, str(stat.total)), _NUMBERS, strict=True):
            segments.append(Segment(text.rjust(w) + " ", plain))
        segments.append(Segment(" " + set_cell_size(neutralise(stat.name), function) + " ", plain))
        where = neutralise(self.names.where(stat.file, stat.line))
        if cell_len(where) > file > 1:  # the end of a path says more than its start
            where = "…" + where[len(where) - file + 1 :]
        segments.append(Segment(set_cell_size(where, file), dim))
        return Strip(segments).adjust_cell_length(width, plain)


# the call tree -------------------------------------------------------------------------------


class CallTree(Tree[Path]):
    """The call tree from the drilled node down. Node data is the node's path; children are
    added when a node is first expanded, so a refresh costs the lines shown, not the tree."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "drill", "Drill in", id="call-tree.drill"),
    ]

    class Drilled(Message):
        """Enter on a node: show the subtree at `path`."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("all"), id=id)
        self.auto_expand = False
        self.expanded_paths: set[Path] = set()
        """Paths shown expanded; kept across refreshes."""
        self._call_nodes: dict[Path, CallNode] = {}
        self._whole = 1
        self.names = Names()

    def label_for(self, node: CallNode) -> Text:
        """`total% own%  name  file:line`, percentages of the drilled node's samples."""
        total, own = percent(node.total, self._whole), percent(node.own, self._whole)
        text = Text(f"{total:5.1f}% {own:5.1f}%  ", style="dim", no_wrap=True, end="")
        if node.frame is None:
            text.append(f"all threads ({node.total} samples)", "bold")
            return text
        text.append_text(literal(node.frame.name, "bold"))
        where = self.names.where(node.frame.file, node.frame.line)
        text.append_text(literal(f"  {where}", "dim"))
        return text

    def show(self, top: CallNode, reset: bool, names: Names | None = None) -> None:
        """Show `top`'s subtree; `reset` expands only its hottest path (a new drill)."""
        if names is not None:
            self.names = names
        if reset or not self.expanded_paths:
            self.expanded_paths = hottest_path(top)
        self._whole = top.total
        self._call_nodes = {}
        cursor = self.cursor_node.data if self.cursor_node is not None else None
        changed = self.root.data != top.path
        self.root.data = top.path
        label = self.label_for(top)
        if label != self.root.label:
            self.root.set_label(label)
        self._call_nodes[top.path] = top
        changed = self._sync(self.root, top) or changed
        if not self.root.is_expanded:
            self.root.expand()
        if reset or changed:
            self.call_after_refresh(self._restore_cursor, top.path if reset else cursor)

    def _sync(self, shown: TreeNode[Path], node: CallNode) -> bool:
        """Relabel in place where the children are the same; rebuild where they are not."""
        wanted = node.children if node.path in self.expanded_paths else ()
        changed = [child.data for child in shown.children] != [c.path for c in wanted]
        if changed:
            shown.remove_children()
            for child in wanted:
                shown.add(self.label_for(child), child.path, allow_expand=bool(child.children))
        for widget_child, child in zip(shown.children, wanted, strict=True):
            self._call_nodes[child.path] = child
            if not changed:
                label = self.label_for(child)
                if label != widget_child.label:
                    widget_child.set_label(label)
            if child.path in self.expanded_paths:
                if not widget_child.is_expanded:
                    widget_child.expand()
            elif widget_child.is_expanded:
                widget_child.collapse()
            changed = self._sync(widget_child, child) or changed
        return changed

    def _restore_cursor(self, path: Path | None) -> None:
        def find(shown: TreeNode[Path]) -> TreeNode[Path] | None:
            if shown.data == path:
                return shown
            for child in shown.children:
                found = find(child)
                if found is not None:
                    return found
            return None

        found = find(self.root) if path is not None else None
        self.move_cursor(found or self.root)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Path]) -> None:
        path, node = event.node.data, self._call_nodes.get(event.node.data or ())
        if path is None or node is None or path in self.expanded_paths:
            return
        self.expanded_paths.add(path)
        self._sync(event.node, node)

    def on_tree_node_collapsed(self, event: Tree.NodeCollapsed[Path]) -> None:
        if event.node.data is not None:
            self.expanded_paths.discard(event.node.data)

    def action_drill(self) -> None:
        node = self.cursor_node
        if node is not None and node.data is not None and node is not self.root:
            self.post_message(self.Drilled(node.data))


# modals ----------------------------------------------------------------------------------------


class ThreadPicker(Picker):
    """Which thread to show; dismisses with "all", "thread-N" (an index) or None."""

    DEFAULT_CSS = PICKER_CSS.format(name="ThreadPicker")
    box_title = "Thread"


class DumpScreen(ModalScreen[None]):
    """Every thread's stack at one instant (`py-spy dump`), innermost call first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n,enter", "close", "Close", id="dump.close"),
    ]
    DEFAULT_CSS = """
    DumpScreen { align: center middle; }
    DumpScreen > VerticalScroll {
        width: 90%; height: 90%; background: $surface;
        border: thick $primary; border-title-color: $primary; padding: 0 1;
    }
    """

    def __init__(self, stacks: tuple[Stack, ...]) -> None:
        super().__init__()
        self.stacks = stacks

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = f"Now: {counted(len(self.stacks), 'thread')} (Esc closes)"
            yield Static(dump_text(self.stacks), id="dump-text")

    def action_close(self) -> None:
        self.dismiss()


def dump_text(stacks: tuple[Stack, ...]) -> Text:
    """Threads one after another, as `py-spy dump` prints them: the running frame first."""
    text = Text(no_wrap=True, end="")
    names = Names.of(frame for stack in stacks for frame in stack.frames)
    for stack in stacks:
        state = "idle" if stack.idle else "active"
        head = f"Thread {stack.thread_id} ({state})" + (
            f" pid {stack.process}" if stack.process else ""
        )
        text.append(head + ": ", "bold")
        text.append_text(literal(stack.thread, "bold"))
        text.append("\n")
        for frame in reversed(stack.frames):
            text.append("    ")
            text.append_text(literal(frame.name))
            where = names.where(frame.file, frame.line)
            if where:
                text.append_text(literal(f" ({where})", "dim"))
            text.append("\n")
        if not stack.frames:
            text.append("    (no Python frames)\n", "dim italic")
        text.append("\n")
    return text


# the screen ------------------------------------------------------------------------------------
