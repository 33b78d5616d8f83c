"""`perftop run`: real Python children under pyinstrument, read through the collector and
a real Store. The waits below are deadlines for data to arrive (generous, for noisy
machines), never assertions about speed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from perftop.collectors.base import tick
from perftop.collectors.stacks import files
from perftop.collectors.stacks.launch import MAIN_THREAD_ONLY, LaunchCollector, Launched, start
from perftop.collectors.stacks.launch_plan import LaunchError, plan
from perftop.collectors.stacks.model import StackSample
from perftop.collectors.stacks.profile import merge
from perftop.store import Store

from .support import run

BURN = textwrap.dedent(
    """
    import sys, time

    def burn_cpu():
        total = 0
        for i in range(100_000):
            total += i * i
        return total

    def main(seconds):
        print("program says hello", flush=True)
        print("program warns", file=sys.stderr, flush=True)
        print("argv=" + repr(sys.argv[1:]), flush=True)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            burn_cpu()

    if __name__ == "__main__":
        main(float(sys.argv[1]))
        sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    """
)

ASYNC = textwrap.dedent(
    """
    import asyncio

    async def waiter():
        for _ in range(40):
            await asyncio.sleep(0.025)

    async def main():
        await waiter()

    asyncio.run(main())
    """
)

DEADLINE = 30.0


@pytest.fixture
def launched() -> Iterator[list[Launched]]:
    """Every program a test starts is stopped and cleaned up, whatever happens."""
    started: list[Launched] = []
    yield started
    for program in started:
        program.stop(timeout=2.0)
        program.close()


def script(tmp_path: Path, text: str = BURN, name: str = "app.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


async def until(
    collector: LaunchCollector, store: Store, done: Callable[[StackSample], bool]
) -> StackSample:
    """Tick the collector into the store until `done(sample)`; fail after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while True:
        assert await tick(collector, store), store.status("stacks").message
        sample = store.latest("stacks", StackSample)
        assert sample is not None
        if done(sample):
            return sample
        assert time.monotonic() < deadline, f"gave up waiting; last notice: {sample.notice}"
        await asyncio.sleep(0.1)


def samples(sample: StackSample) -> int:
    return merge(sample.windows).samples


def assert_burn_cpu_is_hot(sample: StackSample) -> None:
    profile = merge(sample.windows)
    top = profile.top_functions("own")[0]
    assert top.name == "burn_cpu", [(f.name, f.own) for f in profile.top_functions()[:5]]
    assert top.own_percent > 50
    callers = {
        node.frame.name if node.frame else None
        for node in profile.call_tree().walk()
        for child in node.children
        if child.frame and child.frame.name == "burn_cpu"
    }
    assert callers == {"main"}
    assert all(s.thread == "MainThread" for s, _ in profile.stacks)


