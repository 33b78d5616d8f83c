"""A process name cannot reorder the approval prompt: bidirectional controls are shown as
visible escapes, like every other control character."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from textual.app import App
from textual.widgets import Static

from perftop.actions.process import ProcessTarget, SendSignal
from perftop.tui.approve import ApprovalScreen
from perftop.tui.text import literal, neutralise

from .support import run

# Every character that changes the order in which a terminal shows text, or breaks a line.
BIDI = {
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE",
    "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u200f": "RIGHT-TO-LEFT MARK",
    "\u061c": "ARABIC LETTER MARK",
    "\u2028": "LINE SEPARATOR",
    "\u2029": "PARAGRAPH SEPARATOR",
}


@pytest.mark.parametrize("char", sorted(BIDI), ids=lambda c: BIDI[c])
def test_each_bidi_control_becomes_a_visible_escape(char: str) -> None:
    shown = neutralise(f"a{char}b")
    assert shown == f"a\\u{ord(char):04x}b"
    assert char not in shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain name", "plain name"),
        ("arabic \u0627\u0644\u0639\u0631\u0628\u064a\u0629", "arabic العربية"),  # letters stay
        ("hebrew \u05e9\u05dc\u05d5\u05dd", "hebrew שלום"),
        ("caf\u00e9 \u2603 \U0001f600", "café ☃ 😀"),
        ("x\u202egnp.exe", "x\\u202egnp.exe"),
        ("\x1b[2J\u2066hidden\u2069", "^[[2J\\u2066hidden\\u2069"),
        ("tab\there", "tab here"),
    ],
)
def test_the_table_of_cases(text: str, shown: str) -> None:
    assert neutralise(text) == shown


def test_literal_text_holds_no_bidi_control() -> None:
    text = literal("evil \u202etxt.exe\u202c \u2067x\u2069")
    assert not set(text.plain) & set(BIDI)


SPOOF = "\u202e" + "yes=yllaniF ,DROWSSAP-TON-SI-SIHT"


@pytest.fixture
def spoofer() -> Iterator[subprocess.Popen[bytes]]:
    """A real process whose command line holds a right-to-left override."""
    code = (
        "import time\n"
        "open('/proc/self/comm', 'w').write('\\u202eexe.txt')\n"  # its name, too
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [SPOOF, "-c", code],  # argv[0] first, so the prompt's shortened label shows it
        executable=sys.executable,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
    yield proc
    proc.kill()
    proc.wait()


class PromptApp(App[None]):
    def __init__(self, screen: ApprovalScreen) -> None:
        super().__init__()
        self.prompt = screen

    def on_mount(self) -> None:
        self.push_screen(self.prompt)


@run
async def test_the_prompt_for_a_real_spoofing_process_holds_no_bidi_control(
    spoofer: subprocess.Popen[bytes],
) -> None:
    target = ProcessTarget.from_pid(spoofer.pid)
    assert target.cmdline.startswith(SPOOF)  # the process really carries it
    assert target.name == "\u202eexe.txt"
    action = SendSignal(target, "TERM")
    app = PromptApp(ApprovalScreen(action))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for widget in app.screen.query(Static):
            rendered = widget.render()
            plain = rendered.plain if hasattr(rendered, "plain") else str(rendered)
            assert not set(plain) & set(BIDI), (widget.id, plain)
        description = app.screen.query_one("#description", Static).render()
        assert "\\u202e" in str(getattr(description, "plain", description))
    target.close()
