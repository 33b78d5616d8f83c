"""Themes as data: the built-ins load, user files are found and override, errors say where."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.app import App
from textual.color import Color
from textual.theme import Theme

from perftop import themes
from perftop.themes import ThemeError, UnknownTheme

BUILTINS = ("perftop-ansi", "perftop-dark", "perftop-light")


def test_builtin_files_are_next_to_the_module() -> None:
    assert sorted(p.name for p in themes.builtin_dir().glob("*.toml")) == [
        f"{name}.toml" for name in BUILTINS
    ]
    assert list(themes.available(None)) == list(BUILTINS)


@pytest.mark.parametrize("name", BUILTINS)
def test_each_builtin_loads_with_its_name(name: str) -> None:
    theme = themes.load(name, None)
    assert isinstance(theme, Theme)
    assert theme.name == name
    assert themes.valid_name(theme.name)
    # Every role the panes' CSS uses is set, so no built-in falls back to Textual's defaults.
    for role in ("primary", "secondary", "accent", "warning", "error", "success"):
        assert getattr(theme, role), role
    for role in ("foreground", "background", "surface", "panel"):
        assert getattr(theme, role), role


def test_light_and_dark_say_so() -> None:
    assert themes.load("perftop-dark").dark is True
    assert themes.load("perftop-light").dark is False


def test_ansi_theme_uses_the_terminal_palette_only() -> None:
    theme = themes.load("perftop-ansi")
    assert theme.ansi is True
    colours = [
        getattr(theme, role)
        for role in ("primary", "secondary", "accent", "warning", "error", "success")
        + ("foreground", "background", "surface", "panel", "boost")
    ] + list(theme.variables.values())
    colours = [c for c in colours if c not in ("none", "reverse", "bold")]
    assert colours and all(c.startswith("ansi_") for c in colours), colours
    assert theme.background == "ansi_default" and theme.foreground == "ansi_default"


def test_every_builtin_applies_in_a_real_app() -> None:
    # Registering and switching proves Textual accepts every colour and variable.
    async def main() -> list[str]:
        app = App[None]()
        applied = []
        async with app.run_test(size=(40, 10)) as pilot:
            for name in BUILTINS:
                app.register_theme(themes.load(name))
                app.theme = name
                await pilot.pause()
                applied.append(app.current_theme.name)
                assert Color.parse(app.theme_variables["primary"]) is not None
        return applied

    assert asyncio.run(main()) == list(BUILTINS)


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_user_theme_is_listed_and_loads(tmp_path: Path) -> None:
    user_dir = tmp_path / "perftop" / "themes"
    path = write(
        user_dir,
        "solar-night",
        'name = "solar-night"\nprimary = "#268bd2"\nbackground = "#002b36"\n'
        'dark = true\n[variables]\nfooter-key-foreground = "#b58900"\n',
    )
    found = themes.available(user_dir)
    assert found["solar-night"] == path
    assert set(BUILTINS) <= set(found)
    theme = themes.load("solar-night", user_dir)
    assert (theme.name, theme.primary, theme.background) == ("solar-night", "#268bd2", "#002b36")
    assert theme.variables == {"footer-key-foreground": "#b58900"}


def test_user_theme_name_defaults_to_the_file_name(tmp_path: Path) -> None:
    write(tmp_path, "mine", 'primary = "ansi_magenta"\nansi = true\n')
    theme = themes.load("mine", tmp_path)
    assert theme.name == "mine" and theme.ansi is True


def test_user_file_overrides_a_builtin(tmp_path: Path) -> None:
    path = write(tmp_path, "perftop-dark", 'name = "perftop-dark"\nprimary = "#ff00ff"\n')
    assert themes.available(tmp_path)["perftop-dark"] == path
    assert themes.load("perftop-dark", tmp_path).primary == "#ff00ff"
    assert themes.load("perftop-dark", None).primary != "#ff00ff"


def test_missing_user_dir_is_just_the_builtins(tmp_path: Path) -> None:
    assert list(themes.available(tmp_path / "nope")) == list(BUILTINS)


def test_unknown_name_lists_the_valid_ones(tmp_path: Path) -> None:
    write(tmp_path, "mine", 'primary = "red"\n')
    with pytest.raises(UnknownTheme) as info:
        themes.load("perftop-purple", tmp_path)
    assert info.value.name == "perftop-purple"
    assert info.value.valid_names == sorted([*BUILTINS, "mine"])
    message = str(info.value)
    assert "perftop-purple" in message
    for name in (*BUILTINS, "mine"):
        assert name in message


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('primary = "#3b9ee6"\nname = ', None),  # not TOML at all
        ('primary = "not-a-colour"\n', "primary"),
        ("primary = 12\n", "primary"),
        ('primary = "red"\ndark = "yes"\n', "dark"),
        ('primary = "red"\nprimry = "blue"\n', "primry"),
        ('name = "other-name"\nprimary = "red"\n', "name"),
        ('secondary = "red"\n', "primary"),
        ('primary = "red"\ntext_alpha = "high"\n', "text_alpha"),
        ('primary = "red"\nvariables = "x"\n', "variables"),
        ('primary = "red"\n[variables]\nborder = 3\n', "variables.border"),
    ],
)
def test_malformed_file_names_the_file_and_field(
    tmp_path: Path, text: str, field: str | None
) -> None:
    path = write(tmp_path, "broken", text)
    with pytest.raises(ThemeError) as info:
        themes.load("broken", tmp_path)
    assert not isinstance(info.value, UnknownTheme)
    message = str(info.value)
    assert str(path) in message
    if field is not None:
        assert repr(field) in message


def test_file_name_that_is_not_a_theme_name(tmp_path: Path) -> None:
    path = write(tmp_path, "My Theme", 'primary = "red"\n')
    with pytest.raises(ThemeError, match="lowercase words with dashes") as info:
        themes.load("My Theme", tmp_path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("name", "ok"),
    [("perftop-dark", True), ("a1-b2", True), ("Dark", False), ("a_b", False), ("-a", False)]
    + [("a--b", False), ("", False), ("a-", False)],
)
def test_valid_name(name: str, ok: bool) -> None:
    assert themes.valid_name(name) is ok
