"""The austin sampler: one real austin streaming samples of real Python children.

The same permit, gate and SIGCONT safety as py-spy's sampler (tests/test_pyspy.py); what
is austin's own: one attach for the whole run, idle samples marked by austin itself, and
py-spy taking over for what austin cannot do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from perftop.actions.audit import AuditLog
from perftop.actions.gate import Gate
from perftop.actions.process import ProcessTarget, read_start_time
from perftop.actions.stacks import AttachPySpy
from perftop.collectors.base import tick
from perftop.collectors.stacks.austin import AustinSampler, find_austin, parse_sample
from perftop.collectors.stacks.profile import merge
from perftop.collectors.stacks.pyspy import PySpyOptions, PySpySampler, process_state
from perftop.store import Store

from .support import run

# Lines as austin 3.7 wrote them here (`austin --pipe --full`), cut to a few frames.
MAIN = "P200;T0:200;/app/burn.py:<module>:18;/app/burn.py:main:15;/app/burn.py:burn_cpu:9 10071,0,0"
SLEEPY = (
    "P200;T0:231;/usr/lib/python3.11/threading.py:Thread._bootstrap:1002;"
    "/app/burn.py:sleeper:5 10077,1,0"
)
CHILD = "P201;T0:201;/app/c:d/work.py:Job.run:3 9000,0,0"  # with --children: its own pid


def target(pid: int) -> ProcessTarget:
    return ProcessTarget(pid, read_start_time(pid), "python", "python burn.py", "me")


async def attached(tmp: Path, pid: int, **options: object) -> AttachPySpy:
    async def ask(action: object) -> bool:
        return True

    action = AttachPySpy(target(pid), **options)  # type: ignore[arg-type]
    outcome = await Gate(AuditLog(tmp / "audit.jsonl"), read_only=False, ask=ask).request(action)
    assert outcome.ok, outcome.error
    return action


def austins() -> list[int]:
    return [
        p.pid
        for p in psutil.Process().children(recursive=True)
        if os.path.basename((p.cmdline() or [""])[0]) == "austin"
    ]


def test_parse_sample_threads_idle_qualnames_and_files_with_colons() -> None:
    main = parse_sample(MAIN, 200)
    assert main is not None and main.thread == "MainThread" and main.thread_id == 200
    assert [f.name for f in main.frames] == ["<module>", "main", "burn_cpu"]
    assert main.frames[-1].file == "/app/burn.py" and main.frames[-1].line == 9
    assert not main.idle and main.process == 0
    sleepy = parse_sample(SLEEPY, 200)
    assert sleepy is not None and sleepy.idle and sleepy.thread == "thread 231"
    assert sleepy.frames[0].name == "Thread._bootstrap"
    child = parse_sample(CHILD, 200)
    assert child is not None and child.frames[0].file == "/app/c:d/work.py"
    assert child.frames[0].name == "Job.run" and child.frames[0].line == 3
    assert child.process == 201 and child.thread == "MainThread"
    assert parse_sample("# austin: 3.7.0", 200) is None and parse_sample("", 200) is None
    assert parse_sample("garbage 12", 200) is None


@run
async def test_one_attach_streams_the_hot_function_and_the_idle_thread(
    burner: subprocess.Popen[str], tmp_path: Path
) -> None:
    action = await attached(tmp_path, burner.pid, idle=True)
    assert action.title == "Attach austin" and "with austin" in action.describe()
    sampler = action.sampler(window=0.5)
    assert isinstance(sampler, AustinSampler)
    store = Store()
    seen: set[int] = set()
    try:
        for _ in range(4):
            assert await tick(sampler, store), store.status("stacks").message
            seen.update(austins())
    finally:
        await sampler.close()
    assert len(seen) == 1  # one austin for every window
    assert austins() == []  # close() left nothing running
    sample = store.latest("stacks", object)
    assert sample is not None and sample.target.mode == "austin"
    assert len(sample.windows) == 4 and not sample.ended
    profile = merge(sample.windows)
    busy: dict[str, int] = {}
    for stack, count in profile.stacks:
        if not stack.idle:
            busy[stack.frames[-1].name] = busy.get(stack.frames[-1].name, 0) + count
    assert max(busy, key=busy.__getitem__) == "burn_cpu"
    idle = [s for s, _ in profile.stacks if s.idle]
    assert idle and all(s.thread != "MainThread" for s in idle)
    assert any(f.name == "sleeper" for s in idle for f in s.frames)
    assert 50 < profile.achieved_rate < 150 and profile.requested_rate == 100


@run
async def test_the_sampler_resumes_a_target_left_stopped(
    burner: subprocess.Popen[str], tmp_path: Path
) -> None:
    sampler = (await attached(tmp_path, burner.pid)).sampler(window=0.3)
    store = Store()
    try:
        assert await tick(sampler, store)
        os.kill(burner.pid, signal.SIGSTOP)  # as something else might leave it
        assert await tick(sampler, store)
    finally:
        await sampler.close()
    sample = store.latest("stacks", object)
    assert sample is not None and sample.resumed >= 1 and "SIGCONT" in sample.notice
    assert process_state(burner.pid) != "T"


def short_burner(tmp_path: Path) -> subprocess.Popen[str]:
    """A Python child that burns for one second and exits, started and ready."""
    script = tmp_path / "short.py"
    script.write_text(
        "import sys, time\nprint('ready', flush=True)\nend = time.monotonic() + 1.0\n"
        "while time.monotonic() < end:\n    sum(i * i for i in range(1000))\n"
    )
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return child


@run
async def test_a_target_that_exits_keeps_its_windows_and_is_ended(tmp_path: Path) -> None:
    child = short_burner(tmp_path)
    sampler = (await attached(tmp_path, child.pid)).sampler(window=0.4)
    store = Store()
    try:
        for _ in range(6):
            await tick(sampler, store)
            sample = store.latest("stacks", object)
            if sample is not None and sample.ended:
                break
    finally:
        await sampler.close()
        child.wait()
    assert sample is not None and sample.ended and sample.windows
    assert "exited" in sample.notice


@run
async def test_gil_only_is_py_spys_and_back_to_austin(
    burner: subprocess.Popen[str], tmp_path: Path
) -> None:
    sampler = (await attached(tmp_path, burner.pid)).sampler(window=0.3)
    assert isinstance(sampler, AustinSampler)
    store = Store()
    try:
        assert await tick(sampler, store)
        sampler.set_options(PySpyOptions(gil=True))
        assert await tick(sampler, store)
        assert store.latest("stacks", object).target.mode == "py-spy"  # type: ignore[union-attr]
        assert austins() == []  # the stream stopped while py-spy samples
        sampler.set_options(PySpyOptions())
        assert await tick(sampler, store)
        assert store.latest("stacks", object).target.mode == "austin"  # type: ignore[union-attr]
    finally:
        await sampler.close()


@run
async def test_py_spy_when_asked_or_when_austin_cannot(
    burner: subprocess.Popen[str], tmp_path: Path
) -> None:
    asked = await attached(tmp_path, burner.pid, engine="py-spy")
    assert asked.title == "Attach py-spy" and isinstance(asked.sampler(), PySpySampler)
    blocking = AttachPySpy(target(burner.pid), blocking=True)
    assert blocking.sampler_name == "py-spy" and "with py-spy" in blocking.describe()
    with pytest.raises(ValueError):
        AttachPySpy(target(burner.pid), engine="perf")


@run
async def test_a_non_python_target_is_refused_in_plain_words(
    not_python: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    async def ask(action: object) -> bool:
        return True

    action = AttachPySpy(target(not_python.pid))
    assert action.sampler_name == "austin"
    outcome = await Gate(AuditLog(tmp_path / "a.jsonl"), read_only=False, ask=ask).request(action)
    assert not outcome.ok and outcome.error is not None
    assert "as Python" in outcome.error and "\x1b" not in outcome.error


def test_austin_is_installed_beside_perftop() -> None:
    assert Path(find_austin()).name == "austin"
