"""Attaching py-spy from the app: the approval prompt, a real sampler on a real Python
child, the Stacks screen, detach — and nothing at all after a No."""

from __future__ import annotations

import contextlib
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

from .support import filled_store, process_sample, row, run, until

CLK_TCK = os.sysconf("SC_CLK_TCK")


def burner_row(proc: subprocess.Popen[str]) -> ProcessRow:
    base = row(proc.pid, os.getpid(), "tester", "python -c burn", cpu=99.0)
    return dataclasses.replace(base, start_time=read_start_time(proc.pid) / CLK_TCK)


def make_app(
    tmp_path: Path, proc: subprocess.Popen[str], read_only: bool = False
) -> tuple[PerftopApp, AuditLog]:
    store = filled_store()
    store.put("processes", process_sample((burner_row(proc),)))
    audit = AuditLog(tmp_path / "audit.jsonl")
    gate = Gate(audit, read_only=read_only)
    settings = Settings(audit_file=audit.path, read_only=read_only)
    app = PerftopApp(settings, store, gate, Collection(store, []))
    app.register_theme(load("perftop-dark"))
    app.theme = "perftop-dark"
    return app, audit


def py_spies() -> list[psutil.Process]:
    """The samplers perftop runs: py-spy or austin processes, whichever attached."""
    me = psutil.Process()
    found = []
    for p in me.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            argv0 = os.path.basename((p.cmdline() or [""])[0])
            if argv0 in ("py-spy", "austin"):
                found.append(p)
    return found


@run
async def test_yes_attaches_samples_shows_the_hot_function_and_detach_stops(
    tmp_path: Path, burner: subprocess.Popen[str]
) -> None:
    app, audit = make_app(tmp_path, burner)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
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
        await until(pilot, lambda: screen.profile is not None)
        top = screen.profile.top_functions("own")[0]
        assert top.name == "burn_cpu" and top.own_percent > 60
        assert py_spies() != []  # the sampler runs while attached
        await pilot.press("d")
        await until(pilot, lambda: app.stacks.sampler is None and py_spies() == [])
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
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ApprovalScreen))
        await until(pilot, lambda: bool(audit.read()))  # the decision is recorded
        assert not isinstance(app.screen, StacksScreen)
        assert app.stacks.sampler is None
        assert app.store.latest("stacks", StackSample) is None
        assert py_spies() == []
    assert [(r["action"], r["decision"]) for r in audit.read()] == [("attach-py-spy", "declined")]


@run
async def test_read_only_has_no_attach(tmp_path: Path, burner: subprocess.Popen[str]) -> None:
    """Read-only from the start, as `perftop --read-only` builds it: no key to attach."""
    app, audit = make_app(tmp_path, burner, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        bound = {b.action for _, b, _, _ in app.screen.active_bindings.values()}
        assert "attach" not in bound and not any("attach" in a for a in bound)
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, ApprovalScreen)
        assert py_spies() == []
    assert audit.read() == []
