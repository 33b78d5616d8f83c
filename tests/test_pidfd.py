"""Signals reach the process that was approved, and only it: a pidfd, not a bare pid.

The real case is a pid reused between the check and the signal. The kernel hands out the
pid after `/proc/sys/kernel/ns_last_pid`, so (as root, which these tests need for that
file) a test can have a new process take exactly the pid of one that just exited. The
reuse is made to happen at the worst moment: after the action checked the start time and
right before it signals. A bare `os.kill(pid)` would hit the new process there; the pidfd
opened when the prompt was shown still refers to the old, exited one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from perftop.actions.audit import AuditLog
from perftop.actions.gate import Gate, Outcome
from perftop.actions.process import (
    PidHandle,
    ProcessChanged,
    ProcessTarget,
    Renice,
    SendSignal,
    read_start_time,
)
from perftop.collectors.stacks.pyspy import continue_if_stopped, process_state

NS_LAST_PID = Path("/proc/sys/kernel/ns_last_pid")
CLK_TCK = os.sysconf("SC_CLK_TCK")
REAL_KILL = os.kill  # for clean-up, whatever a test patched

needs_pid_control = pytest.mark.skipif(
    not os.access(NS_LAST_PID, os.W_OK),
    reason="choosing the next pid (ns_last_pid) needs root",
)


def forbid_kill(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """From now on, fail on any os.kill (the code under test must signal through a pidfd;
    the test's own set-up, and Popen.kill, use it before this is called)."""
    calls: list[tuple[int, int]] = []

    def refuse(pid: int, signum: int) -> None:
        calls.append((pid, signum))
        raise AssertionError(f"os.kill({pid}, {signum}) used instead of a pidfd")

    monkeypatch.setattr(os, "kill", refuse)
    return calls


class Yes:
    async def __call__(self, action: object) -> bool:
        return True


def request(tmp_path: Path, action: Any) -> Outcome:
    gate = Gate(AuditLog(tmp_path / "audit.jsonl"), read_only=False, ask=Yes())
    return asyncio.run(gate.request(action))


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL)


def spawn_at(pid: int, attempts: int = 200) -> subprocess.Popen[bytes]:
    """A new `sleep 60` whose pid is exactly `pid` (free now), or the test is skipped."""
    for _ in range(attempts):
        NS_LAST_PID.write_text(str(pid - 1))
        proc = sleeper()
        if proc.pid == pid:
            return proc
        proc.kill()  # something else on the machine forked first: try again
        proc.wait()
    pytest.skip(f"could not get pid {pid} back in {attempts} tries")


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    made: list[subprocess.Popen[bytes]] = []
    yield made
    for proc in made:
        if proc.poll() is None:
            REAL_KILL(proc.pid, signal.SIGKILL)
        proc.wait()


def after_its_start_tick(proc: subprocess.Popen[bytes]) -> None:
    """Wait until the clock has passed the tick `proc` started in. A process started in the
    same tick with the same pid has the same identity (pid, start time): no check based on
    the start time can tell them apart, so the tests of that check leave a tick between."""
    start = read_start_time(proc.pid)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        if uptime * CLK_TCK > start + 2:
            return
        time.sleep(0.005)
    raise AssertionError("the clock did not move")


def target_of(proc: subprocess.Popen[bytes]) -> ProcessTarget:
    return ProcessTarget(proc.pid, read_start_time(proc.pid), "sleep", "sleep 60", "me")


