"""A profile perftop saves opens again: in pyinstrument's own loader and renderer, and in
`perftop open` on its whole span with its real rate and duration in the header.

The profile is what `perftop run` holds before the agent saved its own session (the
program still running or killed): 40 s of 1 s windows at 1000 Hz, two threads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pyinstrument.renderers import ConsoleRenderer
from pyinstrument.session import Session
from textual.app import App

from perftop.collectors.stacks import export, files
from perftop.collectors.stacks.launch import LaunchCollector, Launched, start
from perftop.collectors.stacks.model import Frame, Stack, StackSample, StackTarget, StackWindow
from perftop.collectors.stacks.profile import merge
from perftop.store import Store
from perftop.tui.stacks import StacksScreen

from .support import run
from .test_launch import launched, samples, script, until  # noqa: F401 - launched: a fixture

MAIN = (Frame("<module>", "/srv/app.py", 1), Frame("main", "/srv/app.py", 9))
HOT = Stack("MainThread", 1, (*MAIN, Frame("burn_cpu", "/srv/app.py", 3)))
COLD = Stack("MainThread", 1, (*MAIN, Frame("tidy_up", "/srv/app.py", 5)))
OTHER = Stack("worker", 2, (Frame("run", "/srv/worker.py", 2),))
SECONDS = 40


def held() -> StackSample:
    windows = tuple(
        StackWindow(
            1_700_000_000.0 + i,
            1.0,
            1000.0,
            ((HOT, 700), (COLD, 300), (OTHER, 1000)),
            ticks=1000,
        )
        for i in range(SECONDS)
    )
    return StackSample(
        time=1_700_000_040.0,
        target=StackTarget(4242, "python /srv/app.py", "pyinstrument"),
        windows=windows,
        coverage=1.0,
        threads=("MainThread", "worker"),
    )


def test_session_loads_and_renders_in_pyinstrument(tmp_path: Path) -> None:
    path = files.save_session(held(), tmp_path / "run.pyisession")
    session = Session.load(str(path))
    assert session.start_call_stack, "pyinstrument trims the stem from start_call_stack"
    text = ConsoleRenderer(unicode=False, color=False).render(session)
    assert "burn_cpu" in text and "tidy_up" in text and "run" in text
    command = [sys.executable, "-m", "pyinstrument", "--load", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "burn_cpu" in done.stdout


def test_session_keeps_the_times_of_the_run(tmp_path: Path) -> None:
    path = files.save_session(held(), tmp_path / "run.pyisession")
    (window,) = files.load(path).windows
    assert window.duration == SECONDS
    assert window.requested_rate == 1000.0
    assert window.samples == SECONDS * 2000
    # one sampling instant per thread per tick: 1000 instants a second, not 2000
    assert window.achieved_rate == 1000.0


class Opened(App[None]):
    def __init__(self, sample: StackSample) -> None:
        super().__init__()
        self.store = Store()
        self.store.put("stacks", sample)

    def on_mount(self) -> None:
        screen = StacksScreen(mode="file")
        self.push_screen(screen)
        screen.show(self.store)


async def header_of(path: Path) -> tuple[str, int]:
    app = Opened(files.load(path))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StacksScreen) and screen.profile is not None
        return screen.header_text().plain, screen.profile.samples


@run
async def test_open_shows_a_saved_session_whole_with_its_rate(tmp_path: Path) -> None:
    path = files.save_session(held(), tmp_path / "run.pyisession")
    header, samples = await header_of(path)
    assert samples == SECONDS * 2000
    assert "1000.0 Hz of 1000 Hz" in header and "coverage 100.0%" in header
    assert "span whole file (40 s)" in header
    assert "PID 0" not in header


@run
async def test_open_shows_a_speedscope_export_whole_with_its_rate(tmp_path: Path) -> None:
    path = export.write(merge(held().windows), tmp_path / "run.json")
    header, samples = await header_of(path)
    assert samples == SECONDS * 2000
    assert "1000.0 Hz of 1000 Hz" in header and "coverage 100.0%" in header
    assert "span whole file (40 s)" in header


def pyinstrument_shows(path: Path) -> str:
    """`pyinstrument --load FILE`, as a person would run it; its text output."""
    command = [sys.executable, "-m", "pyinstrument", "--load", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@run
async def test_a_real_perftop_run_saves_sessions_pyinstrument_loads(
    tmp_path: Path,
    launched: list[Launched],  # noqa: F811 - the fixture imported above
) -> None:
    program = start([sys.executable, str(script(tmp_path)), "4"], None, tmp_path / "log")
    launched.append(program)
    collector, store = LaunchCollector(program), Store()
    await until(collector, store, lambda s: len(s.windows) >= 2 and samples(s) > 200)
    # Still running: the windows perftop holds are what is saved.
    live = collector.save_session(tmp_path / "live.pyisession")
    assert "burn_cpu" in pyinstrument_shows(live)
    await until(collector, store, lambda s: s.ended)
    # Ended: the agent's own session of the whole run.
    whole = collector.save_session(tmp_path / "whole.pyisession")
    assert "burn_cpu" in pyinstrument_shows(whole)
    header, count = await header_of(whole)
    assert count > 1000 and "coverage 100.0%" in header and "span whole file (" in header
    assert " 0.0 Hz" not in header


@run
async def test_a_speedscope_file_of_counts_says_it_has_no_clock(tmp_path: Path) -> None:
    document = export.speedscope(merge(held().windows))
    del document["perftop"]  # what another tool's counts-only file holds
    path = tmp_path / "counts.json"
    path.write_text(json.dumps(document))
    header, samples = await header_of(path)
    assert samples == SECONDS * 2000
    assert "0.0 Hz" not in header and "coverage 0.0%" not in header
    assert "no times in the file" in header and "span whole file ·" in header
