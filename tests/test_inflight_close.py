"""Leaving the Stacks screen while its work is in flight: a `py-spy dump` for the "now"
view, an export. The work is made to wait, deterministically, on something the test holds
(a py-spy that waits for a file; a FIFO with no reader yet); the screen is closed; then the
work is let go. Nothing raises, the app runs on, and nothing appears for the screen that is
gone."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import threading
import time
from pathlib import Path

from perftop.collectors.stacks.model import StackSample
from perftop.collectors.stacks.pyspy_faults import find_pyspy
from perftop.tui.app import PerftopApp
from perftop.tui.approve import ApprovalScreen
from perftop.tui.export_dialog import ExportDialog
from perftop.tui.stack_views import DumpScreen
from perftop.tui.stacks import StacksScreen

from .support import run, until
from .test_app_stacks import make_app, py_spies


def slow_dump_pyspy(tmp: Path) -> Path:
    """A py-spy whose `dump` says it started (file `dump-started`) and then waits for the
    file `release` before running the real one; `record` is the real py-spy at once."""
    real, started, release = find_pyspy(), tmp / "dump-started", tmp / "release"
    script = tmp / "py-spy"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = dump ]; then\n'
        f"  touch {shlex.quote(str(started))}\n"
        f"  while [ ! -e {shlex.quote(str(release))} ]; do sleep 0.02; done\n"
        "fi\n"
        f'exec {shlex.quote(real)} "$@"\n'
    )
    script.chmod(0o755)
    return script


def no_py_spy_within(seconds: float) -> bool:
    """Whether every py-spy child (the slow dump's wrapper included) is gone in time."""
    deadline = time.monotonic() + seconds
    while py_spies():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


async def attach(pilot: object, app: PerftopApp) -> StacksScreen:
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    await pilot.pause()
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
    await pilot.press("y")

    def sampled() -> bool:
        sample = app.store.latest("stacks", StackSample)
        return sample is not None and bool(sample.windows) and isinstance(app.screen, StacksScreen)

    await until(pilot, sampled)
    screen = app.screen
    assert isinstance(screen, StacksScreen)
    return screen


@run
async def test_leaving_the_screen_while_a_dump_is_pending(
    tmp_path: Path, burner: subprocess.Popen[str]
) -> None:
    app, _ = make_app(tmp_path, burner)
    async with app.run_test(size=(120, 40)) as pilot:
        await attach(pilot, app)
        assert app.stacks.sampler is not None
        app.stacks.sampler.pyspy = str(slow_dump_pyspy(tmp_path))
        await pilot.press("n")
        await until(pilot, (tmp_path / "dump-started").exists)
        await pilot.press("escape")  # leave the Stacks screen: the dump is still running
        await until(pilot, lambda: not isinstance(app.screen, StacksScreen))
        (tmp_path / "release").touch()
        await until(pilot, lambda: not [p for p in py_spies() if "dump" in p.cmdline()])
        await pilot.pause(0.3)  # the worker's last step, after py-spy exited
        assert app.is_running and app.return_code is None
        assert not any(isinstance(s, DumpScreen) for s in app.screen_stack)
        assert not any(isinstance(s, StacksScreen) for s in app.screen_stack)
        # And the screen comes back, working, when asked for.
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, StacksScreen))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, DumpScreen))
    assert app.return_code in (None, 0)


@run
async def test_quitting_while_a_dump_is_pending_leaves_no_py_spy(
    tmp_path: Path, burner: subprocess.Popen[str]
) -> None:
    app, _ = make_app(tmp_path, burner)
    async with app.run_test(size=(120, 40)) as pilot:
        await attach(pilot, app)
        assert app.stacks.sampler is not None
        app.stacks.sampler.pyspy = str(slow_dump_pyspy(tmp_path))
        await pilot.press("n")
        await until(pilot, (tmp_path / "dump-started").exists)
        app.exit()
    assert app.return_code in (None, 0)
    assert await asyncio.to_thread(no_py_spy_within, 5.0)


@run
async def test_leaving_the_screen_while_an_export_is_pending(
    tmp_path: Path, burner: subprocess.Popen[str]
) -> None:
    app, _ = make_app(tmp_path, burner)
    fifo = tmp_path / "profile.speedscope.json"
    os.mkfifo(fifo)  # writing it waits until the test opens it for reading
    read: list[bytes] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await attach(pilot, app)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExportDialog))
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        dialog.query_one("#export-path").value = str(fifo)  # type: ignore[attr-defined]
        await pilot.click("#export-ok")
        await until(pilot, lambda: isinstance(app.screen, StacksScreen))
        await pilot.pause(0.2)  # the export is now waiting for a reader
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, StacksScreen))
        reader = threading.Thread(target=lambda: read.append(fifo.read_bytes()))
        reader.start()
        await until(pilot, lambda: not reader.is_alive())
        await until(pilot, lambda: all(w.is_finished for w in app.workers))
        assert app.is_running and app.return_code is None
    assert read and b'"burn_cpu"' in read[0]
    assert app.return_code in (None, 0)
