"""Small modal pickers: which signal to send, which column to sort by.

Both are an `OptionList` in a box: arrows (or, for signals, the signal's number) move,
Enter picks, Escape cancels with None. They only answer; the app decides what happens next.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from typing import ClassVar

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..actions.process import SIGNALS
from ..config import SORT_KEYS
from ..redact import redact_short
from .text import literal

__all__ = ["PICKER_CSS", "SORT_LABELS", "Picker", "SignalPicker", "SortPicker"]

SORT_LABELS: dict[str, str] = {
    "pid": "PID",
    "user": "USER",
    "cpu": "CPU%",
    "mem": "MEM%",
    "rss": "RES (resident memory)",
    "read": "READ/s (disk reads)",
    "write": "WRITE/s (disk writes)",
    "threads": "THR (threads)",
    "state": "S (state)",
    "time": "TIME+ (CPU time)",
    "nice": "NI (nice)",
    "command": "Command",
}
"""What the sort picker shows for each of `config.SORT_KEYS`."""

PICKER_CSS = """
{name} {{
    align: center middle;
}}
{name} > #box {{
    width: auto;
    min-width: 30;
    max-width: 100%;
    height: auto;
    max-height: 100%;
    background: $surface;
    border: thick $primary;
    border-title-color: $primary;
    border-title-style: bold;
    padding: 0 1;
}}
{name} OptionList, {name} OptionList:focus {{
    width: 1fr;
    height: auto;
    max-height: 16;
    border: none;
    padding: 0;
    background: $surface;
}}
{name} #hint {{
    color: $foreground-muted;
    width: auto;
}}
"""


class Picker(ModalScreen[str | None]):
    """An OptionList of keyed choices; dismisses with the picked key or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
    ]

    box_title: str | Text = ""
    hint = "↑↓ move · Enter picks · Esc cancels"

    def __init__(
        self, choices: Sequence[tuple[str, RenderableType]], highlighted: str | None
    ) -> None:
        super().__init__()
        self.choices = list(choices)
        """(key, label) pairs in the order shown."""
        self._initial = highlighted
        self._answered = False

    def compose(self) -> ComposeResult:
        with Vertical(id="box") as box:
            box.border_title = self.box_title
            yield OptionList(*(Option(label, id=key) for key, label in self.choices))
            yield Static(Text(self.hint, end=""), id="hint", markup=False)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        keys = [key for key, _ in self.choices]
        options.highlighted = keys.index(self._initial) if self._initial in keys else 0
        options.focus()

    @property
    def highlighted_key(self) -> str | None:
        """The key of the highlighted choice, if any."""
        option = self.query_one(OptionList).highlighted_option
        return None if option is None else option.id

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._answer(event.option.id)

    def action_cancel(self) -> None:
        """Close without picking anything."""
        self._answer(None)

    def _answer(self, key: str | None) -> None:
        if self._answered:
            return
        self._answered = True
        self.dismiss(key)


class SignalPicker(Picker):
    """Which signal to send, like htop's F9 list: SIGTERM first and highlighted.

    Dismisses with the signal's name without the SIG prefix (a key of `SIGNALS`, e.g.
    "KILL"), or None on Escape. Each line carries the signal's own number (9 is KILL, 15 is
    TERM), and typing that number picks it, as in htop. Digits add up without a clock: a
    number no other listed number starts with picks at once ("9", "1 5"); one that others
    start with ("1": 10, 12, 15...) is highlighted and waits for a digit or Enter; a digit
    that fits no number starts over.
    """

    # Wide enough for every meaning on one line (borders, padding, two-digit number and
    # name take 15 cells); a narrower terminal wraps them under the meaning column.
    DEFAULT_CSS = PICKER_CSS.format(name="SignalPicker") + (
        f"SignalPicker > #box {{ width: {15 + max(map(len, SIGNALS.values()))}; }}"
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(str(n), f"digit({n})", f"Digit {n}", show=False, id=f"signal-picker.{n}")
        for n in range(10)
    ]

    hint = "↑↓ move · Enter or its number picks · Esc cancels"

    def __init__(self, highlighted: str = "TERM", target: tuple[int, str] | None = None) -> None:
        self.numbers = {name: signal.Signals[f"SIG{name}"].value for name in SIGNALS}
        """Each listed signal's number on this system, by name."""
        self._typed = ""
        width = len("SIG") + max(len(name) for name in SIGNALS)
        choices = []
        for name, meaning in SIGNALS.items():
            # A grid, not one Text, so a meaning that wraps stays clear of the names.
            label = Table.grid(padding=(0, 1), expand=True)
            label.add_column(no_wrap=True, width=2, style="dim", justify="right")
            label.add_column(no_wrap=True, width=width, style="bold")
            label.add_column(ratio=1)
            label.add_row(str(self.numbers[name]), f"SIG{name}", meaning)
            choices.append((name, label))
        super().__init__(choices, highlighted)
        self.box_title = _title(target)

    def action_digit(self, digit: int) -> None:
        """Add `digit` to the number typed so far; pick the signal once it is unambiguous."""
        typed = self._typed + str(digit)
        if not self._starting_with(typed):
            typed = str(digit)  # fits no number: this digit starts a new one
        matches = self._starting_with(typed)
        if not matches:
            self._typed = ""
            return
        exact = [name for name in matches if str(self.numbers[name]) == typed]
        if exact and len(matches) == 1:
            self._answer(exact[0])
            return
        self._typed = typed
        keys = [key for key, _ in self.choices]
        # The typed number's own signal if it is listed, else the first that it begins.
        self.query_one(OptionList).highlighted = keys.index((exact or matches)[0])

    def _starting_with(self, typed: str) -> list[str]:
        return [name for name, number in self.numbers.items() if str(number).startswith(typed)]


def _title(target: tuple[int, str] | None) -> Text:
    """ "Send signal to pid N (name)": the name masked, cut and shown literally."""
    if target is None:
        return Text("Send signal", end="")
    pid, name = target
    return literal(f"Send signal to pid {pid} ({redact_short(name, 32)})")


class SortPicker(Picker):
    """Which column the process table sorts by; starts on the current one.

    Dismisses with one of `config.SORT_KEYS`, or None on Escape.
    """

    DEFAULT_CSS = (
        PICKER_CSS.format(name="SortPicker")
        + """
    SortPicker > #box {
        width: 40;
    }
    """
    )
    box_title = "Sort by"

    def __init__(self, current: str) -> None:
        choices = [(key, Text(SORT_LABELS.get(key, key), end="")) for key in SORT_KEYS]
        super().__init__(choices, current)
