"""The py-spy sampler against real Python children, through the real gate and store."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from perftop.actions.audit import AuditLog
from perftop.actions.gate import ActionRefused, Approval, Gate
from perftop.actions.process import PidHandle, ProcessTarget, read_start_time
from perftop.actions.stacks import AttachPySpy, DetachPySpy
from perftop.collectors.base import tick
from perftop.collectors.stacks.model import StackSample
from perftop.collectors.stacks.profile import merge
from perftop.collectors.stacks.pyspy import (
    AttachPermit,
    PySpyOptions,
    PySpySampler,
    continue_if_stopped,
    process_state,
)
from perftop.collectors.stacks.pyspy_faults import find_pyspy
from perftop.collectors.stacks.pyspy_output import IdleStacks, parse_dump, parse_raw
from perftop.sessions.stacks import stacks_section
from perftop.store import Store

from .support import run, start_burner

FIXTURES = Path(__file__).parent / "fixtures" / "stacks"


def target(pid: int) -> ProcessTarget:
    return ProcessTarget(pid, read_start_time(pid), "python", "python burn.py", "me")


def gate(tmp: Path, answer: bool = True) -> Gate:
    async def ask(action: object) -> bool:
        return answer

    return Gate(AuditLog(tmp / "audit.jsonl"), read_only=False, ask=ask)


async def attached(tmp: Path, pid: int, **options: object) -> PySpySampler:
    action = AttachPySpy(target(pid), engine="py-spy", **options)  # type: ignore[arg-type]
    outcome = await gate(tmp).request(action)
    assert outcome.ok, outcome.error
    return action.sampler(window=0.5)


def pyspy_children() -> list[psutil.Process]:
    return [
        p for p in psutil.Process().children(recursive=True) if "py-spy" in " ".join(p.cmdline())
    ]


# Parsing the real formats -------------------------------------------------------------------


def test_parse_raw_with_threads_and_idle() -> None:
    window = parse_raw((FIXTURES / "raw_threads_idle.txt").read_text(), 10.0, 1.0, 100.0)
    threads = {s.thread for s, _ in window.stacks}
    assert threads == {"MainThread", "sleepy"}
    per_thread = {t: sum(c for s, c in window.stacks if s.thread == t) for t in threads}
    assert window.ticks == max(per_thread.values()) == 88
    stack = next(s for s, _ in window.stacks if s.thread == "MainThread")
    assert [f.name for f in stack.frames] == ["<module>", "main", "burn_cpu"]
    assert stack.frames[-1].file == "burn.py" and stack.frames[-1].line in (7, 8)
    assert stack.thread_id > 0 and not stack.frames[-1].native


def test_parse_raw_without_threads_and_with_subprocesses_and_native() -> None:
    plain = parse_raw((FIXTURES / "raw_plain.txt").read_text(), 0.0, 1.0, 100.0)
    assert {s.thread for s, _ in plain.stacks} == {""} and plain.samples == 155
    sub = parse_raw((FIXTURES / "raw_subprocesses_native.txt").read_text(), 0.0, 1.0, 100.0)
    processes = {s.process for s, _ in sub.stacks}
    assert len(processes) == 2  # the parent and its child, each line names the sampled one
    stack = next(s for s, _ in sub.stacks if any(f.name == "wait_child" for f in s.frames))
    assert stack.frames[-1].native and stack.frames[-1].file == "libc.so.6"
    assert [f.name for f in stack.frames if not f.native] == ["<module>", "wait_child"]


def test_parse_raw_thread_without_a_name() -> None:
    """py-spy writes `thread (TID);` when it knows no name (no `threading` imported): that is
    the thread, not a frame of a separate root."""
    line = "thread (4647);<module> (/tmp/sl.py:10);main (/tmp/sl.py:9) 119"
    window = parse_raw(line, 0.0, 1.0, 100.0)
    ((stack, count),) = window.stacks
    assert (stack.thread, stack.thread_id, count) == ("", 4647, 119)
    assert [f.name for f in stack.frames] == ["<module>", "main"]


def test_pyspy_always_samples_idle_threads() -> None:
    assert "--idle" in PySpyOptions().args() and "--idle" in PySpyOptions(idle=True).args()
    assert "idle" in PySpyOptions().names()


def test_idle_stacks_are_learned_from_dumps_and_mark_windows() -> None:
    """`record --idle` does not say which samples were idle; a dump does, per thread."""
    raw = (
        "thread (7): MainThread;<module> (/tmp/app.py:10);main (/tmp/app.py:8);"
        "work (/tmp/app.py:4) 20\n"
        "thread (7): MainThread;<module> (/tmp/app.py:10);main (/tmp/app.py:9) 80\n"
    )
    window = parse_raw(raw, 0.0, 1.0, 100.0)
    assert merge([window]).idle == 0  # nothing learned yet: running
    dump = (
        '[{"pid": 5, "thread_name": "MainThread", "os_thread_id": 7, "active": false,'
        ' "frames": [{"name": "main", "filename": "/tmp/app.py", "short_filename": "app.py",'
        ' "line": 9}, {"name": "<module>", "filename": "/tmp/app.py",'
        ' "short_filename": "app.py", "line": 10}]}]'
    )
    learned = IdleStacks()
    assert learned.learn(parse_dump(dump))
    assert not learned.learn(parse_dump(dump))  # the same verdict: nothing changed
    profile = merge([learned.mark(window)], include_idle=False)
    assert (profile.samples, profile.idle, profile.idle_share) == (20, 80, 0.8)
    assert profile.achieved_rate == 100.0  # the idle samples' ticks are still counted
    # Seen running more often than waiting: no longer idle.
    running = dump.replace('"active": false', '"active": true')
    learned.learn(parse_dump(running))
    assert learned.learn(parse_dump(running))
    assert merge([learned.mark(window)]).idle == 0


def test_parse_dump_marks_idle_threads() -> None:
    text = (
        '[{"pid": 5, "thread_name": "sleepy", "os_thread_id": 6, "active": false,'
        ' "owns_gil": false, "frames": [{"name": "sleeper", "short_filename": "b.py",'
        ' "line": 4}, {"name": "run", "short_filename": "t.py", "line": 9}]}]'
    )
    (stack,) = parse_dump(text)
    assert stack.idle and stack.thread == "sleepy" and stack.process == 5
    assert [f.name for f in stack.frames] == ["run", "sleeper"]  # root first


# The sampler on real children ---------------------------------------------------------------


@run
async def test_burn_cpu_is_the_hot_function_under_main(burner, tmp_path: Path) -> None:
    sampler = await attached(tmp_path, burner.pid)
    store = Store()
    try:
        for _ in range(4):
            assert await tick(sampler, store), store.status("stacks").message
    finally:
        await sampler.close()
    sample = store.latest("stacks", StackSample)
    assert sample is not None and len(sample.windows) == 4 and not sample.ended
    profile = merge(sample.windows)
    top = merge(sample.windows, include_idle=False).top_functions("own")[0]
    assert top.name == "burn_cpu" and top.own_percent > 60
    main = next(n for n in profile.call_tree().walk() if n.frame and n.frame.name == "main")
    assert any(c.frame and c.frame.name == "burn_cpu" for c in main.children)
    # Idle threads are always sampled: the sleeping thread is there, as many samples as the
    # busy one (both are read at every instant), and seen idle by the dumps.
    sleepy = sum(c for s, c in profile.stacks if s.thread == "sleepy")
    busy = sum(c for s, c in profile.stacks if s.thread == "MainThread")
    assert abs(sleepy - busy) < 0.1 * busy
    assert profile.idle >= 0.9 * sleepy
    assert 50 < profile.achieved_rate < 150 and profile.requested_rate == 100
    assert 0.5 < sample.coverage <= 1.0
    assert store.history("stacks.rate")
    assert pyspy_children() == []  # close() left nothing running


@run
async def test_idle_option_shows_the_sleeping_thread_and_now_marks_it(
    burner, tmp_path: Path
) -> None:
    sampler = await attached(tmp_path, burner.pid, idle=True)
    store = Store()
    try:
        assert await tick(sampler, store), store.status("stacks").message
        now = await sampler.now()
    finally:
        await sampler.close()
    sample = store.latest("stacks", StackSample)
    assert sample is not None and "sleepy" in sample.threads
    by_thread = {s.thread: s for s in now}
    assert by_thread["sleepy"].idle and not by_thread["MainThread"].idle
    assert by_thread["MainThread"].frames[-1].name in {"burn_cpu", "main"}


@run
async def test_a_target_that_exits_keeps_its_windows_and_is_ended(tmp_path: Path) -> None:
    child = start_burner(tmp_path, seconds=1.2)
    sampler = await attached(tmp_path, child.pid)
    store = Store()
    try:
        for _ in range(10):
            assert await tick(sampler, store), store.status("stacks").message
            if sampler.ended:
                break
    finally:
        await sampler.close()
        child.wait()
    sample = store.latest("stacks", StackSample)
    assert sample is not None and sample.ended and "exited" in sample.notice
    assert merge(sample.windows, include_idle=False).top_functions()[0].name == "burn_cpu"


@run
async def test_a_non_python_target_gets_its_message(not_python, tmp_path: Path) -> None:
    action = AttachPySpy(target(not_python.pid), engine="py-spy")
    outcome = await gate(tmp_path).request(action)
    assert outcome.error is not None and "is not a Python process" in outcome.error
    with pytest.raises(ActionRefused):
        action.sampler()


@run
async def test_pyspy_missing_says_how_to_install(burner, tmp_path: Path) -> None:
    outcome = await gate(tmp_path).request(
        AttachPySpy(target(burner.pid), pyspy="/nope/py-spy", engine="py-spy")
    )
    assert outcome.error is not None and "pip install py-spy" in outcome.error
    sampler = await attached(tmp_path, burner.pid)
    sampler.pyspy = str(tmp_path / "missing")
    store = Store()
    assert not await tick(sampler, store)
    assert "py-spy not found" in store.status("stacks").message
    await sampler.close()


def test_find_pyspy_without_it_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(Exception, match="not installed.*pip install py-spy"):
        find_pyspy()


def test_sigcont_only_for_a_target_perftop_found_running(burner) -> None:
    os.kill(burner.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while process_state(burner.pid) != "T" and time.monotonic() < deadline:
        time.sleep(0.01)
    start = read_start_time(burner.pid)
    found_stopped = SimpleNamespace(
        pid=burner.pid, start_ticks=start, was_stopped=True, handle=PidHandle(burner.pid, start)
    )
    assert not continue_if_stopped(found_stopped)
    assert process_state(burner.pid) == "T"
    found_running = SimpleNamespace(
        pid=burner.pid, start_ticks=start, was_stopped=False, handle=PidHandle(burner.pid, start)
    )
    assert continue_if_stopped(found_running)
    while process_state(burner.pid) == "T" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process_state(burner.pid) in {"R", "S"}


@run
async def test_the_sampler_resumes_a_target_left_stopped(burner, tmp_path: Path) -> None:
    sampler = await attached(tmp_path, burner.pid)
    store = Store()
    os.kill(burner.pid, signal.SIGSTOP)  # as a crashed blocking py-spy would leave it
    try:
        assert await tick(sampler, store)
    finally:
        await sampler.close()
    sample = store.latest("stacks", StackSample)
    assert sample is not None and sample.resumed >= 1 and "SIGCONT" in sample.notice
    assert process_state(burner.pid) != "T"


@run
async def test_denial_runs_nothing(burner, tmp_path: Path) -> None:
    action = AttachPySpy(target(burner.pid), engine="py-spy")
    outcome = await gate(tmp_path, answer=False).request(action)
    assert outcome.decision.value == "declined"
    assert pyspy_children() == []
    with pytest.raises(ActionRefused):
        action.sampler()
    (record,) = AuditLog(tmp_path / "audit.jsonl").read()
    assert record["action"] == "attach-py-spy" and record["decision"] == "declined"


def test_no_sampler_without_a_permit_from_the_gate(burner) -> None:
    with pytest.raises(ActionRefused):
        PySpySampler(None)  # type: ignore[arg-type]
    with pytest.raises(ActionRefused):
        AttachPermit(Approval(object()), burner.pid, 0, PySpyOptions())
    with pytest.raises(ActionRefused):
        AttachPermit(object(), burner.pid, 0, PySpyOptions())  # type: ignore[arg-type]


@run
async def test_a_permit_makes_one_sampler_and_detach_is_audited(burner, tmp_path: Path) -> None:
    action = AttachPySpy(target(burner.pid), engine="py-spy")
    g = gate(tmp_path)
    assert (await g.request(action)).ok
    sampler = action.sampler()
    with pytest.raises(ActionRefused):
        action.sampler()
    outcome = await g.request(DetachPySpy(sampler))
    await sampler.close()
    assert outcome.ok and sampler.detached
    kinds = [r["action"] for r in AuditLog(tmp_path / "audit.jsonl").read()]
    assert kinds == ["attach-py-spy", "detach-py-spy"]


SLEEPER = """
import sys, time
def work(until):
    while time.monotonic() < until:
        pass
