"""The signal menu is numbered by signal number, as htop's is: 9 is KILL, 15 is TERM."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from textual.widgets import OptionList

from perftop.actions.process import SIGNALS
from perftop.tui.approve import ApprovalScreen
from perftop.tui.pickers import SignalPicker

from .support import run
from .test_app import counter_row, make_app, with_rows
from .test_approve import Host, shown_text


async def picked(*keys: str) -> list[object]:
    app = Host(SignalPicker)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
    return app.results


@run
async def test_nine_is_kill() -> None:
    assert await picked("9") == ["KILL"]


@run
async def test_one_then_five_is_term() -> None:
    assert await picked("1", "5") == ["TERM"]


@run
async def test_one_then_enter_is_hup_and_one_waits_for_a_second_digit() -> None:
    assert await picked("1", "enter") == ["HUP"]
    app = Host(SignalPicker)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("1")
        await pilot.pause()
        assert app.results == []  # 10, 12, 15, 18 and 19 also start with 1
        assert isinstance(app.screen, SignalPicker) and app.screen.highlighted_key == "HUP"
        await pilot.press("0")
        await pilot.pause()
    assert app.results == ["USR1"]


@run
async def test_a_number_of_no_listed_signal_picks_nothing() -> None:
    app = Host(SignalPicker)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("8", "4")
        await pilot.pause()
        assert app.results == []
        assert isinstance(app.screen, SignalPicker) and app.screen.highlighted_key == "TERM"


@run
async def test_each_line_shows_the_signals_own_number() -> None:
    app = Host(SignalPicker)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        lines = shown_text(app.screen.query_one(OptionList)).splitlines()
        numbers = [int(line.split()[0]) for line in lines]
        assert numbers == [signal.Signals[f"SIG{name}"].value for name in SIGNALS]
        assert lines[list(SIGNALS).index("KILL")].split()[:2] == ["9", "SIGKILL"]


@run
async def test_the_title_names_the_target_literally_and_masked() -> None:
    app = Host(lambda: SignalPicker(target=(4242, "evil[b]x\x1b[31m password=hunter2")))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        text = shown_text(app.screen.query_one("#box")).splitlines()[0]
        assert "4242" in text and "evil[b]x" in text
        assert "\x1b" not in text and "hunter2" not in text


async def prompt_after(tmp_path: Path, counter: Any, *keys: str) -> str:
    """What the approval prompt asks after F9 and `keys` on the real app."""
    proc, _ = counter
    app, _audit = make_app(tmp_path, with_rows(counter_row(proc)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the first redraw comes after the first refresh
        await pilot.press("f9")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, SignalPicker)
        title = shown_text(picker.query_one("#box")).splitlines()[0]
        assert f"pid {proc.pid}" in title
        await pilot.press(*keys)
        deadline = time.monotonic() + 5
        while not isinstance(app.screen, ApprovalScreen) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        screen = app.screen
        assert isinstance(screen, ApprovalScreen)
        prompt = screen.action_to_approve.title
        await pilot.press("n")
        await pilot.pause()
    return prompt


@run
async def test_f9_then_9_asks_to_send_sigkill(tmp_path: Path, counter: Any) -> None:
    assert await prompt_after(tmp_path, counter, "9") == "Send SIGKILL"


@run
async def test_f9_then_1_5_asks_to_send_sigterm(tmp_path: Path, counter: Any) -> None:
    assert await prompt_after(tmp_path, counter, "1", "5") == "Send SIGTERM"
