"""Untrusted text, shown literally.

Process names, command lines, paths, function names and SQL come from other people. They are
never parsed as Rich markup (always build `Text` objects, never markup strings) and their
control characters (ESC, BEL, CR, backspace, C1 controls, DEL) are replaced by visible
escapes so they cannot move the cursor, retitle the terminal or recolour the screen.

So are the characters that change the order text is shown in, which would let a process
name reorder what the approval prompt says (U+202E makes what follows read right to
left): the embeddings and overrides U+202A-U+202E, the isolates U+2066-U+2069, the
direction marks U+200E, U+200F and U+061C (invisible, they too move neutral characters
around), and the line and paragraph separators U+2028, U+2029 (they would break a
prompt's line). Each shows as a backslash, `u` and its four hex digits. Letters of
right-to-left scripts stay as they are.
"""

from __future__ import annotations

import re

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\t":
        return " "
    if char == "\n":
        return "\u21b5"  # the return symbol keeps multi-line argv on one row
    code = ord(char)
    if code < 0x20:
        return f"^{chr(code + 64)}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def neutralise(text: str) -> str:
    """`text` with every control character replaced by a visible, inert escape."""
    return _CONTROL.sub(_escape, text)


def literal(text: str, style: str = "") -> Text:
    """A `Text` that shows `text` exactly, markup-free, control characters neutralised."""
    return Text(neutralise(text), style=style, no_wrap=True, end="")
