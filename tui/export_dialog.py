"""The export dialog: where to write what the Stacks pane shows, and in which format.

It only asks. Enter (in the path box) or the Export button answers `(path, format)`, Escape
or Cancel answers None; the screen that opened it posts the request and the app writes.
"""

from __future__ import annotations

import os
from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

ExportFormat = Literal["speedscope", "collapsed", "pyisession"]

SUFFIXES: dict[ExportFormat, str] = {
    "speedscope": ".speedscope.json",
    "collapsed": ".collapsed.txt",
    "pyisession": ".pyisession",
}
"""The file name ending suggested for each format."""

LABELS: dict[ExportFormat, str] = {
    "speedscope": "speedscope JSON (speedscope.app)",
    "collapsed": "collapsed stacks (flamegraph.pl)",
    "pyisession": "pyinstrument session (pyinstrument --load)",
}


def suggested_path(stem: str, fmt: ExportFormat) -> str:
    """A file name in the current directory for `stem` (e.g. "perftop-4242") and `fmt`."""
    return f"{stem}{SUFFIXES[fmt]}"


class ExportDialog(ModalScreen[tuple[str, ExportFormat] | None]):
    """Asks for a path and a format; dismisses with `(path, format)` or None."""

    AUTO_FOCUS = "#export-path"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="export.cancel"),
    ]

    DEFAULT_CSS = """
    ExportDialog {
        align: center middle;
    }
    ExportDialog > #export-box {
        width: 64;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        padding: 0 1;
        background: $surface;
        border: thick $primary;
        border-title-color: $primary;
        border-title-style: bold;
    }
    ExportDialog #export-path { margin-bottom: 1; }
    ExportDialog RadioSet { width: 1fr; border: none; padding: 0; background: $surface; }
    ExportDialog #export-hint { color: $foreground-muted; margin-top: 1; }
    ExportDialog #export-buttons { height: auto; align-horizontal: right; }
    ExportDialog #export-buttons Button { margin-left: 2; }
    """

    def __init__(self, stem: str = "perftop", fmt: ExportFormat = "speedscope") -> None:
        super().__init__()
        self.stem = stem
        self.fmt: ExportFormat = fmt
        """The format chosen so far."""
        self._answered = False

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box") as box:
            box.border_title = "Export the profile on screen"
            yield Input(
                suggested_path(self.stem, self.fmt), id="export-path", select_on_focus=False
            )
            with RadioSet(id="export-format"):
                for fmt, label in LABELS.items():
                    yield RadioButton(label, value=fmt == self.fmt, id=f"export-{fmt}")
            yield Static(
                "Enter in the path writes · Tab, then Space picks a format · Esc cancels",
                id="export-hint",
                markup=False,
            )
            with Horizontal(id="export-buttons"):
                yield Button("Export", id="export-ok", variant="primary")
                yield Button("Cancel", id="export-cancel")

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        event.stop()
        pressed = (event.pressed.id or "").removeprefix("export-")
        new: ExportFormat = next((f for f in LABELS if f == pressed), "speedscope")
        box = self.query_one("#export-path", Input)
        # Follow the format in the suggested ending unless the person typed their own.
        old_suffix = SUFFIXES[self.fmt]
        if box.value.endswith(old_suffix):
            box.value = box.value[: -len(old_suffix)] + SUFFIXES[new]
        self.fmt = new

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "export-ok":
            self._submit()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        """Close without exporting."""
        self._answer(None)

    def _submit(self) -> None:
        path = self.query_one("#export-path", Input).value.strip()
        if not path:
            self.notify("Type a path to export to.", severity="warning")
            return
        self._answer((os.path.expanduser(path), self.fmt))

    def _answer(self, answer: tuple[str, ExportFormat] | None) -> None:
        if self._answered:
            return
        self._answered = True
        self.dismiss(answer)