def idle_wait():
    time.sleep(0.09)
def main():
    print("ready", flush=True)
    while True:
        work(time.monotonic() + 0.01)
        idle_wait()
main()
"""


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A real Python child that runs 10 ms, then sleeps 90 ms, in a loop."""
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        yield child
    finally:
        child.kill()
        child.wait()


@run
async def test_a_program_that_sleeps_most_of_the_time_is_reported_idle(
    sleeper: subprocess.Popen[str], tmp_path: Path
) -> None:
    """Item 8, on real py-spy: a child asleep ~90% of the time. Before, its idle samples were
    dropped and the rate looked like sampling failing (15 Hz of 100 Hz)."""
    doc = await stacks_section(sleeper.pid, 3.0, gate=gate(tmp_path), window=0.5)
    assert doc["error"] is None, doc
    assert doc["idle"] > 0.5, doc  # type: ignore[operator]
    assert doc["achieved_rate"] > 70, doc  # type: ignore[operator]
    # The top lists leave the sleep out: idle_wait's own samples are the instants it ran.
    own = {f["name"]: f["own"] for f in doc["top_own"]}  # type: ignore[union-attr]
    assert own["work"] > own.get("idle_wait", 0), doc
    await asyncio.sleep(0)
    assert pyspy_children() == []


def test_native_needs_blocking() -> None:
    with pytest.raises(ValueError, match="blocking"):
        PySpyOptions(native=True)
    assert "--nonblocking" not in PySpyOptions(blocking=True, native=True).args()


@run
async def test_headless_section(burner, tmp_path: Path) -> None:
    doc = await stacks_section(burner.pid, 1.0, gate=gate(tmp_path), window=0.5)
    assert doc["error"] is None, doc
    assert doc["top_own"][0]["name"] == "burn_cpu"  # type: ignore[index]
    # Named as the screen names it (py-spy gives full paths now), with its line.
    assert doc["top_own"][0]["file"] == "burn.py"  # type: ignore[index]
    assert doc["top_own"][0]["line"] in (10, 11)  # type: ignore[index] # the loop in burn_cpu
    assert doc["samples"] > 0 and doc["achieved_rate"] > 0  # type: ignore[operator]
    refused = await stacks_section(burner.pid, 1.0, gate=gate(tmp_path, answer=False))
    assert refused["error"] and "top_own" not in refused
    await asyncio.sleep(0)
    assert pyspy_children() == []
