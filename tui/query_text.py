"""A statement's or a backend's query text, whole, in a scrollable modal; `y`/`c` copies it.

The copy goes out as OSC 52 (Textual's `App.copy_to_clipboard` writes
`ESC ] 52 ; c ; <base64> BEL` to the terminal), so it reaches the clipboard of the machine
the person sits at: it works over SSH, and inside tmux when tmux passes OSC 52 through
(`set -g set-clipboard on` in ~/.tmux.conf). The text is base64 inside the sequence, so even
a query full of escapes cannot act on the terminal on its way.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from .text import neutralise


def full_text(query: str) -> Text:
    """`query` as typed, line breaks kept, wrapped, every line literal and inert."""
    lines = [neutralise(line) for line in query.splitlines()] or [""]
    return Text("\n".join(lines), no_wrap=False, overflow="fold", end="")


class QueryTextScreen(ModalScreen[None]):
    """The whole text of a query; Escape closes, `y` or `c` copies it (OSC 52)."""

    DEFAULT_CSS = """
    QueryTextScreen { align: center middle; }
    QueryTextScreen > #box {
        width: 90%;
        height: 80%;
        background: $surface;
        border: thick $primary;
        border-title-color: $primary;
        border-subtitle-color: $foreground-muted;
        padding: 0 1;
    }
    QueryTextScreen #query-scroll { height: 1fr; }
    QueryTextScreen #query-text { width: 1fr; height: auto; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="query-text.close"),
        Binding("y,c", "copy", "Copy", id="query-text.copy"),
    ]

    def __init__(self, query: str, title: str = "query") -> None:
        super().__init__()
        self.text = query
        """The exact text: what is copied."""
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="box") as box:
            box.border_title = Text(neutralise(self.title_text), end="")
            box.border_subtitle = "y copy · Esc close"
            with VerticalScroll(id="query-scroll"):
                yield Static(full_text(self.text), id="query-text")

    def on_mount(self) -> None:
        self.query_one("#query-scroll").focus()

    def action_copy(self) -> None:
        """Copy the text to the clipboard of the terminal the person sits at (OSC 52)."""
        self.app.copy_to_clipboard(self.text)
        self.notify(f"copied {len(self.text)} characters")

    def action_close(self) -> None:
        self.dismiss()
