"""Untrusted text, shown literally.

Process names, command lines, paths, function names and SQL come from other people. They are
never parsed as Rich markup (always build `Text` objects, never markup strings) and their
control characters (ESC, BEL, CR, backspace, C1 controls, DEL) are replaced by visible
escapes so they cannot move the cursor, retitle the terminal or recolour the screen.
"""

from __future__ import annotations

import re

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\t":
        return " "
    if char == "\n":
        return "\u21b5"  # the return symbol keeps multi-line argv on one row
    code = ord(char)
    return f"^{chr(code + 64)}" if code < 0x20 else f"\\x{code:02x}"


def neutralise(text: str) -> str:
    """`text` with every control character replaced by a visible, inert escape."""
    return _CONTROL.sub(_escape, text)


def literal(text: str, style: str = "") -> Text:
    """A `Text` that shows `text` exactly, markup-free, control characters neutralised."""
    return Text(neutralise(text), style=style, no_wrap=True, end="")
