"""A footer that drops whole keys, least important first, so that `q Quit` always shows.

Textual's `Footer` lays its keys out left to right and the screen's edge cuts whatever does
not fit, which at 80 columns was `q Quit` (the app's keys come after the screen's). This
one chooses the keys that fit before composing them, and chooses again when its width
changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from .textual_private import FooterKey

KEEP = ("quit", "help")
"""Binding ids that always show."""
DROP_FIRST = ("nice-down", "nice-up")
"""Binding ids that go before the others (after the command palette key), together."""
PALETTE_WIDTH = 14
"""Cells of the command palette key, `▏^p palette ` docked at the right."""


def key_width(key_display: str, description: str) -> int:
    """Cells a FooterKey takes in the normal (not compact) style: ` key description `."""
    return cell_len(key_display) + cell_len(description) + 3


def choose(items: Sequence[tuple[str, int]], width: int) -> tuple[list[int], bool]:
    """Which of `items` ((binding id, cells) in display order) fit in `width`, and whether
    the command palette key does too.

    The palette key goes first, then `DROP_FIRST`, then the others from the right; `KEEP`
    stays whatever the width.

    >>> keys = [("filter", 10), ("nice-down", 10), ("nice-up", 10), ("help", 9), ("quit", 8)]
    >>> choose(keys, 40)
    ([0, 3, 4], False)
    >>> choose(keys, 20)
    ([3, 4], False)
    """
    shown = list(range(len(items)))
    used = sum(cells for _, cells in items)
    if used + PALETTE_WIDTH <= width:
        return shown, True
    order = [[i for i in shown if items[i][0] in DROP_FIRST]]
    order += [[i] for i in reversed(shown) if items[i][0] not in (*KEEP, *DROP_FIRST)]
    for group in order:
        if used <= width:
            break
        for index in group:
            shown.remove(index)
            used -= items[index][1]
    return shown, False


class KeyFooter(Footer):
    """The screen's keys, as many whole ones as fit, `q Quit` and `f1 Help` always."""

    def __init__(self) -> None:
        super().__init__()
        self._chosen: tuple[tuple[str, ...], bool] | None = None

    def _keys(self) -> list[tuple[Binding, bool, str]]:
        """The shown bindings, one per action, in display order."""
        seen: dict[str, tuple[Binding, bool, str]] = {}
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen[binding.action] = (binding, enabled, tooltip)
        return list(seen.values())

    def _choose(self, keys: Iterable[tuple[Binding, bool, str]]) -> tuple[list[int], bool]:
        items = [
            (binding.id or binding.action, key_width(self.app.get_key_display(binding),
                                                     binding.description))
            for binding, _, _ in keys
        ]  # fmt: skip
        width = self.size.width or self.app.size.width
        return choose(items, width)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        keys = self._keys()
        shown, palette = self._choose(keys)
        self._chosen = (tuple(keys[i][0].action for i in shown), palette)
        for index in shown:
            binding, enabled, tooltip = keys[index]
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
        if palette and self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            entry = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
            if entry is not None:
                _, binding, enabled, tooltip = entry
                yield FooterKey(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    classes="-command-palette",
                    disabled=not enabled,
                    tooltip=binding.tooltip or binding.description,
                )

    def on_resize(self, event: events.Resize) -> None:
        if not self._bindings_ready:
            return
        keys = self._keys()
        shown, palette = self._choose(keys)
        if (tuple(keys[i][0].action for i in shown), palette) != self._chosen:
            self.call_after_refresh(self.recompose)
