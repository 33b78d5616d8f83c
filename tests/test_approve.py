"""The approval modal, the pickers and the help screen, driven through a small host app."""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pytest
from textual.app import App
from textual.binding import Binding
from textual.color import Color
from textual.geometry import Region
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, OptionList, Static

from perftop.actions.gate import Approval
from perftop.actions.process import SIGNALS, ProcessTarget, Renice, SendSignal
from perftop.config import SORT_KEYS
from perftop.themes import load
from perftop.tui.approve import ApprovalScreen, is_destructive
from perftop.tui.help import HelpScreen, KeyTable, binding_rows
from perftop.tui.pickers import SignalPicker, SortPicker

from .support import run

HOSTILE = "[red]x[/red] \x1b[31m"


@dataclass
class FakeAction:
    """An Action double: the thing under test is the screen, which must never run it."""

    title: str = "Send SIGTERM"
    description: str = "Send SIGTERM to 4242 `python worker.py` owned by alice."
    performed: int = 0

    kind = "signal"
    target = "pid 4242 (python)"

    def describe(self) -> str:
        return self.description

    def details(self) -> Mapping[str, object]:
        return {"pid": 4242}

    def perform(self, approval: Approval) -> str:
        self.performed += 1
        raise AssertionError("the approval screen must never perform the action")


class Host(App[None]):
    """Pushes one screen on mount and records what it was dismissed with."""

    def __init__(self, make_screen: Callable[[], Screen[object]]) -> None:
        super().__init__()
        self.make_screen = make_screen
        self.results: list[object] = []
        self.pushed: Screen[object] | None = None

    def on_mount(self) -> None:
        self.register_theme(load("perftop-dark"))
        self.theme = "perftop-dark"
        self.pushed = self.make_screen()
        self.push_screen(self.pushed, self.results.append)


def shown_text(widget: Widget) -> str:
    """The characters a widget draws, row by row."""
    strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return "\n".join(strip.text.rstrip() for strip in strips)


async def answer(press: list[str], action: FakeAction | None = None) -> list[object]:
    action = action or FakeAction()
    app = Host(lambda: ApprovalScreen(action))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ApprovalScreen)
        await pilot.press(*press)
        await pilot.pause()
        if not app.results:
            assert isinstance(app.screen, ApprovalScreen), "closed without an answer"
    assert action.performed == 0
    return app.results


# -- the approval modal -------------------------------------------------------------------


@run
async def test_focus_starts_on_no() -> None:
    app = Host(lambda: ApprovalScreen(FakeAction()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.focused, Button)
        assert app.focused.id == "no"


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["y"], [True]),
        (["n"], [False]),
        (["escape"], [False]),
        (["enter"], [False]),
        # Enter declines even when Yes has the focus: hammering Enter never approves.
        (["tab", "enter"], [False]),
        (["shift+tab", "enter"], [False]),
        # The first answer stands: a second key in the same burst does not flip it.
        (["n", "y"], [False]),
        (["enter", "y"], [False]),
    ],
)
@run
async def test_keys(keys: list[str], expected: list[bool]) -> None:
    assert await answer(keys) == expected


