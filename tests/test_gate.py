"""The approval gate, the audit file and the process actions, on real child processes."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from perftop.actions import gate as gate_module
from perftop.actions.audit import AuditLog, default_audit_path
from perftop.actions.gate import (
    Action,
    ActionRefused,
    Approval,
    Decision,
    Gate,
    Outcome,
    lockdown,
)
from perftop.actions.process import ProcessTarget, Renice, SendSignal, read_start_time


@pytest.fixture
def state_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


@pytest.fixture
def audit(state_home: Path) -> AuditLog:
    return AuditLog()


class Asker:
    """Answers every question the same way and remembers what it was asked."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[Action] = []

    async def __call__(self, action: Action) -> bool:
        self.asked.append(action)
        return self.answer


@dataclass
class Recorded:
    """An action that records each time it really ran, and keeps its approvals."""

    fail_with: Exception | None = None
    target: str = "pid 42 (worker)"
    performed: int = 0
    approvals: list[Approval] = field(default_factory=list)

    kind = "test"
    title = "Do the thing"

    def describe(self) -> str:
        return "Does the thing to pid 42."

    def details(self) -> Mapping[str, object]:
        return {"pid": 42}

    def perform(self, approval: Approval) -> str:
        self.approvals.append(approval)
        approval.check()
        if self.fail_with is not None:
            raise self.fail_with
        self.performed += 1
        return "did the thing"


def request(gate: Gate, action: Action) -> Outcome:
    return asyncio.run(gate.request(action))


# The gate ---------------------------------------------------------------------------


def test_declined_never_performs(audit: AuditLog) -> None:
    asker, action = Asker(False), Recorded()
    outcome = request(Gate(audit, read_only=False, ask=asker), action)
    assert asker.asked == [action]
    assert action.performed == 0 and action.approvals == []
    assert outcome == Outcome(Decision.DECLINED)
    (record,) = audit.read()
    assert record["decision"] == "declined"
    assert record["outcome"] is None and record["error"] is None


def test_the_default_answer_is_no(audit: AuditLog) -> None:
    action = Recorded()
    assert request(Gate(audit, read_only=False), action).decision is Decision.DECLINED
    assert action.performed == 0


def test_approved_performs_exactly_once(audit: AuditLog) -> None:
    asker, action = Asker(True), Recorded()
    outcome = request(Gate(audit, read_only=False, ask=asker), action)
    assert action.performed == 1
    assert outcome.ok and outcome.result == "did the thing"
    (record,) = audit.read()
    assert record["decision"] == "approved"
    assert record["outcome"] == "did the thing"
    assert record["error"] is None
    assert record["action"] == "test" and record["target"] == "pid 42 (worker)"
    assert record["details"] == {"pid": 42}


def test_read_only_refuses_without_asking(audit: AuditLog) -> None:
    asker, action = Asker(True), Recorded()
    outcome = request(Gate(audit, read_only=True, ask=asker), action)
    assert asker.asked == []
    assert action.performed == 0 and action.approvals == []
    assert outcome.decision is Decision.REFUSED and not outcome.ok
    (record,) = audit.read()
    assert record["decision"] == "refused-read-only"


def test_an_action_that_fails_is_audited_and_nothing_escapes(audit: AuditLog) -> None:
    action = Recorded(fail_with=PermissionError(1, "Operation not permitted"))
    outcome = request(Gate(audit, read_only=False, ask=Asker(True)), action)
    assert outcome.decision is Decision.APPROVED and not outcome.ok
    assert outcome.error == "permission denied (needs root or the owner's user)"
    (record,) = audit.read()
    assert record["decision"] == "approved"
    assert record["error"] == outcome.error and record["outcome"] is None


def test_an_asker_that_is_cancelled_counts_as_no(audit: AuditLog) -> None:
    async def cancelled(action: Action) -> bool:
        raise asyncio.CancelledError

    action = Recorded()
    assert request(Gate(audit, read_only=False, ask=cancelled), action).decision is (
        Decision.DECLINED
    )
    assert action.performed == 0


