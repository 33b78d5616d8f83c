"""Themes as data: the built-ins load, user files are found and override, errors say where."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.color import Color

from perftop import themes
from perftop.store import Store
from perftop.themes import ThemeError, UnknownTheme
from perftop.tui.meters import CPU_PARTS, draw_cores
from perftop.tui.panes import CpuPane

from .support import cores, cpu_sample, run

BUILTINS = ("perftop-ansi", "perftop-dark", "perftop-light")


def test_builtin_files_are_next_to_the_module() -> None:
    assert sorted(p.name for p in themes.builtin_dir().glob("*.toml")) == [
        f"{name}.toml" for name in BUILTINS
    ]
    assert list(themes.available(None)) == list(BUILTINS)


@pytest.mark.parametrize("name", BUILTINS)
def test_each_builtin_loads_with_its_name(name: str) -> None:
    theme = themes.load(name, None)
    assert theme.name == name
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
    # The variables the app's CSS sees are the file's: its primary and its own variables.
    async def main() -> list[str]:
        app = App[None]()
        applied = []
        async with app.run_test(size=(40, 10)) as pilot:
            for name in BUILTINS:
                theme = themes.load(name)
                app.register_theme(theme)
                app.theme = name
                await pilot.pause()
                applied.append(app.current_theme.name)
                shown = Color.parse(app.theme_variables["primary"])
                assert shown == Color.parse(theme.primary), (name, shown)
                for key, value in theme.variables.items():
                    assert app.theme_variables[key] == value, (name, key)
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


# The CPU meter's colours ------------------------------------------------------------------------

# xterm's default RGB for the 16 ANSI colours: what the ANSI theme's names stand for.
XTERM = (
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0),
    (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
    (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
    (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
)  # fmt: skip
ANSI_NUMBER = {
    name: n
    for n, name in enumerate(
        ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
    )
}
MIN_DELTA_E = 20.0


def lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """CIE76 colour difference."""
    return float(sum((p - q) ** 2 for p, q in zip(lab(a), lab(b), strict=True)) ** 0.5)


def test_lab_and_delta_e_against_known_values() -> None:
    # Reference values (Bruce Lindbloom's calculator, D65 sRGB).
    white, black, red = lab((255, 255, 255)), lab((0, 0, 0)), lab((255, 0, 0))
    assert white == pytest.approx((100.0, 0.0, 0.0), abs=0.05)
    assert black == pytest.approx((0.0, 0.0, 0.0), abs=0.05)
    assert red == pytest.approx((53.24, 80.09, 67.20), abs=0.05)
    assert delta_e((255, 255, 255), (0, 0, 0)) == pytest.approx(100.0, abs=0.05)
    assert delta_e((216, 222, 230), (216, 222, 230)) == 0.0


def ansi_rgb(name: str) -> tuple[int, int, int]:
    """`ansi_bright_red` and the like as xterm draws them."""
    bare = name.removeprefix("ansi_")
    bright = bare.startswith("bright_")
    return XTERM[ANSI_NUMBER[bare.removeprefix("bright_")] + 8 * bright]


def rgb_of(colour: Any, default: tuple[int, int, int]) -> tuple[int, int, int]:
    """The sRGB a Rich colour is drawn in; the terminal's default stands for `default`."""
    if colour is None or colour.is_default:
        return default
    if colour.number is not None and colour.number < 16:
        return XTERM[colour.number]
    triplet = colour.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


def meter_parts() -> list[str]:
    """The parts the core bars are drawn with, as named to the palette."""
    asked: list[str] = []

    def palette(name: str) -> Style:
        asked.append(name)
        return Style()

    draw_cores(cores(4), 40, False, palette)
    parts = [name for name in dict.fromkeys(asked) if name != "label"]
    assert [name for name, _ in CPU_PARTS] == parts
    return parts


class CpuHost(App[None]):
    def __init__(self, theme: str, compact: bool) -> None:
        super().__init__()
        self.compact = compact
        self.register_theme(themes.load(theme))
        self.theme = theme

    def compose(self) -> ComposeResult:
        yield CpuPane()

    def on_mount(self) -> None:
        store = Store()
        store.put("cpu", cpu_sample(4))
        pane = self.query_one(CpuPane)
        pane.compact = self.compact
        pane.show(store)


@pytest.mark.parametrize("name", BUILTINS)
@run
async def test_every_cpu_meter_part_has_its_own_colour(name: str) -> None:
    theme = themes.load(name)
    # The ANSI theme draws on the terminal's own default colours; it names them itself.
    fg_default = ansi_rgb(theme.variables.get("ansi-foreground", "ansi_white"))
    bg_default = ansi_rgb(theme.variables.get("ansi-background", "ansi_black"))
    async with CpuHost(name, compact=False).run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        pane = pilot.app.query_one(CpuPane)
        text = rgb_of(pane.rich_style.color, fg_default)
        background = rgb_of(pane.rich_style.bgcolor, bg_default)
        colours = {part: rgb_of(pane.palette(part).color, fg_default) for part in meter_parts()}
    assert len(colours) >= 4
    for (a, rgb_a), (b, rgb_b) in itertools.combinations(colours.items(), 2):
        assert delta_e(rgb_a, rgb_b) >= MIN_DELTA_E, f"{name}: {a} {rgb_a} vs {b} {rgb_b}"
    for part, rgb in colours.items():
        assert delta_e(rgb, text) >= MIN_DELTA_E, f"{name}: {part} {rgb} vs text {text}"
        assert delta_e(rgb, background) >= MIN_DELTA_E, f"{name}: {part} vs background"


def coloured_words(app: App[Any]) -> set[tuple[str, str]]:
    """(word, colour) for every word on screen drawn in one colour."""
    found: set[tuple[str, str]] = set()
    for strip in app.screen._compositor.render_strips():  # noqa: SLF001 - what is on screen
        for segment in strip:
            colour = segment.style.color if segment.style else None
            for word in segment.text.split():
                found.add((word.strip("─╯╰"), str(colour)))
    return found


@pytest.mark.parametrize("compact", [False, True], ids=["bordered", "compact"])
@pytest.mark.parametrize("name", BUILTINS)
@run
async def test_the_cpu_legend_names_each_part_in_its_colour(name: str, compact: bool) -> None:
    async with CpuHost(name, compact=compact).run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        pane = pilot.app.query_one(CpuPane)
        words = coloured_words(pilot.app)
        for part, label in CPU_PARTS:
            assert (label, str(pane.palette(part).color)) in words, (part, label, words)


@run
async def test_the_cpu_legend_follows_a_change_of_theme() -> None:
    async with CpuHost("perftop-dark", compact=False).run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        pane = pilot.app.query_one(CpuPane)
        dark = {part: str(pane.palette(part).color) for part, _ in CPU_PARTS}
        pilot.app.register_theme(themes.load("perftop-light"))
        pilot.app.theme = "perftop-light"
        await pilot.pause()
        await pilot.pause()
        words = coloured_words(pilot.app)
        for part, label in CPU_PARTS:
            light = str(pane.palette(part).color)
            assert light != dark[part], part
            assert (label, light) in words, (part, words)
