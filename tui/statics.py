"""Lines of text in a `Static` that cost nothing when they did not change.

`Static.update` lays the whole screen out again by default (its size may have changed),
which on the PostgreSQL screen cost more than drawing its tables: four such lines were
updated every tick with the same text. `show_text` repaints a line only when its text
(characters and styles) changed, and asks for a layout only when its number of lines did
(the lines it is used for do not wrap).
"""

from __future__ import annotations

import weakref

from rich.text import Text
from textual.widgets import Static

_SHOWN: weakref.WeakKeyDictionary[Static, Text] = weakref.WeakKeyDictionary()


def show_text(widget: Static, text: Text) -> None:
    """Put `text` in `widget` unless it is there already."""
    before = _SHOWN.get(widget)
    if before is not None and before == text:
        return
    layout = before is None or before.plain.count("\n") != text.plain.count("\n")
    _SHOWN[widget] = text
    widget.update(text, layout=layout)
