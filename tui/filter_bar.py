"""The filter line at the foot of a screen: a `Filter:` label before what is typed, so the
text stays explained once the placeholder has gone."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label


class FilterBar(Horizontal):
    """`Filter: <input>`, hidden until its screen's filter key shows it (see `shown`)."""

    DEFAULT_CSS = """
    FilterBar {
        dock: bottom; height: 1; margin-bottom: 1; background: $boost; display: none;
    }
    FilterBar > Label { width: auto; padding: 0 0 0 1; text-style: bold; }
    FilterBar > Input {
        width: 1fr; height: 1; border: none; padding: 0 1; background: $boost;
    }
    """

    def __init__(self, placeholder: str, *, input_id: str) -> None:
        super().__init__(id=f"{input_id}-bar")
        self._placeholder = placeholder
        self._input_id = input_id

    def compose(self) -> ComposeResult:
        yield Label("Filter:")
        yield Input(placeholder=self._placeholder, id=self._input_id)


def shown(box: Input, visible: bool) -> None:
    """Show or hide the filter line that holds `box`."""
    bar = box.parent
    (bar if isinstance(bar, FilterBar) else box).display = visible
