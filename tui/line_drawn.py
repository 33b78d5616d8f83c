"""Widgets drawn as lines of text through Textual's line API, repainting only the lines that
changed: `LineDrawn`, and the CPU pane's parts built on it (`CoreBars`, `TextLines`)."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from ..collectors.samples import CoreUsage
from .meters import Palette, draw_cores


class LineDrawn(Widget):
    """A widget drawn as lines of text through the line API, repainting only what changed.

    `draw_lines(width)` gives the lines for a content width. `redraw()` draws them again: a
    line that differs from the one on screen is repainted alone, and only a change in the
    number of lines lays the screen out again (`height: auto` follows the line count). A
    refresh a second of panes whose size does not change thus costs no layout.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._strips: list[Strip] = []
        self._strips_width = -1  # the width `_strips` were drawn for; -1: to be drawn
        self._texts: list[Text] = []  # the lines `_strips` were drawn from

    def draw_lines(self, width: int) -> list[Text]:
        """The lines to show at content width `width`."""
        raise NotImplementedError

    def _draw(self, width: int) -> list[Strip]:
        console = self.app.console
        base = self.rich_style
        strips = []
        texts = self.draw_lines(width)
        # A line equal to the one drawn last time at this width keeps its strip (most of a
        # pane's lines do from one second to the next: headers, labels, steady figures).
        same_width = width == self._strips_width
        old_texts, old_strips = self._texts, self._strips
        self._texts = texts
        for y, text in enumerate(texts):
            if same_width and y < len(old_texts) and old_texts[y] == text:
                strips.append(old_strips[y])
                continue
            if text.cell_len > width:
                # Too long: end at a word (a figure cut in half reads as another figure).
                cut = text.plain.rfind(" ", 0, width + 1)
                if cut > 0:
                    text = text.copy()
                    text.truncate(cut)
                    text.rstrip()
            strips.append(Strip(text.render(console)).apply_style(base).crop(0, width))
        return strips

    def redraw(self) -> None:
        """Draw the lines again; repaint the changed ones, lay out if their count changed."""
        width = self.content_size.width
        if not width:
            self._strips_width = -1  # not laid out yet: the layout will draw them
            self.refresh(layout=True)
            return
        old = self._strips if self._strips_width == width else None
        new = self._strips = self._draw(width)
        self._strips_width = width
        if old is None or len(old) != len(new):
            self.refresh(layout=True)
            return
        for y, (before, after) in enumerate(zip(old, new, strict=True)):
            if before != after:
                self.refresh(Region(0, y, width, 1))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips_width = -1  # theme or classes changed: the styles in the lines too
        self._texts = []

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width != self._strips_width:
            self._strips = self._draw(width)
            self._strips_width = width
        return len(self._strips)

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        if width != self._strips_width:
            self._strips = self._draw(width)
            self._strips_width = width
        return self._strips[y] if y < len(self._strips) else Strip.blank(width, self.rich_style)


class CoreBars(LineDrawn):
    """The per-core bars of a `CpuPane`; as many rows as `core_rows` says for its width."""

    DEFAULT_CSS = "CoreBars { height: auto; }"

    def __init__(self, palette: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cores: tuple[CoreUsage, ...] = ()
        self.compact = False
        self._palette = palette

    def update_cores(self, cores: tuple[CoreUsage, ...], compact: bool) -> None:
        """Draw these cores (an empty tuple draws nothing)."""
        self.cores, self.compact = cores, compact
        self.redraw()

    def draw_lines(self, width: int) -> list[Text]:
        if not self.cores:
            return []
        return list(draw_cores(self.cores, width, self.compact, self._palette).split("\n"))


class TextLines(LineDrawn):
    """Lines of text from a callable of the width (the CPU pane's figures)."""

    DEFAULT_CSS = "TextLines { height: auto; }"

    def __init__(self, draw: Callable[[int], list[Text]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._draw_lines = draw

    def draw_lines(self, width: int) -> list[Text]:
        return self._draw_lines(width)