@run
async def test_live_burn_cpu_is_the_top_function_under_main(
    tmp_path: Path, launched: list[Launched], capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "app.log"
    program = start([sys.executable, str(script(tmp_path)), "60"], None, log)
    launched.append(program)
    collector, store = LaunchCollector(program), Store()
    sample = await until(collector, store, lambda s: len(s.windows) >= 3 and samples(s) > 300)
    assert not sample.ended and program.returncode is None
    assert_burn_cpu_is_hot(sample)
    assert sample.target.mode == "pyinstrument" and sample.target.pid == program.pid
    assert sample.target.python == ".".join(map(str, sys.version_info[:3]))
    assert MAIN_THREAD_ONLY in sample.notice and str(log) in sample.notice
    assert "awaits" in sample.notice
    assert sample.threads == ("MainThread",)
    assert 0 < sample.coverage <= 1
    # The program's output went to its log, none of it to perftop's stdout or stderr.
    text = log.read_text()
    assert "program says hello" in text and "program warns" in text
    assert "argv=['60']" in text
    out, err = capfd.readouterr()
    assert "program says" not in out + err
    # Still running: no session from the agent yet, so the windows held are saved instead.
    assert not program.session_path.exists()
    saved = files.load(collector.save_session(tmp_path / "live.pyisession"))
    assert_burn_cpu_is_hot(saved)
    assert merge(saved.windows).samples == merge(collector.sample(None).windows).samples


@run
async def test_exit_keeps_the_profile_and_the_session_can_be_saved_and_opened(
    tmp_path: Path, launched: list[Launched]
) -> None:
    program = start([sys.executable, str(script(tmp_path)), "1.5", "3"], None, tmp_path / "log")
    launched.append(program)
    collector, store = LaunchCollector(program), Store()
    sample = await until(collector, store, lambda s: s.ended)
    assert program.returncode == 3
    assert "exit code 3" in sample.notice and MAIN_THREAD_ONLY in sample.notice
    assert sample.windows, "the last data is kept"
    assert_burn_cpu_is_hot(sample)
    again = await until(collector, store, lambda s: True)
    assert again.ended and again.windows == sample.windows

    saved = collector.save_session(tmp_path / "run.pyisession")
    reopened = files.load(saved)
    assert reopened.target.mode == "file"
    assert_burn_cpu_is_hot(reopened)
    live, back = merge(sample.windows), merge(reopened.windows)
    # The saved session is the whole run; the live windows are the same run, window by window.
    assert back.samples == pytest.approx(live.samples, rel=0.05)


@run
async def test_module_mode_runs_the_module_as_main(
    tmp_path: Path, launched: list[Launched]
) -> None:
    script(tmp_path, name="hotmod.py")
    log = tmp_path / "log"
    program = start(["0.8"], "hotmod", log, python=sys.executable, cwd=tmp_path)
    launched.append(program)
    assert program.plan.module == "hotmod" and "-m hotmod 0.8" in program.plan.command
    collector, store = LaunchCollector(program), Store()
    sample = await until(collector, store, lambda s: s.ended)
    assert program.returncode == 0 and "exited with code 0" in sample.notice
    assert_burn_cpu_is_hot(sample)
    roots = {s.frames[0].file for s, _ in merge(sample.windows).stacks}
    assert roots == {str(tmp_path / "hotmod.py")}, roots  # no agent or runpy frames
    assert "argv=['0.8']" in log.read_text()


@run
async def test_a_program_that_fails_at_start(tmp_path: Path, launched: list[Launched]) -> None:
    broken = script(tmp_path, "def main(:\n    pass\n", name="broken.py")
    log = tmp_path / "log"
    program = start(["python3", str(broken)], None, log, python=sys.executable)
    launched.append(program)
    collector, store = LaunchCollector(program), Store()
    sample = await until(collector, store, lambda s: s.ended)
    assert program.returncode == 1
    assert "failed with exit code 1" in sample.notice and str(log) in sample.notice
    text = log.read_text()
    assert "SyntaxError" in text and "broken.py" in text


# An interpreter without pyinstrument that can load perftop's is lent perftop's, and one
# that cannot is refused before anything runs: tests/test_run_interpreter.py.


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An interpreter without pyinstrument: a fresh venv with nothing installed."""
    where = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    return str(where / "bin" / "python")


@run
async def test_without_the_check_the_agent_says_the_same(
    tmp_path: Path, bare_python: str, launched: list[Launched]
) -> None:
    app = script(tmp_path, "print('ran')\n")
    program = start([bare_python, str(app)], None, tmp_path / "log", check=False)
    launched.append(program)
    collector, store = LaunchCollector(program), Store()
    sample = await until(collector, store, lambda s: s.ended)
    assert sample.notice.startswith(
        f"pyinstrument is not installed for {bare_python}: install pyinstrument 5.0 to 5.1 "
        f"there with: {bare_python} -m pip install 'pyinstrument>=5.0,<5.2'; or start the "
        "program by itself and attach py-spy: perftop --pid PID"
    )
    assert not sample.windows and "ran" not in (tmp_path / "log").read_text()


@run
async def test_asyncio_awaits_show_as_the_event_loop_waiting(
    tmp_path: Path, launched: list[Launched]
) -> None:
    program = start([sys.executable, str(script(tmp_path, ASYNC))], None, tmp_path / "log")
    launched.append(program)
    collector, store = LaunchCollector(program), Store()
    sample = await until(collector, store, lambda s: s.ended)
    assert program.returncode == 0
    profile = merge(sample.windows)
    idle = [(s, n) for s, n in profile.stacks if s.idle]
    assert sum(n for _, n in idle) > profile.samples / 2  # 1 s of sleeping in awaits
    for stack, _ in idle:
        names = [f.name for f in stack.frames]
        assert any(name.endswith("._run_once") for name in names), names
        assert names[-1] in ("epoll.poll", "select", "poll.poll"), names
        assert "waiter" not in names  # not charged to the awaiting coroutine
    own = {f.name: f.own for f in profile.top_functions()}
    assert own.get("waiter", 0) < profile.samples / 20


def test_plan_reads_interpreter_options_module_and_shebang(tmp_path: Path) -> None:
    p = plan([sys.executable, "-u", "-X", "dev", "app.py", "--flag"], None)
    assert (p.options, p.script, p.args) == (("-u", "-X", "dev"), "app.py", ("--flag",))
    p = plan(["python3", "-m", "http.server", "8000"], None)
    assert (p.module, p.args, p.script) == ("http.server", ("8000",), None)
    tool = tmp_path / "tool"
    tool.write_text("#!/usr/bin/env python3\nprint('x')\n")
    p = plan([str(tool), "a"], None)
    assert p.script == str(tool) and p.args == ("a",) and p.python.endswith("python3")
    with pytest.raises(LaunchError, match="not `python -c`"):
        plan(["python3", "-c", "print(1)"], None)
    with pytest.raises(LaunchError, match="starts Python programs"):
        plan(["/bin/ls", "-l"], None)
    with pytest.raises(LaunchError, match="no such interpreter"):
        plan(["python9.99", "app.py"], None)
