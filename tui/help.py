"""The help screen: every key perftop answers to, and what it does.

The app builds the rows from its real bindings with `binding_rows`, so the help cannot
drift from the keys that actually work (a key missing from the help is a bug).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from typing import ClassVar

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap, BindingType, Keymap
from textual.containers import Vertical, VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from .text import literal

__all__ = ["HelpScreen", "KeyTable", "binding_rows", "key_label"]

Row = tuple[str, str]
Section = tuple[str, list[Row]]

# Names as a keyboard prints them; Textual's own display uses symbols (⏎, esc) that read
# poorly in a list meant to be learnt from.
_KEY_NAMES = {
    "escape": "Esc",
    "enter": "Enter",
    "space": "Space",
    "tab": "Tab",
    "backspace": "Backspace",
    "delete": "Del",
    "insert": "Ins",
    "home": "Home",
    "end": "End",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
}
# Textual's own bindings that are no perftop key: Ctrl+c only explains how to quit, and
# copying selected text has nothing to select on perftop's screens.
_NOT_PERFTOPS = frozenset({"help_quit", "screen.copy_text", "copy_text"})

_MODIFIERS = {"ctrl": "Ctrl", "shift": "Shift", "alt": "Alt", "meta": "Meta", "super": "Super"}


def key_label(binding: Binding) -> str:
    """How one key of `binding` is written in the help: F1, Esc, Ctrl+q, ?, k."""
    if binding.key_display:
        return binding.key_display
    modifiers, key = binding.parse_key()
    if key in _KEY_NAMES:
        name = _KEY_NAMES[key]
    elif len(key) > 1 and key[0] == "f" and key[1:].isdigit():
        name = key.upper()
    else:
        name = format_key(key)
    return "+".join([*(_MODIFIERS.get(m, m.title()) for m in modifiers), name])


def binding_rows(
    bindings: Iterable[BindingType] | BindingsMap,
    key_display: Callable[[Binding], str] | None = None,
    *,
    keymap: Keymap | None = None,
    drop: Container[str] = (),
) -> list[Row]:
    """One (keys, description) row per action, in the order the bindings are given.

    `bindings` is a `BINDINGS` list or a node's `BindingsMap` (`bindings_of(node)`, which
    includes inherited bindings). Textual applies the user's keymap only when it looks a
    key up, so pass it (`keymap_of(app)`) as `keymap` for the help to show remapped keys.
    Every binding is listed, hidden ones included, but for Textual's own that are no
    perftop key (Ctrl+c's quit hint, copying selected text); keys bound to the same action and
    description share a row ("q/Esc"). `key_display` overrides how a key is written (for
    instance `app.get_key_display`); the default is `key_label`. Bindings whose id is in
    `drop` are left out (the intrusive keys under --read-only).
    """
    if keymap:
        remapped = bindings.copy() if isinstance(bindings, BindingsMap) else BindingsMap(bindings)
        remapped.apply_keymap(keymap)  # clashes are the app's to report, as Textual does
        bindings = remapped
    if isinstance(bindings, BindingsMap):
        bindings = [b for per_key in bindings.key_to_bindings.values() for b in per_key]
    show_key = key_display or key_label
    rows: dict[tuple[str, str], list[str]] = {}
    # make_bindings splits "q,escape" into one binding per key, as Textual itself does.
    for binding in Binding.make_bindings(bindings):
        if binding.action in _NOT_PERFTOPS or (binding.id is not None and binding.id in drop):
            continue
        description = binding.description or binding.action.replace("_", " ").capitalize()
        keys = rows.setdefault((binding.action, description), [])
        label = show_key(binding)
        if label not in keys:
            keys.append(label)
    return [("/".join(keys), description) for (_, description), keys in rows.items()]


class KeyTable(Widget):
    """Keys in one column, what they do in the next (wrapped, with a hanging indent)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-table--key"}

    DEFAULT_CSS = """
    KeyTable {
        height: auto;
    }
    KeyTable > .key-table--key {
        color: $accent;
        text-style: bold;
    }
    """

    def __init__(
        self, rows: Iterable[Row], *, key_width: int | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.rows = list(rows)
        """The (keys, description) rows shown."""
        self.key_width = key_width
        """Width of the key column, so that several tables line up; None: the widest key."""

    def render(self) -> Table:
        key_style = self.get_component_rich_style("key-table--key")
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column(no_wrap=True, min_width=self.key_width)
        table.add_column(ratio=1)
        for keys, description in self.rows:
            text = literal(description)
            text.no_wrap = False
            key = literal(keys)
            key.stylize(key_style)
            table.add_row(key, text)
        return table


class HelpScreen(ModalScreen[None]):
    """A scrollable list of keys, optionally in titled sections; Esc, q, F1 or ? close it.

    `rows` are shown first, without a title; then each (title, rows) of `sections`.
    """

    AUTO_FOCUS = "#body"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1,question_mark", "close", "Close help", id="help.close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > #dialog {
        width: 84;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        background: $surface;
        border: thick $primary;
        border-title-color: $primary;
        border-title-style: bold;
        border-subtitle-color: $foreground-muted;
    }
    HelpScreen #body {
        height: auto;
        max-height: 100%;
        padding: 0 1;
        background: $surface;
    }
    HelpScreen .section-title {
        color: $primary;
        text-style: bold;
        margin-top: 1;
    }
    HelpScreen KeyTable {
        padding-left: 1;
    }
    """

    def __init__(
        self,
        rows: list[Row] | None = None,
        sections: list[Section] | None = None,
        *,
        title: str = "perftop keys",
    ) -> None:
        super().__init__()
        self.sections: list[Section] = ([("", list(rows))] if rows else []) + [
            (name, list(section_rows)) for name, section_rows in sections or []
        ]
        """Everything listed, as (title, rows); the title is "" for the untitled rows."""
        self.title_text = title

    def compose(self) -> ComposeResult:
        key_width = max(
            (cell_len(keys) for _, rows in self.sections for keys, _ in rows), default=0
        )
        with Vertical(id="dialog") as dialog:
            dialog.border_title = self.title_text
            dialog.border_subtitle = "Esc, q, F1 or ? closes · ↑↓ PgUp PgDn scroll"
            with VerticalScroll(id="body"):
                for number, (name, rows) in enumerate(self.sections):
                    if name:
                        yield Static(Text(name, end=""), classes="section-title", markup=False)
                    yield KeyTable(rows, key_width=key_width, id=f"section-{number}")

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
