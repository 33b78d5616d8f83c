"""The real app in a real terminal: `python -m perftop` in a pty, read through a terminal
emulator, driven by keystrokes. Nothing here is faked: the collectors read this machine,
the signal goes to a real process, the audit file is a real file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .terminal import Terminal

pytestmark = pytest.mark.e2e

MARKER = "perftop-e2e-target"
HOSTILE = "[red]x[/red] \x1b[31mRED\x1b]0;pwned\x07"


@pytest.fixture
def target() -> Iterator[subprocess.Popen[bytes]]:
    """A sleeping process whose argv carries markup and terminal escapes (kept short, so
    that all of it fits the COMMAND column)."""
    proc = subprocess.Popen(["bash", "-c", 'exec -a "$0" sleep 120', f"{MARKER} {HOSTILE}"])
    time.sleep(0.2)
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }


def _start(home: dict[str, str], *args: str) -> Terminal:
    return Terminal([sys.executable, "-m", "perftop", *args], cols=160, rows=32, env=home)


def test_dashboard_shows_live_data_and_hostile_names_stay_literal(
    target: subprocess.Popen[bytes], home: dict[str, str]
) -> None:
    term = _start(home)
    try:
        assert term.wait_for(lambda s: "PID" in s and "COMMAND" in s, timeout=15), term.text()
        term.type("/")
        term.type(MARKER)
        assert term.wait_for(lambda s: MARKER in s and str(target.pid) in s, 5), term.text()
        line = next(
            line for line in term.screen.display if line.lstrip().startswith(str(target.pid))
        )
        # The markup is shown as the characters it is made of, and the escape sequences
        # are inert: neither the colour change nor the window title reached the terminal.
        assert "[red]x[/red]" in line
        assert "^[[31mRED^[]0;pwned^G" in line
        assert term.screen.title != "pwned"
        assert b"\x1b]0;pwned" not in term.raw
        term.press("escape")
        term.type("q")
        assert term.wait_exit(10) == 0, term.raw[-2000:].decode(errors="replace")
    finally:
        term.close()


def test_kill_after_approval_signals_the_real_process_and_audits(
    target: subprocess.Popen[bytes], home: dict[str, str], tmp_path: Path
) -> None:
    term = _start(home)
    try:
        assert term.wait_for(lambda s: "COMMAND" in s, timeout=15), term.text()
        term.type("/")
        term.type(MARKER)
        term.press("enter")
        assert term.wait_for(lambda s: MARKER in s, 5)
        term.type("k")
        assert term.wait_for(lambda s: "SIGTERM" in s and "SIGKILL" in s, 5), term.text()
        term.press("enter")  # the picker starts on TERM
        assert term.wait_for(lambda s: "Send SIGTERM to" in s, 5), term.text()
        assert target.poll() is None  # asked, not done
        term.type("y")
        assert target.wait(timeout=5) == -15
        assert term.wait_for(lambda s: "sent SIGTERM" in s, 5), term.text()
        term.type("q")
        assert term.wait_exit(10) == 0, term.raw[-2000:].decode(errors="replace")
    finally:
        term.close()
    audit = tmp_path / "state" / "perftop" / "audit.jsonl"
    assert audit.stat().st_mode & 0o777 == 0o600
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    # The intent (written before the signal) and the outcome, under one id.
    assert [(r["action"], r["decision"], r["stage"]) for r in records] == [
        ("signal", "approved", "intent"),
        ("signal", "approved", "outcome"),
    ]
    assert records[0]["details"]["pid"] == target.pid
    assert records[0]["id"] == records[1]["id"]
    assert records[1]["outcome"] == f"sent SIGTERM to {target.pid}"


def test_read_only_has_no_kill_key(target: subprocess.Popen[bytes], home: dict[str, str]) -> None:
    term = _start(home, "--read-only")
    try:
        assert term.wait_for(lambda s: "COMMAND" in s, timeout=15), term.text()
        term.type("/")
        term.type(MARKER)
        term.press("enter")
        assert term.wait_for(lambda s: MARKER in s, 5)
        term.type("k")
        term.pump(1.0)
        assert "SIGTERM" not in term.text()
        assert target.poll() is None
        term.type("q")
        assert term.wait_exit(10) == 0, term.raw[-2000:].decode(errors="replace")
    finally:
        term.close()


BURNER = """
import time
def burn_cpu():
    x = 0
    for i in range(100_000):
        x += i
    return x
def main():
    print("program output goes to the log")
    while True:
        burn_cpu()
main()
"""


def test_run_launches_under_pyinstrument_and_stops_the_program_at_quit(
    home: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "burner.py"
    script.write_text(BURNER)
    log = tmp_path / "program.log"
    term = Terminal(
        [sys.executable, "-m", "perftop", "run", "--log", str(log), "--", sys.executable,
         str(script)],
        cols=140, rows=32, env=home,
    )  # fmt: skip
    try:
        assert term.wait_for(lambda s: "burn_cpu" in s and "pyinstrument" in s, 20), term.text()
        screen = term.text()
        assert "main thread only" in screen
        assert "program output goes to the log" not in screen  # not drawn over the TUI
        top = next(line for line in term.screen.display if "burn_cpu" in line)
        assert float(top.split()[0]) > 90  # OWN%: nearly every sample is in burn_cpu
        term.type("q")
        assert term.wait_exit(15) == 0, term.raw[-2000:].decode(errors="replace")
    finally:
        term.close()
    assert "program output goes to the log" in log.read_text()
    assert "stopped the program" in term.raw.decode(errors="replace")


def test_open_shows_a_saved_profile(home: dict[str, str]) -> None:
    saved = Path(__file__).parent / "fixtures" / "stacks_files" / "tiny.pyisession"
    term = _start(home, "open", str(saved))
    try:
        assert term.wait_for(lambda s: "burn_cpu" in s, 15), term.text()
        term.type("q")
        assert term.wait_exit(10) == 0
    finally:
        term.close()


def test_open_of_a_corrupt_file_is_a_usage_error(home: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.speedscope.json"
    bad.write_text("{not json")
    result = subprocess.run(
        [sys.executable, "-m", "perftop", "open", str(bad)],
        capture_output=True, text=True, timeout=30, env={**os.environ, **home},
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot open" in result.stderr and "Traceback" not in result.stderr
