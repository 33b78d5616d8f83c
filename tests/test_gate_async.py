"""The gate's async path: an `async def perform` is awaited on the gate's own loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from perftop.actions import gate as gate_module
from perftop.actions.audit import AuditLog
from perftop.actions.gate import INTERRUPTED, Action, Approval, Decision, Gate, lockdown

from .support import run


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit.jsonl")


def answer(yes: bool) -> gate_module.Asker:
    async def ask(action: Action) -> bool:
        return yes

    return ask


@dataclass
class Awaited:
    """An async action that records where and how often it really ran."""

    fail_with: Exception | None = None
    block: asyncio.Event | None = None  # when set, perform waits on it (to be cancelled)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    performed: int = 0
    loops: list[asyncio.AbstractEventLoop] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)

    kind = "async-test"
    target = "backend 4121 (alice on shop)"
    title = "Do the async thing"

    def describe(self) -> str:
        return "Does the async thing."

    def details(self) -> Mapping[str, object]:
        return {"pid": 4121}

    async def perform(self, approval: Approval) -> str:
        approval.check()
        self.loops.append(asyncio.get_running_loop())
        self.threads.append(threading.get_ident())
        self.started.set()
        if self.block is not None:
            await self.block.wait()
        await asyncio.sleep(0)  # a real suspension point, as asyncpg has
        if self.fail_with is not None:
            raise self.fail_with
        self.performed += 1
        return "did the async thing"


@run
async def test_approved_is_awaited_exactly_once_on_the_gates_loop(audit: AuditLog) -> None:
    action = Awaited()
    outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
    assert outcome.ok and outcome.result == "did the async thing"
    assert action.performed == 1
    # On this loop and this thread, not in a worker thread with a loop of its own.
    assert action.loops == [asyncio.get_running_loop()]
    assert action.threads == [threading.get_ident()]
    (record,) = audit.read()
    assert record["decision"] == "approved" and record["outcome"] == "did the async thing"
    assert record["action"] == "async-test" and record["details"] == {"pid": 4121}


@run
async def test_declined_is_never_awaited(audit: AuditLog) -> None:
    action = Awaited()
    outcome = await Gate(audit, read_only=False, ask=answer(False)).request(action)
    assert outcome.decision is Decision.DECLINED
    assert action.performed == 0 and action.loops == []
    assert [r["decision"] for r in audit.read()] == ["declined"]


@run
async def test_read_only_refuses_without_asking(audit: AuditLog) -> None:
    asked: list[Action] = []

    async def ask(action: Action) -> bool:
        asked.append(action)
        return True

    action = Awaited()
    outcome = await Gate(audit, read_only=True, ask=ask).request(action)
    assert outcome.decision is Decision.REFUSED
    assert asked == [] and action.loops == []
    assert [r["decision"] for r in audit.read()] == ["refused-read-only"]


@run
async def test_lockdown_refuses_inside_the_async_action(audit: AuditLog) -> None:
    lockdown()
    action = Awaited()
    outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
    assert outcome.error == "perftop is read-only: no action runs"
    assert action.performed == 0 and action.loops == []


@run
async def test_an_exception_is_an_audited_error(audit: AuditLog) -> None:
    action = Awaited(fail_with=RuntimeError("canceling statement due to statement timeout"))
    outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
    assert outcome.decision is Decision.APPROVED and not outcome.ok
    assert outcome.error == "canceling statement due to statement timeout"
    assert action.performed == 0 and len(action.loops) == 1
    (record,) = audit.read()
    assert record["decision"] == "approved"
    assert record["error"] == outcome.error and record["outcome"] is None


@run
async def test_cancelled_while_running_is_audited_then_propagates(audit: AuditLog) -> None:
    action = Awaited(block=asyncio.Event())
    task = asyncio.create_task(Gate(audit, read_only=False, ask=answer(True)).request(action))
    # A guard, not a timing: a gate that never awaits perform would otherwise hang here.
    await asyncio.wait_for(action.started.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert action.performed == 0
    (record,) = audit.read()
    assert record["decision"] == "approved" and record["error"] == INTERRUPTED


@dataclass
class Blocking:
    """A plain perform still runs in a worker thread, off the loop."""

    threads: list[int] = field(default_factory=list)
    kind = "blocking-test"
    target = "pid 42"
    title = "Block"

    def describe(self) -> str:
        return "Blocks."

    def details(self) -> Mapping[str, object]:
        return {}

    def perform(self, approval: Approval) -> str:
        approval.check()
        self.threads.append(threading.get_ident())
        return "blocked"


@run
async def test_a_plain_perform_still_runs_in_a_thread(audit: AuditLog) -> None:
    action = Blocking()
    outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
    assert outcome.result == "blocked"
    assert len(action.threads) == 1 and action.threads[0] != threading.get_ident()


@dataclass
class Sneaky(Blocking):
    """A plain method that returns a coroutine: it would never run in the thread's loop."""

    ran: list[bool] = field(default_factory=list)

    def perform(self, approval: Approval) -> str:
        approval.check()

        async def later() -> str:
            self.ran.append(True)
            return "ran"

        return later()  # type: ignore[return-value]  # the mistake under test


@run
async def test_a_plain_perform_returning_a_coroutine_is_an_error(audit: AuditLog) -> None:
    action = Sneaky()
    outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
    assert outcome.error is not None and "declare it `async def`" in outcome.error
    assert action.ran == []
    assert audit.read()[0]["error"] == outcome.error
