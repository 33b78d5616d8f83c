"""Attaching py-spy from the app: the approval prompt, a real sampler on a real Python
child, the Stacks screen, detach — and nothing at all after a No."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from pathlib import Path

import psutil

from perftop.actions.audit import AuditLog
from perftop.actions.gate import Gate
from perftop.actions.process import read_start_time
from perftop.collectors.base import Collection
from perftop.collectors.samples import ProcessRow
from perftop.collectors.stacks.model import StackSample
from perftop.config import Settings
from perftop.themes import load
from perftop.tui.app import PerftopApp
from perftop.tui.approve import ApprovalScreen
from perftop.tui.stacks import StacksScreen

from .support import filled_store, process_sample, row, run

CLK_TCK = os.sysconf("SC_CLK_TCK")


def burner_row(proc: subprocess.Popen[str]) -> ProcessRow:
    base = row(proc.pid, os.getpid(), "tester", "python -c burn", cpu=99.0)
    return dataclasses.replace(base, start_time=read_start_time(proc.pid) / CLK_TCK)


def make_app(tmp_path: Path, proc: subprocess.Popen[str]) -> tuple[PerftopApp, AuditLog]:
    store = filled_store()
    store.put("processes", process_sample((burner_row(proc),)))
    audit = AuditLog(tmp_path / "audit.jsonl")
    gate = Gate(audit, read_only=False)
    app = PerftopApp(Settings(audit_file=audit.path), store, gate, Collection(store, []))
    app.register_theme(load("perftop-dark"))
    app.theme = "perftop-dark"
    return app, audit


def py_spies() -> list[psutil.Process]:
    me = psutil.Process()
    return [p for p in me.children(recursive=True) if "py-spy" in " ".join(p.cmdline())]


@run
async def test_yes_attaches_samples_shows_the_hot_function_and_detach_stops(
    tmp_path: Path, burner: subprocess.Popen[str]
) -> None:
    app, audit = make_app(tmp_path, burner)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ApprovalScreen)
        assert py_spies() == []  # asked, nothing started
        await pilot.press("y")
        deadline = time.monotonic() + 15
        sample = None
        while time.monotonic() < deadline:
            await pilot.pause(0.25)
            sample = app.store.latest("stacks", StackSample)
            if sample is not None and sum(w.samples for w in sample.windows) > 100:
                break
        assert sample is not None and sample.target.pid == burner.pid
        screen = app.screen
        assert isinstance(screen, StacksScreen)
        await pilot.pause(0.2)
        assert screen.profile is not None
        top = screen.profile.top_functions("own")[0]
        assert top.name == "burn_cpu" and top.own_percent > 60
        await pilot.press("d")
        await pilot.pause(1.0)
        assert app.stacks.sampler is None
        assert py_spies() == []
    assert [(r["action"], r["decision"]) for r in audit.read()] == [
        ("attach-py-spy", "approved"),
        ("detach-py-spy", "approved"),
    ]


@run
async def test_no_starts_nothing(tmp_path: Path, burner: subprocess.Popen[str]) -> None:
    app, audit = make_app(tmp_path, burner)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ApprovalScreen)
        await pilot.press("n")
        await pilot.pause(1.0)
        assert not isinstance(app.screen, StacksScreen)
        assert app.stacks.sampler is None
        assert app.store.latest("stacks", StackSample) is None
        assert py_spies() == []
    assert [(r["action"], r["decision"]) for r in audit.read()] == [("attach-py-spy", "declined")]


@run
async def test_read_only_has_no_attach(tmp_path: Path, burner: subprocess.Popen[str]) -> None:
    app, audit = make_app(tmp_path, burner)
    app.settings = dataclasses.replace(app.settings, read_only=True)
    app.gate.read_only = True
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, ApprovalScreen)
        assert py_spies() == []
    assert audit.read() == []
