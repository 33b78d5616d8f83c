"""Colour themes as data (TOML files), selectable by flag or config.

A theme file holds the fields of `textual.theme.Theme` (name, primary, secondary, accent,
warning, error, success, foreground, background, surface, panel, boost, dark, ansi,
luminosity_spread, text_alpha) and an optional `[variables]` table of extra CSS variables.
The built-in themes ship next to this module; a person adds or overrides one by dropping
`NAME.toml` into `~/.config/perftop/themes/` (a user file with a built-in's name wins).

This module is UI-side: it imports Textual. Collectors and the store never import it.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["ThemeError", "UnknownTheme", "available", "builtin_dir", "load", "valid_name"]

_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
_COLOURS = frozenset(
    ("primary", "secondary", "warning", "error", "success", "accent", "foreground")
    + ("background", "surface", "panel", "boost")
)
_FLAGS = frozenset(("dark", "ansi"))
_NUMBERS = frozenset(("luminosity_spread", "text_alpha"))
# Whatever Theme accepts in this Textual version, so a newer field is not refused here.
_FIELDS = frozenset(f.name for f in dataclasses.fields(Theme))


class ThemeError(ValueError):
    """A theme file that cannot be used; the message names the file and the field."""


class UnknownTheme(ThemeError):
    """No built-in or user theme has this name; the message lists the ones there are."""

    def __init__(self, name: str, valid_names: list[str]) -> None:
        self.name = name
        self.valid_names = sorted(valid_names)
        super().__init__(f"unknown theme {name!r}; choose one of: {', '.join(self.valid_names)}")


def builtin_dir() -> Path:
    """The directory holding the built-in theme files."""
    return Path(__file__).resolve().parent


def valid_name(name: str) -> bool:
    """Theme names are lowercase words (letters, digits) joined by dashes."""
    return bool(_NAME.match(name))


def _toml_files(directory: Path) -> dict[str, Path]:
    try:
        return {p.stem: p for p in sorted(directory.glob("*.toml")) if p.is_file()}
    except OSError:
        # An unreadable user directory must not stop perftop: the built-ins still work.
        return {}


def available(user_dir: Path | None = None) -> dict[str, Path]:
    """Every theme by name: the built-ins, then the user's `*.toml` files over them."""
    themes = _toml_files(builtin_dir())
    if user_dir is not None:
        themes.update(_toml_files(user_dir))
    return dict(sorted(themes.items()))


def load(name: str, user_dir: Path | None = None) -> Theme:
    """The theme called `name`, read from its file and checked field by field.

    Raises `UnknownTheme` when there is no such theme and `ThemeError` when its file is
    unreadable or malformed.
    """
    themes = available(user_dir)
    path = themes.get(name)
    if path is None:
        raise UnknownTheme(name, list(themes))
    return read(path)


def read(path: Path) -> Theme:
    """Parse one theme file; its name is the file's stem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThemeError(f"{path}: cannot read the theme file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ThemeError(f"{path}: the theme file is not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{path}: not valid TOML: {exc}") from exc

    def fail(field: str, why: str) -> ThemeError:
        return _error(path, field, why)

    stem = path.stem
    if not valid_name(stem):
        raise fail("name", f"{stem!r} is not a theme name (use lowercase words with dashes)")
    name = data.pop("name", stem)
    if name != stem:
        raise fail("name", f"is {name!r} but the file is named {stem}.toml; they must match")

    fields: dict[str, object] = {"name": name}
    for key, value in data.items():
        if key not in _FIELDS:
            raise fail(key, f"unknown field (known: {', '.join(sorted(_FIELDS))})")
        if key in _COLOURS:
            fields[key] = _colour(value, path, key)
        elif key in _FLAGS:
            if not isinstance(value, bool):
                raise fail(key, "must be true or false")
            fields[key] = value
        elif key in _NUMBERS:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise fail(key, "must be a number")
            fields[key] = float(value)
        elif key == "variables":
            fields[key] = _variables(value, path)
        else:  # a Theme field this module does not know yet: pass it through as given
            fields[key] = value
    if "primary" not in fields:
        raise fail("primary", "is required")
    return Theme(**fields)  # type: ignore[arg-type]  # each value's type is checked above


def _error(path: Path, field: str, why: str) -> ThemeError:
    return ThemeError(f"{path}: field {field!r}: {why}")


def _colour(value: object, path: Path, field: str) -> str:
    if not isinstance(value, str):
        raise _error(path, field, 'must be a colour in quotes, e.g. "#3b9ee6" or "ansi_blue"')
    try:
        Color.parse(value)
    except ColorParseError as exc:
        raise _error(path, field, f"{value!r} is not a colour") from exc
    return value


def _variables(value: object, path: Path) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _error(path, "variables", 'must be a table of name = "value"')
    for key, item in value.items():
        if not isinstance(item, str):
            raise _error(path, f"variables.{key}", "must be a string")
    return dict(value)