def test_an_approval_cannot_be_made_outside_the_gate() -> None:
    with pytest.raises(ActionRefused):
        Approval(object())
    with pytest.raises(ActionRefused):
        Approval(None)


def test_an_approval_is_good_once(audit: AuditLog) -> None:
    action = Recorded()
    request(Gate(audit, read_only=False, ask=Asker(True)), action)
    (approval,) = action.approvals
    with pytest.raises(ActionRefused, match="already used"):
        action.perform(approval)
    assert action.performed == 1


def test_lockdown_refuses_inside_the_action_even_with_an_approval(audit: AuditLog) -> None:
    lockdown()
    assert gate_module.locked_down()
    # A gate wrongly built without read_only still cannot get the action to run.
    action = Recorded()
    outcome = request(Gate(audit, read_only=False, ask=Asker(True)), action)
    assert action.performed == 0
    assert outcome.error == "perftop is read-only: no action runs"


# Real actions on real processes -----------------------------------------------------


def child(*argv: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    yield from child("sleep", "60")


@pytest.fixture
def threaded() -> Iterator[subprocess.Popen[bytes]]:
    code = (
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    for proc in child(sys.executable, "-c", code):
        assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
        yield proc


def target(pid: int, start_ticks: int | None = None) -> ProcessTarget:
    ticks = read_start_time(pid) if start_ticks is None else start_ticks
    return ProcessTarget(pid, ticks, name="sleep", cmdline="sleep 60", user="me")


def test_sigterm_after_approval_kills_the_child(
    audit: AuditLog, sleeper: subprocess.Popen[bytes]
) -> None:
    outcome = request(
        Gate(audit, read_only=False, ask=Asker(True)), SendSignal(target(sleeper.pid), "TERM")
    )
    assert outcome.ok, outcome
    assert sleeper.wait(timeout=5) == -15
    (record,) = audit.read()
    assert record["details"] == {"pid": sleeper.pid, "signal": "SIGTERM", "process_user": "me"}


def test_declined_sigterm_leaves_the_child_alive(
    audit: AuditLog, sleeper: subprocess.Popen[bytes]
) -> None:
    request(Gate(audit, read_only=False, ask=Asker(False)), SendSignal(target(sleeper.pid), "TERM"))
    time.sleep(0.2)
    assert sleeper.poll() is None


def test_read_only_sigterm_leaves_the_child_alive(
    audit: AuditLog, sleeper: subprocess.Popen[bytes]
) -> None:
    asker = Asker(True)
    request(Gate(audit, read_only=True, ask=asker), SendSignal(target(sleeper.pid), "KILL"))
    time.sleep(0.2)
    assert sleeper.poll() is None and asker.asked == []


def test_a_reused_pid_is_never_signalled(audit: AuditLog, sleeper: subprocess.Popen[bytes]) -> None:
    stale = target(sleeper.pid, start_ticks=read_start_time(sleeper.pid) - 1)
    action = SendSignal(stale, "KILL")
    outcome = request(Gate(audit, read_only=False, ask=Asker(True)), action)
    assert outcome.error == f"pid {sleeper.pid} now belongs to another process: nothing was done"
    time.sleep(0.2)
    assert sleeper.poll() is None
    assert audit.read()[0]["error"] == outcome.error


def test_an_exited_process_is_not_signalled(
    audit: AuditLog, sleeper: subprocess.Popen[bytes]
) -> None:
    gone = target(sleeper.pid)
    sleeper.kill()
    sleeper.wait()
    outcome = request(Gate(audit, read_only=False, ask=Asker(True)), SendSignal(gone, "TERM"))
    assert outcome.error == f"process {sleeper.pid} has exited: nothing was done"


def test_renice_changes_the_process_and_every_thread(
    audit: AuditLog, threaded: subprocess.Popen[bytes]
) -> None:
    pid = threaded.pid
    tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    assert len(tids) == 2
    if os.getpriority(os.PRIO_PROCESS, pid) != 0:
        pytest.skip("the test runner itself is niced")
    action = Renice(target(pid), old=0, new=5)
    outcome = request(Gate(audit, read_only=False, ask=Asker(True)), action)
    assert outcome.ok, outcome
    assert [os.getpriority(os.PRIO_PROCESS, tid) for tid in tids] == [5, 5]
    (record,) = audit.read()
    assert record["details"] == {"pid": pid, "old_nice": 0, "new_nice": 5}


def test_declined_renice_changes_nothing(
    audit: AuditLog, threaded: subprocess.Popen[bytes]
) -> None:
    before = os.getpriority(os.PRIO_PROCESS, threaded.pid)
    request(Gate(audit, read_only=False, ask=Asker(False)), Renice(target(threaded.pid), 0, 5))
    assert os.getpriority(os.PRIO_PROCESS, threaded.pid) == before


# The audit file ---------------------------------------------------------------------


def test_the_audit_file_is_private_and_one_line_per_request(
    state_home: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    path = default_audit_path()
    assert path == state_home / "perftop" / "audit.jsonl"
    gate = Gate(AuditLog(), read_only=False, ask=Asker(False))
    request(gate, SendSignal(target(sleeper.pid), "TERM"))
    request(gate, Renice(target(sleeper.pid), 0, 5))
    request(Gate(AuditLog(), read_only=True), Recorded())

    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    for record in records:
        assert {"time", "user", "action", "target", "decision", "duration_s"} <= set(record)
        assert record["duration_s"] >= 0
        assert record["user"]
        assert record["time"].endswith("+00:00")
    assert [r["action"] for r in records] == ["signal", "renice", "test"]
    assert [r["decision"] for r in records] == ["declined", "declined", "refused-read-only"]
    assert records[0]["target"] == f"pid {sleeper.pid} (sleep)"


def test_a_wider_audit_file_is_narrowed(audit: AuditLog) -> None:
    audit.path.parent.mkdir(parents=True)
    audit.path.write_text("")
    audit.path.chmod(0o644)
    request(Gate(audit, read_only=True), Recorded())
    assert stat.S_IMODE(audit.path.stat().st_mode) == 0o600


def test_no_password_reaches_the_audit_file(audit: AuditLog) -> None:
    secret = "hunter2"
    gate = Gate(audit, read_only=False, ask=Asker(True))
    request(gate, Recorded(target="psql --password hunter2 -h db"))
    request(
        gate,
        Recorded(
            target="postgresql://app:hunter2@db/prod",
            fail_with=RuntimeError("cannot connect with password=hunter2"),
        ),
    )
    named = ProcessTarget(1, 0, name="x --password hunter2", cmdline="", user="me")
    request(Gate(audit, read_only=False, ask=Asker(False)), SendSignal(named, "TERM"))
    text = audit.path.read_text()
    # Each approved request is an intent and an outcome; the declined one is one record.
    assert [r["stage"] for r in audit.records()] == [
        "intent",
        "outcome",
        "intent",
        "outcome",
        "decision",
    ]
    assert secret not in text
    assert "****" in text


def test_an_action_that_needs_no_prompt_is_not_asked_but_audited_and_refused_read_only(
    audit: AuditLog,
) -> None:
    @dataclass
    class Undo(Recorded):
        needs_prompt = False

    asker = Asker(False)
    action = Undo()
    outcome = request(Gate(audit, read_only=False, ask=asker), action)
    assert outcome.ok and asker.asked == [] and action.performed == 1
    refused = request(Gate(audit, read_only=True, ask=asker), Undo())
    assert refused.decision is Decision.REFUSED
    assert [r["decision"] for r in audit.read()] == ["approved", "refused-read-only"]