@run
async def test_no_key_can_press_yes() -> None:
    # The second line of defence behind the screen's Enter binding: Yes has no key at all.
    app = Host(lambda: ApprovalScreen(FakeAction()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        yes = app.screen.query_one("#yes", Button)
        assert not yes._bindings.key_to_bindings
        assert list(app.screen.query_one("#no", Button)._bindings.key_to_bindings) == ["enter"]


@run
async def test_tab_really_reaches_yes_before_enter() -> None:
    # Guards the test above: Tab from No must land on Yes, or "Tab, Enter" proves nothing.
    app = Host(lambda: ApprovalScreen(FakeAction()))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "yes"
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [False]


@run
async def test_clicking_yes_approves_and_no_declines() -> None:
    for button, expected in (("#yes", True), ("#no", False)):
        app = Host(lambda: ApprovalScreen(FakeAction()))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert await pilot.click(button)
            await pilot.pause()
        assert app.results == [expected]


@run
async def test_hostile_description_is_shown_literally() -> None:
    action = FakeAction(title=f"Send SIGKILL {HOSTILE}", description=f"Kill {HOSTILE} now.")
    app = Host(lambda: ApprovalScreen(action))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        description = app.screen.query_one("#description", Static)
        title = app.screen.query_one("#title", Static)
        # State: the text is the literal string, escape neutralised, no markup spans.
        assert str(description.content) == "Kill [red]x[/red] ^[[31m now."
        assert str(title.content) == "Send SIGKILL [red]x[/red] ^[[31m"
        # Pixels: the brackets are on screen, the escape is inert.
        assert "Kill [red]x[/red] ^[[31m now." in shown_text(description)
        assert "[red]x[/red] ^[[31m" in shown_text(title)
        assert "\x1b" not in shown_text(description)


@run
async def test_long_description_wraps_instead_of_being_cut() -> None:
    words = " ".join(f"word{n}" for n in range(40))
    app = Host(lambda: ApprovalScreen(FakeAction(description=words)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        description = app.screen.query_one("#description", Static)
        assert description.size.height > 1
        assert "word39" in shown_text(description)


def test_destructive_actions_are_recognised() -> None:
    target = ProcessTarget(pid=4242, start_ticks=1, name="python", cmdline="python w.py", user="a")
    assert is_destructive(SendSignal(target, "KILL"))
    assert is_destructive(SendSignal(target, "TERM"))
    assert is_destructive(SendSignal(target, "USR1"))
    assert not is_destructive(SendSignal(target, "CONT"))
    assert not is_destructive(Renice(target, old=0, new=10))


@run
async def test_destructive_prompt_is_styled_as_danger() -> None:
    app = Host(lambda: ApprovalScreen(FakeAction(title="Send SIGKILL")))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        dialog = app.screen.query_one("#dialog")
        assert dialog.has_class("-destructive")
        assert dialog.styles.border_top[1] == Color.parse(app.theme_variables["error"])
    app = Host(lambda: ApprovalScreen(FakeAction(title="Renice to 10")))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        dialog = app.screen.query_one("#dialog")
        assert not dialog.has_class("-destructive")
        assert dialog.styles.border_top[1] == Color.parse(app.theme_variables["primary"])


# -- pickers ------------------------------------------------------------------------------


@run
async def test_signal_picker_starts_on_term_and_picks_kill() -> None:
    app = Host(SignalPicker)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, SignalPicker)
        assert list(SIGNALS)[0] == "TERM" and picker.highlighted_key == "TERM"
        for _ in range(list(SIGNALS).index("KILL")):
            await pilot.press("down")
        assert picker.highlighted_key == "KILL"
        options = picker.query_one(OptionList)
        assert options.highlighted == list(SIGNALS).index("KILL")
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == ["KILL"]


@run
async def test_signal_picker_lists_every_signal_with_its_meaning() -> None:
    app = Host(SignalPicker)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        assert [option.id for option in options.options] == list(SIGNALS)
        lines = shown_text(options).splitlines()
        assert len(lines) == len(SIGNALS)  # one line each at 100 columns
        rows = zip(lines, SIGNALS.items(), strict=True)
        for line, (name, meaning) in rows:
            number = signal.Signals[f"SIG{name}"].value
            assert line.split() == [str(number), f"SIG{name}", *meaning.split()]


@run
async def test_signal_picker_number_key_and_escape() -> None:
    app = Host(SignalPicker)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("9")
        await pilot.pause()
    assert app.results == ["KILL"]
    app = Host(SignalPicker)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "escape")
        await pilot.pause()
    assert app.results == [None]


@run
async def test_sort_picker_starts_on_current_and_returns_pick() -> None:
    app = Host(lambda: SortPicker(current="mem"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, SortPicker)
        assert picker.highlighted_key == "mem"
        options = picker.query_one(OptionList)
        assert options.highlighted == SORT_KEYS.index("mem")
        assert "MEM%" in shown_text(options).splitlines()[options.highlighted]
        await pilot.press("down", "enter")
        await pilot.pause()
    assert app.results == [SORT_KEYS[SORT_KEYS.index("mem") + 1]]


@run
async def test_sort_picker_escape_cancels() -> None:
    app = Host(lambda: SortPicker(current="cpu"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "escape")
        await pilot.pause()
    assert app.results == [None]


# -- help ---------------------------------------------------------------------------------

BINDINGS = [
    Binding("f1,question_mark", "help", "Help", id="app.help"),
    Binding("q,f10", "quit", "Quit", id="app.quit"),
    Binding("slash", "filter", "Filter processes by name or command line", id="app.filter"),
    Binding("f6", "sort", "Sort by…", id="app.sort"),
    Binding("k,f9", "signal", "Send a signal to the selected process", id="app.kill"),
    Binding("ctrl+l", "redraw", "Redraw", show=False, id="app.redraw"),
    Binding("escape", "back", "", id="app.back"),
    ("t", "tree", "Tree view"),
]


def test_binding_rows_lists_every_binding() -> None:
    assert binding_rows(BINDINGS) == [
        ("F1/?", "Help"),
        ("q/F10", "Quit"),
        ("/", "Filter processes by name or command line"),
        ("F6", "Sort by…"),
        ("k/F9", "Send a signal to the selected process"),
        ("Ctrl+l", "Redraw"),
        ("Esc", "Back"),
        ("t", "Tree view"),
    ]
    assert binding_rows([Binding("x", "go", key_display="X!")]) == [("X!", "Go")]
    assert binding_rows([Binding("x", "go")], key_display=lambda b: b.key.upper()) == [("X", "Go")]


@run
async def test_binding_rows_from_a_live_bindings_map_follow_the_keymap() -> None:
    class Keyed(App[None]):
        BINDINGS = BINDINGS

    app = Keyed()
    async with app.run_test(size=(80, 24)):
        rows = {description: keys for keys, description in binding_rows(app._bindings)}
        # Textual's own ctrl+q quits too: the inherited bindings are part of the map.
        assert rows["Quit"].split("/") == ["Ctrl+q", "q", "F10"]
        assert rows["Help"] == "F1/?"
        assert "Help quit" not in rows and "Copy text" not in rows  # Textual's, not perftop's
        keymap = {"app.quit": "x", "app.filter": "ctrl+f"}
        app.set_keymap(keymap)
        rows = {d: keys for keys, d in binding_rows(app._bindings, keymap=app._keymap)}
        assert rows["Quit"].split("/") == ["Ctrl+q", "x"]
        assert rows["Filter processes by name or command line"] == "Ctrl+f"
        assert rows["Help"] == "F1/?"
        # The BINDINGS list itself is left as it was.
        assert binding_rows(BINDINGS)[1] == ("q/F10", "Quit")


SECTIONS = [
    ("Processes", binding_rows(BINDINGS[2:6])),
    ("Approval", [("y", "approve the action"), ("n/Esc/Enter", "decline: nothing runs")]),
]


@run
async def test_help_lists_rows_and_sections() -> None:
    rows = binding_rows(BINDINGS[:2])
    app = Host(lambda: HelpScreen(rows, sections=SECTIONS))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        tables = list(help_screen.query(KeyTable))
        assert [table.rows for table in tables] == [rows] + [r for _, r in SECTIONS]
        titles = [str(s.content) for s in help_screen.query(".section-title").results(Static)]
        assert titles == ["Processes", "Approval"]
        drawn = "\n".join(shown_text(table) for table in tables)
        for keys, description in rows + SECTIONS[0][1] + SECTIONS[1][1]:
            assert keys in drawn and description in drawn


@run
async def test_help_description_is_literal() -> None:
    app = Host(lambda: HelpScreen([("x", HOSTILE)]))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "[red]x[/red] ^[[31m" in shown_text(app.screen.query_one(KeyTable))


@pytest.mark.parametrize("key", ["escape", "q", "f1", "question_mark"])
@run
async def test_help_closes(key: str) -> None:
    app = Host(lambda: HelpScreen([("x", "y")]))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press(key)
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
    assert app.results == [None]


@run
async def test_help_scrolls_when_long() -> None:
    rows = [(f"k{n}", f"action number {n}") for n in range(60)]
    app = Host(lambda: HelpScreen(rows))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        body = app.screen.query_one("#body")
        assert body.max_scroll_y > 0 and body.scroll_y == 0
        await pilot.press("end")
        await pilot.pause()
        assert body.scroll_y == body.max_scroll_y


# -- snapshots (fixed data, no clock) ----------------------------------------------------

SNAPSHOT_TARGET = ProcessTarget(
    pid=4242,
    start_ticks=123456,
    name="python",
    cmdline="python worker.py --queue=high --password=s3cret [bold]not markup[/bold]",
    user="alice",
)


def test_snapshot_approval_modal(snap_compare: Callable[..., bool]) -> None:
    app = Host(lambda: ApprovalScreen(SendSignal(SNAPSHOT_TARGET, "KILL")))
    assert snap_compare(app, terminal_size=(80, 24))


def test_snapshot_help(snap_compare: Callable[..., bool]) -> None:
    app = Host(lambda: HelpScreen(binding_rows(BINDINGS[:2]), sections=SECTIONS))
    assert snap_compare(app, terminal_size=(100, 30))


def test_snapshot_signal_picker(snap_compare: Callable[..., bool]) -> None:
    # At 80 columns the longer meanings wrap under the meaning column; each line starts
    # with the signal's own number, and the title names the process it goes to.
    app = Host(lambda: SignalPicker(target=(4242, "python")))
    assert snap_compare(app, terminal_size=(80, 24), press=["down"])
