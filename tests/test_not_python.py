"""`--pid`, `a` and `snapshot --pid` on a process that is not Python say so before asking:
the check reads /proc only, and a yes could only have ended in py-spy failing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from perftop.actions.audit import AuditLog
from perftop.actions.gate import Gate
from perftop.collectors.stacks.detect import why_not_python
from perftop.config import Settings
from perftop.sessions.stacks import stacks_section
from perftop.startup import Startup
from perftop.themes import load
from perftop.tui.app import PerftopApp
from perftop.tui.approve import ApprovalScreen

from .support import filled_store, run


def test_a_program_that_is_not_python_is_named_with_its_reason(
    not_python: subprocess.Popen[bytes],
) -> None:
    why = why_not_python(not_python.pid)
    assert why is not None
    assert f"process {not_python.pid} (sleep) is not a Python process" in why


def test_python_processes_are_python(burner: subprocess.Popen[str]) -> None:
    assert why_not_python(os.getpid()) is None  # this interpreter
    assert why_not_python(burner.pid) is None
    if os.path.exists("/usr/bin/python3"):  # a distribution's build, linked another way
        child = subprocess.Popen(["/usr/bin/python3", "-c", "import sys; sys.stdin.read()"],
                                 stdin=subprocess.PIPE)  # fmt: skip
        try:
            assert why_not_python(child.pid) is None
        finally:
            child.kill()
            child.wait()


def test_an_unreadable_or_vanished_process_is_left_to_the_attach(tmp_path: Path) -> None:
    assert why_not_python(2**22 + 1) is None


def make_app(tmp_path: Path, pid: int) -> tuple[PerftopApp, AuditLog]:
    audit = AuditLog(tmp_path / "audit.jsonl")
    settings = Settings(audit_file=audit.path)
    app = PerftopApp(
        settings, filled_store(), Gate(audit, read_only=False), startup=Startup(pid=pid)
    )
    app.register_theme(load("perftop-dark"))
    app.theme = "perftop-dark"
    return app, audit


def notes(app: PerftopApp) -> list[str]:
    return [str(n.message) for n in app._notifications]  # noqa: SLF001 - what was shown


@run
async def test_pid_of_a_non_python_process_says_so_and_asks_nothing(
    tmp_path: Path, not_python: subprocess.Popen[bytes]
) -> None:
    app, audit = make_app(tmp_path, not_python.pid)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ApprovalScreen)
        assert any("is not a Python process" in n for n in notes(app)), notes(app)
    assert audit.read() == []


@run
async def test_pid_of_a_python_process_asks(tmp_path: Path, burner: Any) -> None:
    app, audit = make_app(tmp_path, burner.pid)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        assert isinstance(app.screen, ApprovalScreen)
        await pilot.press("n")
        await pilot.pause(0.3)
    assert [r["decision"] for r in audit.read()] == ["declined"]


@run
async def test_snapshot_of_a_non_python_process_asks_nothing(
    tmp_path: Path, not_python: subprocess.Popen[bytes]
) -> None:
    asked: list[object] = []

    async def ask(action: object) -> bool:
        asked.append(action)
        return True

    gate = Gate(AuditLog(tmp_path / "audit.jsonl"), read_only=False, ask=ask)
    section = await stacks_section(not_python.pid, 1.0, gate=gate)
    assert "is not a Python process" in str(section["error"])
    assert asked == []