def still_running(proc: subprocess.Popen[bytes], seconds: float = 1.0) -> bool:
    """True when `proc` lives on for `seconds` (a SIGKILL ends it within milliseconds)."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return True
    return False


# The race: the pid is reused after the check, before the signal ----------------------------


@needs_pid_control
def test_a_pid_reused_after_the_check_never_gets_the_signal(
    tmp_path: Path, children: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = sleeper()
    children.append(seen)
    target = target_of(seen)  # as the prompt is shown
    checked = ProcessTarget.check_same

    def check_then_reuse(self: ProcessTarget) -> None:
        checked(self)  # the process the person saw passes the check...
        seen.kill()  # ...then exits, and a new process takes its pid
        seen.wait()
        children.append(spawn_at(self.pid))

    monkeypatch.setattr(ProcessTarget, "check_same", check_then_reuse)
    outcome = request(tmp_path, SendSignal(target, "KILL"))
    newcomer = children[-1]
    assert newcomer.pid == target.pid
    assert outcome.error == f"process {target.pid} has exited: nothing was done"
    assert still_running(newcomer)


@needs_pid_control
def test_a_pid_reused_before_the_prompt_is_refused_when_the_target_is_made(
    children: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = sleeper()
    start = read_start_time(seen.pid)
    after_its_start_tick(seen)
    seen.kill()
    seen.wait()
    newcomer = spawn_at(seen.pid)
    children.append(newcomer)
    # The table still shows the old process: its pid, its start time.
    no_bare_kill = forbid_kill(monkeypatch)
    stale = ProcessTarget(seen.pid, start, "sleep", "sleep 60", "me")
    assert not stale.handle.held
    with pytest.raises(ProcessChanged, match="now belongs to another process"):
        stale.handle.send(signal.SIGKILL)
    monkeypatch.undo()
    assert still_running(newcomer) and no_bare_kill == []


def test_an_exited_target_says_so_and_nothing_else_is_signalled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = sleeper()
    target = target_of(seen)
    assert target.handle.held
    seen.terminate()
    seen.wait()
    no_bare_kill = forbid_kill(monkeypatch)
    outcome = request(tmp_path, SendSignal(target, "TERM"))
    assert outcome.error == f"process {seen.pid} has exited: nothing was done"
    assert no_bare_kill == []


def test_an_approved_signal_goes_through_the_pidfd(
    tmp_path: Path, children: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = sleeper()
    children.append(proc)
    no_bare_kill = forbid_kill(monkeypatch)
    outcome = request(tmp_path, SendSignal(target_of(proc), "TERM"))
    monkeypatch.undo()
    assert outcome.ok, outcome
    assert proc.wait(timeout=5) == -signal.SIGTERM
    assert no_bare_kill == []


def fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_the_pidfd_is_closed_when_the_request_is_over(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    proc = sleeper()
    children.append(proc)
    before = fds()
    declined = SendSignal(target_of(proc), "TERM")
    assert len(fds() - before) == 1  # the pidfd, held while the prompt is up
    gate = Gate(AuditLog(tmp_path / "audit.jsonl"), read_only=False)  # answers no
    asyncio.run(gate.request(declined))
    renice = Renice(target_of(proc), 0, 1)
    request(tmp_path, renice)
    assert fds() - before == set()
    assert not declined.process.handle.held and not renice.process.handle.held


def test_renice_checks_the_start_time_again(
    tmp_path: Path, children: list[subprocess.Popen[bytes]]
) -> None:
    proc = sleeper()
    children.append(proc)
    stale = ProcessTarget(proc.pid, read_start_time(proc.pid) - 1, "sleep", "sleep 60", "me")
    outcome = request(tmp_path, Renice(stale, 0, 5))
    assert outcome.error == f"pid {proc.pid} now belongs to another process: nothing was done"
    assert os.getpriority(os.PRIO_PROCESS, proc.pid) == 0


# The py-spy sampler's SIGCONT safety net ----------------------------------------------------


@dataclass
class Attached:
    """What continue_if_stopped needs: the permit's pid, start time, state and pidfd."""

    pid: int
    start_ticks: int
    was_stopped: bool
    handle: PidHandle


def attached(proc: subprocess.Popen[bytes], was_stopped: bool = False) -> Attached:
    start = read_start_time(proc.pid)
    return Attached(proc.pid, start, was_stopped, PidHandle(proc.pid, start))


def wait_state(pid: int, wanted: set[str]) -> str | None:
    deadline = time.monotonic() + 5
    state = process_state(pid)
    while state not in wanted and time.monotonic() < deadline:
        time.sleep(0.01)
        state = process_state(pid)
    return state


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGSTOP)
    assert wait_state(proc.pid, {"T"}) == "T"


def test_sigcont_goes_through_the_pidfd(
    children: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = sleeper()
    children.append(proc)
    holder = attached(proc)
    stop(proc)
    calls: list[int] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: calls.append(pid))
    assert continue_if_stopped(holder)
    monkeypatch.undo()
    assert wait_state(proc.pid, {"S", "R"}) in {"S", "R"}
    assert calls == []


def test_sigcont_leaves_a_process_someone_else_stopped(
    children: list[subprocess.Popen[bytes]],
) -> None:
    proc = sleeper()
    children.append(proc)
    stop(proc)
    assert not continue_if_stopped(attached(proc, was_stopped=True))
    assert process_state(proc.pid) == "T"


@needs_pid_control
def test_sigcont_never_reaches_a_process_that_took_the_pid(
    children: list[subprocess.Popen[bytes]],
) -> None:
    seen = sleeper()
    holder = attached(seen)  # the attach was approved for this process
    seen.kill()
    seen.wait()
    newcomer = spawn_at(seen.pid)
    children.append(newcomer)
    stop(newcomer)  # stopped by someone else: perftop must not resume it
    assert not continue_if_stopped(holder)
    assert process_state(newcomer.pid) == "T"
    # Even with its start time forged to match, the pidfd still refers to the old process.
    holder.start_ticks = read_start_time(newcomer.pid)
    assert not continue_if_stopped(holder)
    assert process_state(newcomer.pid) == "T"


def test_the_process_module_never_calls_os_kill() -> None:
    """A guard for later edits: signals in actions/process.py go through a pidfd."""
    import perftop.actions.process as process

    assert "os.kill(" not in Path(process.__file__).read_text()
