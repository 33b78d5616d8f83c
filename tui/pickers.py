"""Small modal pickers: which signal to send, which column to sort by.

Both are an `OptionList` in a box: arrows (or a number key) move, Enter picks, Escape
cancels with None. They only answer; the app decides what happens next.
"""

from __future__ import annotations

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

__all__ = ["SORT_LABELS", "SignalPicker", "SortPicker"]

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

_PICKER_CSS = """
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


class _Picker(ModalScreen[str | None]):
    """An OptionList of keyed choices; dismisses with the picked key or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
    ]

    box_title = ""
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


class SignalPicker(_Picker):
    """Which signal to send, like htop's F9 list: SIGTERM first and highlighted.

    Dismisses with the signal's name without the SIG prefix (a key of `SIGNALS`, e.g.
    "KILL"), or None on Escape. Number keys 1-9 pick the n-th signal at once.
    """

    # Wide enough for every meaning on one line (borders, padding, number and name take
    # 14 cells); a narrower terminal wraps them under the meaning column.
    DEFAULT_CSS = _PICKER_CSS.format(name="SignalPicker") + (
        f"SignalPicker > #box {{ width: {14 + max(map(len, SIGNALS.values()))}; }}"
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(str(n), f"pick({n - 1})", f"Signal {n}", show=False, id=f"signal-picker.{n}")
        for n in range(1, 10)
    ]

    box_title = "Send signal"
    hint = "↑↓ move · Enter or 1-9 picks · Esc cancels"

    def __init__(self, highlighted: str = "TERM") -> None:
        width = len("SIG") + max(len(name) for name in SIGNALS)
        choices = []
        for number, (name, meaning) in enumerate(SIGNALS.items(), start=1):
            # A grid, not one Text, so a meaning that wraps stays clear of the names.
            label = Table.grid(padding=(0, 1), expand=True)
            label.add_column(no_wrap=True, width=1, style="dim")
            label.add_column(no_wrap=True, width=width, style="bold")
            label.add_column(ratio=1)
            label.add_row(str(number), f"SIG{name}", meaning)
            choices.append((name, label))
        super().__init__(choices, highlighted)

    def action_pick(self, index: int) -> None:
        """Pick the signal at `index` (0-based) in the list, if there is one."""
        if 0 <= index < len(self.choices):
            self._answer(self.choices[index][0])


class SortPicker(_Picker):
    """Which column the process table sorts by; starts on the current one.

    Dismisses with one of `config.SORT_KEYS`, or None on Escape.
    """

    DEFAULT_CSS = (
        _PICKER_CSS.format(name="SortPicker")
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
