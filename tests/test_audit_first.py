"""Audit first, then act: the intent is on disk before an action runs, its outcome after.

The failing file is real: `/dev/full` fails every write with ENOSPC (even for root), reached
through a symlink at the audit path, as a disk that filled up would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from perftop.actions.audit import AuditError, AuditLog, PrivateError
from perftop.actions.gate import Approval, Decision, Gate, Outcome
from perftop.actions.process import SendSignal, read_start_time
from perftop.config import Settings
from perftop.themes import load
from perftop.tui.app import PerftopApp, _target
from perftop.tui.approve import ApprovalScreen

from .support import filled_store, process_sample, row, run, settled_count

FULL = "not done: the audit file cannot be written (No space left on device)"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def fill_up(path: Path) -> None:
    """From now on every write to `path` fails with ENOSPC."""
    if path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to("/dev/full")


class Asker:
    def __init__(self, answer: bool) -> None:
        self.answer = answer

    async def __call__(self, action: object) -> bool:
        return self.answer


@dataclasses.dataclass
class Probe:
    """An action that, when it runs, looks at what the audit file holds at that moment."""

    audit: AuditLog
    seen: list[dict[str, object]] | None = None
    fill_during_act: bool = False
    performed: int = 0

    kind = "probe"
    title = "Probe"
    target = "pid 42 (probe)"

    def describe(self) -> str:
        return "Looks at the audit file."

    def details(self) -> Mapping[str, object]:
        return {"pid": 42}

    def perform(self, approval: Approval) -> str:
        approval.check()
        self.performed += 1
        self.seen = self.audit.records()
        if self.fill_during_act:
            fill_up(self.audit.path)
        return "looked"


def request(gate: Gate, action: Any) -> Outcome:
    return asyncio.run(gate.request(action))


def warnings_of(gate: Gate) -> list[str]:
    said: list[str] = []
    gate.warn = said.append
    return said


# The records ----------------------------------------------------------------------------


def test_the_intent_is_on_disk_before_the_act_and_the_outcome_after(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    probe = Probe(audit)
    outcome = request(Gate(audit, read_only=False, ask=Asker(True)), probe)
    assert outcome.ok and outcome.unrecorded is None
    assert probe.seen is not None
    (intent,) = probe.seen
    assert intent["stage"] == "intent" and intent["decision"] == "approved"
    assert intent["intent"] == "Looks at the audit file."
    first, second = audit.records()
    assert first == intent
    assert second["stage"] == "outcome" and second["id"] == intent["id"]
    assert second["outcome"] == "looked" and second["error"] is None
    assert isinstance(second["duration_s"], float)
    # read() joins the two into one entry per request.
    (joined,) = audit.read()
    assert joined["decision"] == "approved" and joined["outcome"] == "looked"


def test_a_declined_request_is_one_record(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    probe = Probe(audit)
    request(Gate(audit, read_only=False, ask=Asker(False)), probe)
    (record,) = audit.records()
    assert record["stage"] == "decision" and record["decision"] == "declined"
    assert probe.performed == 0


def test_every_request_has_its_own_id(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    gate = Gate(audit, read_only=False, ask=Asker(True))
    request(gate, Probe(audit))
    request(gate, Probe(audit))
    ids = [r["id"] for r in audit.records()]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]


# An intent that cannot be written -------------------------------------------------------


def test_an_unwritable_intent_stops_a_real_signal(tmp_path: Path, counter: Any) -> None:
    proc, path = counter
    audit = AuditLog(tmp_path / "audit.jsonl")
    fill_up(audit.path)
    gate = Gate(audit, read_only=False, ask=Asker(True))
    said = warnings_of(gate)
    target = _target(
        dataclasses.replace(
            row(proc.pid, os.getpid(), "tester", "python -c counter"),
            start_time=read_start_time(proc.pid) / CLK_TCK,
        )
    )
    outcome = request(gate, SendSignal(target, "USR1"))
    assert outcome.decision is Decision.APPROVED
    assert outcome.error == FULL
    assert not outcome.ok
    assert settled_count(path) == 0
    assert proc.poll() is None
    assert said == []  # the outcome itself says why: nothing else to warn about


def test_an_unwritable_intent_never_runs_the_action(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    fill_up(audit.path)
    probe = Probe(audit)
    outcome = request(Gate(audit, read_only=False, ask=Asker(True)), probe)
    assert probe.performed == 0
    assert outcome.error == FULL


def test_dev_full_is_never_chmodded(tmp_path: Path) -> None:
    before = os.stat("/dev/full")
    audit = AuditLog(tmp_path / "audit.jsonl")
    fill_up(audit.path)
    with pytest.raises(AuditError):
        audit.check()
    request(Gate(audit, read_only=False, ask=Asker(True)), Probe(audit))
    after = os.stat("/dev/full")
    assert (after.st_mode, after.st_uid) == (before.st_mode, before.st_uid)


# An outcome that cannot be written ------------------------------------------------------


def test_an_unwritable_outcome_does_not_raise_and_is_kept_for_later(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    gate = Gate(audit, read_only=False, ask=Asker(True))
    said = warnings_of(gate)
    probe = Probe(audit, fill_during_act=True)
    outcome = request(gate, probe)
    assert outcome.ok and outcome.result == "looked"
    assert outcome.unrecorded == "No space left on device"
    (warning,) = said
    assert "looked" in warning and "could not be recorded" in warning
    assert "No space left on device" in warning
    (kept,) = gate.unwritten()
    assert json.loads(kept)["stage"] == "outcome"

    # While the kept record cannot be written, nothing more runs.
    blocked = Probe(audit)
    assert request(gate, blocked).error == FULL
    assert blocked.performed == 0

    # Once the file can be written again, the kept outcome goes first.
    audit.path.unlink()
    later = Probe(audit)
    assert request(gate, later).ok
    stages = [(r["stage"], r["id"]) for r in audit.records()]
    assert [s for s, _ in stages] == ["outcome", "intent", "outcome"]
    assert stages[0][1] != stages[1][1]
    assert gate.unwritten() == []


def test_an_unwritable_decline_is_kept_and_nothing_raises(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    fill_up(audit.path)
    gate = Gate(audit, read_only=False, ask=Asker(False))
    said = warnings_of(gate)
    outcome = request(gate, Probe(audit))
    assert outcome.decision is Decision.DECLINED
    assert outcome.unrecorded == "No space left on device"
    assert len(said) == 1 and len(gate.unwritten()) == 1


# The check at start ---------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_check_creates_a_private_directory_and_file(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "a" / "b" / "audit.jsonl")
    audit.check()
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700
    assert mode(audit.path) == 0o600


def test_check_narrows_a_wider_file_and_perftops_own_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    own = tmp_path / "state" / "perftop"
    own.mkdir(parents=True)
    own.chmod(0o755)
    (own / "audit.jsonl").write_text("")
    (own / "audit.jsonl").chmod(0o644)
    AuditLog().check()
    assert mode(own) == 0o700 and mode(own / "audit.jsonl") == 0o600


def test_check_leaves_a_folder_the_person_chose_alone(tmp_path: Path) -> None:
    chosen = tmp_path / "mine"
    chosen.mkdir()
    chosen.chmod(0o755)
    audit = AuditLog(chosen / "audit.jsonl")
    audit.check()
    assert mode(chosen) == 0o755 and mode(audit.path) == 0o600


def test_check_refuses_a_folder_others_can_write_into(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(AuditError, match="others can write"):
        AuditLog(shared / "audit.jsonl").check()


def test_check_refuses_a_wide_file_it_does_not_own(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text("")
    path.chmod(0o644)
    os.chown(path, 65534, 65534)  # nobody: the tests run as root here
    with pytest.raises(AuditError, match="owned by another user"):
        AuditLog(path).check()
    assert mode(path) == 0o644


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: fill_up(p), "No space left on device"),
        (lambda p: p.mkdir(), "Is a directory"),
        (lambda p: None, "Not a directory"),  # the parent below is a file
    ],
)
def test_check_says_why_a_file_cannot_be_written(tmp_path: Path, make: Any, words: str) -> None:
    path = tmp_path / "audit.jsonl"
    if words == "Not a directory":
        (tmp_path / "file").write_text("")
        path = tmp_path / "file" / "audit.jsonl"
    make(path)
    with pytest.raises(AuditError, match=words) as caught:
        AuditLog(path).check()
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


# The command line -----------------------------------------------------------------------


def perftop(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    return subprocess.run(
        [sys.executable, "-m", "perftop", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def assert_audit_refused(result: subprocess.CompletedProcess[str], path: Path) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line == (
        f"perftop: error: the audit file {path} cannot be written (No space left on device)"
    )


def test_the_tui_does_not_start_when_the_audit_file_cannot_be_written(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    fill_up(path)
    assert_audit_refused(perftop("--audit-file", str(path), tmp_path=tmp_path), path)


def test_run_starts_no_program_when_the_audit_file_cannot_be_written(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    fill_up(path)
    marker = tmp_path / "started"
    code = f"open({str(marker)!r}, 'w')"
    result = perftop("--audit-file", str(path), "run", "--", sys.executable, "-c", code,
                     tmp_path=tmp_path)  # fmt: skip
    assert_audit_refused(result, path)
    assert not marker.exists()


def test_an_approved_snapshot_attach_needs_a_writable_audit_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    fill_up(path)
    result = perftop(
        "--audit-file", str(path), "snapshot", "--json", "--pid", str(os.getpid()),
        "--approve", "attach", tmp_path=tmp_path,
    )  # fmt: skip
    assert_audit_refused(result, path)
    assert result.stdout == ""


def test_the_exit_codes_are_documented(tmp_path: Path) -> None:
    text = perftop("--help", tmp_path=tmp_path).stdout
    assert "the audit file cannot be written" in text


# The run log ----------------------------------------------------------------------------


def test_the_run_log_and_its_folder_are_narrowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perftop.cli import private_log

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    own = tmp_path / "state" / "perftop"
    own.mkdir(parents=True)
    own.chmod(0o755)
    log = own / "run-1.log"
    log.write_text("old output")
    log.chmod(0o644)
    private_log(log)
    assert mode(own) == 0o700 and mode(log) == 0o600


def test_a_run_log_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    from perftop.cli import private_log

    log = tmp_path / "run.log"
    log.write_text("")
    log.chmod(0o644)
    os.chown(log, 65534, 65534)
    with pytest.raises(PrivateError, match="owned by another user"):
        private_log(log)
    assert mode(log) == 0o644


# The TUI ----------------------------------------------------------------------------------


@run
async def test_the_tui_stays_up_and_says_why_nothing_was_done(tmp_path: Path, counter: Any) -> None:
    proc, path = counter
    audit = AuditLog(tmp_path / "audit.jsonl")
    config = Settings(audit_file=audit.path)
    base = row(proc.pid, os.getpid(), "tester", "python -c counter", cpu=99.0)
    counted = dataclasses.replace(base, start_time=read_start_time(proc.pid) / CLK_TCK)
    store = filled_store()
    store.put("processes", process_sample((counted,)))
    app = PerftopApp(config, store, Gate(audit, read_only=False))
    app.register_theme(load("perftop-dark"))
    app.theme = "perftop-dark"
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        fill_up(audit.path)  # the disk fills up after perftop started
        await pilot.press("k", "1", "0")
        deadline = time.monotonic() + 5
        while not isinstance(app.screen, ApprovalScreen) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert isinstance(app.screen, ApprovalScreen)
        await pilot.press("y")
        expected = f"Send SIGUSR1: {FULL}"
        deadline = time.monotonic() + 5
        notices: list[str] = []
        while expected not in notices and time.monotonic() < deadline:
            await pilot.pause(0.05)
            notices = [str(n.message) for n in app._notifications]  # noqa: SLF001
        assert expected in notices
        assert app.is_running and not isinstance(app.screen, ApprovalScreen)
    assert settled_count(path) == 0
    assert proc.poll() is None


@run
async def test_the_tui_says_an_act_happened_but_could_not_be_recorded(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    config = Settings(audit_file=audit.path)
    gate = Gate(audit, read_only=False)
    app = PerftopApp(config, filled_store(), gate)
    app.register_theme(load("perftop-dark"))
    app.theme = "perftop-dark"
    probe = Probe(audit, fill_during_act=True)  # the disk fills up during the act
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app._request(probe)
        deadline = time.monotonic() + 5
        while not isinstance(app.screen, ApprovalScreen) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.press("y")
        notices: list[str] = []
        deadline = time.monotonic() + 5
        while not any(n.startswith("Audit:") for n in notices) and time.monotonic() < deadline:
            await pilot.pause(0.05)
            notices = [str(n.message) for n in app._notifications]  # noqa: SLF001
        assert app.is_running
    assert probe.performed == 1
    assert "looked" in notices  # the result itself
    (warning,) = [n for n in notices if n.startswith("Audit:")]
    assert "done: looked" in warning and "could not be recorded" in warning
    assert "No space left on device" in warning
    assert len(gate.unwritten()) == 1


def test_an_automatic_record_never_raises_and_is_kept(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    fill_up(audit.path)
    gate = Gate(audit, read_only=False)
    said = warnings_of(gate)
    gate.note(action="resume-after-py-spy", outcome="sent SIGCONT to 42")
    (warning,) = said
    assert warning.startswith("sent SIGCONT to 42; but this could not be recorded")
    (kept,) = gate.unwritten()
    assert json.loads(kept)["stage"] == "automatic"


def test_at_exit_what_is_still_unwritten_goes_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    gate = Gate(audit, read_only=False, ask=Asker(True))
    warnings_of(gate)
    assert request(gate, Probe(audit, fill_during_act=True)).unrecorded is not None
    gate.finish()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == (
        f"perftop: 1 audit record(s) could not be written to {audit.path} "
        "(No space left on device); here they are:"
    )
    assert json.loads(lines[1])["outcome"] == "looked"


def test_at_exit_a_kept_record_is_written_when_it_can_be(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    gate = Gate(audit, read_only=False, ask=Asker(True))
    warnings_of(gate)
    request(gate, Probe(audit, fill_during_act=True))
    audit.path.unlink()  # space again
    gate.finish()
    assert capsys.readouterr().err == ""
    assert [r["stage"] for r in audit.records()] == ["outcome"]
    assert gate.unwritten() == []


@pytest.fixture
def fake_tui(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Settings]:
    """The TUI replaced by a stand-in that records the settings it was started with."""
    import types

    started: list[Settings] = []

    def fake_run(settings: Settings, startup: object) -> int:
        started.append(settings)
        return 0

    module = types.ModuleType("perftop.tui.app")
    module.run = fake_run  # type: ignore[attr-defined]  # a stand-in module
    monkeypatch.setitem(sys.modules, "perftop.tui.app", module)
    monkeypatch.setattr("perftop.cli.stdout_is_terminal", lambda: True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return started


def test_main_returns_2_and_starts_nothing(
    tmp_path: Path, fake_tui: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    from perftop.cli import main

    path = tmp_path / "audit.jsonl"
    fill_up(path)
    assert main(["--audit-file", str(path)]) == 2
    assert fake_tui == []
    assert "cannot be written (No space left on device)" in capsys.readouterr().err


def test_read_only_starts_even_when_the_audit_file_cannot_be_written(
    tmp_path: Path, fake_tui: list[Settings]
) -> None:
    from perftop.cli import main

    path = tmp_path / "audit.jsonl"
    fill_up(path)
    assert main(["--read-only", "--audit-file", str(path)]) == 0
    assert len(fake_tui) == 1


def test_perftop_run_makes_its_log_private_before_the_program_starts(
    tmp_path: Path, fake_tui: list[Settings]
) -> None:
    from perftop.cli import main

    log = tmp_path / "run.log"
    log.write_text("an older run's output")
    log.chmod(0o644)
    script = tmp_path / "app.py"
    script.write_text("import time\ntime.sleep(30)\n")
    assert main(["run", "--log", str(log), "--", sys.executable, str(script)]) == 0
    assert mode(log) == 0o600


@dataclasses.dataclass
class Undo(Probe):
    """An action that only undoes an earlier one (like detaching py-spy): never asked."""

    needs_prompt = False

    def perform(self, approval: Approval) -> str:
        approval.check()  # and it does not read the file: /dev/full reads as endless zeros
        self.performed += 1
        return "undone"


def test_an_undo_runs_even_when_nothing_can_be_written_and_both_records_are_kept(
    tmp_path: Path,
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    fill_up(audit.path)
    gate = Gate(audit, read_only=False)  # would answer no, but an undo is not asked
    said = warnings_of(gate)
    undo = Undo(audit)
    outcome = request(gate, undo)
    assert undo.performed == 1
    assert outcome.ok and outcome.unrecorded == "No space left on device"
    assert [json.loads(line)["stage"] for line in gate.unwritten()] == ["intent", "outcome"]
    assert len(said) == 1 and "done: undone" in said[0]
