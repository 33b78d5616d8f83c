"""The approval modal: the one place a person says yes to an intrusive action.

The default answer is No, and only two things say yes: the `y` key and a mouse click on
the Yes button. Enter, Escape and `n` all decline, whichever button has focus, so a person
hammering Enter (or a key that auto-repeats) can never approve anything.
"""

from __future__ import annotations

import re
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..actions.gate import Action
from .text import literal

__all__ = ["ApprovalScreen", "is_destructive"]

# Words in a title that mean the action can end, stop or discard something. Any signal
# but SIGCONT counts: even SIGUSR1 ends a process that does not handle it.
_DESTRUCTIVE = re.compile(
    r"\b(SIG(?!CONT\b)[A-Z0-9]+|kill|terminate|cancel|reset|drop|truncate|execute[sd]?|create)\b",
    re.IGNORECASE,
)


def is_destructive(action: Action) -> bool:
    """Could `action` end, stop or discard something? Such prompts are drawn in red."""
    return bool(_DESTRUCTIVE.search(action.title))


class ClickOnlyButton(Button, inherit_bindings=False):
    """A button no key can press (only a mouse click): Enter on it reaches the screen."""


class ApprovalScreen(ModalScreen[bool]):
    """Asks whether to run one action; dismisses with True only for an explicit yes."""

    AUTO_FOCUS = "#no"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "approve", "Yes", id="approval.yes"),
        Binding("n", "decline", "No", id="approval.no"),
        Binding("escape", "decline", "No", show=False, id="approval.cancel"),
        # Priority, so the focused widget never sees Enter, and deliberately without an id:
        # a keymap must not be able to turn Enter into anything but No.
        Binding("enter", "decline", "No", show=False, priority=True),
    ]

    DEFAULT_CSS = """
    ApprovalScreen {
        align: center middle;
    }
    ApprovalScreen > #dialog {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        padding: 1 2;
        background: $surface;
        border: thick $primary;
        border-title-color: $primary;
        border-title-style: bold;
    }
    ApprovalScreen > #dialog.-destructive {
        border: thick $error;
        border-title-color: $error;
    }
    ApprovalScreen #title {
        text-style: bold;
        color: $primary;
        margin-bottom: 1;
    }
    ApprovalScreen .-destructive #title {
        color: $error;
    }
    ApprovalScreen #description {
        width: 1fr;
        height: auto;
    }
    ApprovalScreen #hint {
        color: $foreground-muted;
        margin-top: 1;
    }
    ApprovalScreen #buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    ApprovalScreen #buttons Button {
        margin-left: 2;
    }
    """

    def __init__(self, action: Action) -> None:
        super().__init__()
        self.action_to_approve = action
        """The action being asked about (read-only: the screen never runs it)."""
        self.destructive = is_destructive(action)
        """Whether the prompt is drawn as dangerous (see `is_destructive`)."""
        self._answered = False

    def compose(self) -> ComposeResult:
        action = self.action_to_approve
        with Vertical(id="dialog", classes="-destructive" if self.destructive else "") as box:
            box.border_title = "Approve?"
            yield Static(literal(action.title), id="title")
            description = literal(action.describe())
            # literal() keeps table rows on one line; a prompt must wrap instead.
            description.no_wrap = False
            yield Static(description, id="description")
            yield Static(
                Text("y approves · n, Esc or Enter declines", end=""), id="hint", markup=False
            )
            with Horizontal(id="buttons"):
                yield ClickOnlyButton(
                    "Yes (y)", id="yes", variant="error" if self.destructive else "primary"
                )
                yield Button("No (n)", id="no", variant="default")

    def action_approve(self) -> None:
        """Say yes: the caller runs the action."""
        self._answer(True)

    def action_decline(self) -> None:
        """Say no: nothing runs."""
        self._answer(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self._answer(event.button.id == "yes")

    def _answer(self, approved: bool) -> None:
        # A second key press in the same frame must not dismiss twice (or flip the answer).
        if self._answered:
            return
        self._answered = True
        self.dismiss(approved)
