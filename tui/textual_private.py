"""Every place perftop reaches into Textual's private parts, in one module.

Checked against Textual 8.2 (pyproject pins `textual>=8.2,<9`). Each is here because no
public way does the same; when Textual changes one, this file is the one to fix, and the
tests of the features named below say so.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.binding import BindingsMap, Keymap
from textual.dom import DOMNode
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.widgets._footer import FooterKey as FooterKey  # noqa: PLC2701 - the footer's keys

__all__ = ["FooterKey", "bindings_of", "keymap_of", "set_virtual_size_quietly"]


def bindings_of(node: DOMNode) -> BindingsMap:
    """A node's bindings with the inherited ones (`_bindings`): the help lists them all."""
    return node._bindings  # noqa: SLF001


def keymap_of(app: App[Any]) -> Keymap:
    """The user's keymap (`_keymap`): the help shows remapped keys as they are pressed."""
    return app._keymap  # noqa: SLF001


def set_virtual_size_quietly(view: ScrollView, size: Size) -> None:
    """Resize a scroll view's scrollable area without a layout of the whole screen: set
    `virtual_size` without its layout reactive and update the scrollbars, as Textual does
    itself when a layout resizes a widget (`Widget._size_updated`). The process table."""
    view.set_reactive(ScrollView.virtual_size, size)
    view._scroll_update(size)  # noqa: SLF001
