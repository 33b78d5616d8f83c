"""The approval gate: the only code path from a request to an intrusive action.

An action (signal a process, renice it, later attach py-spy or cancel a backend) is an
object that can describe itself in plain words and perform itself, but only when handed an
`Approval`, and only the gate can make one. The gate:

1. refuses everything under read-only (and says so), without asking;
2. otherwise asks the person (a modal in the TUI; an explicit flag headless), the default
   answer being No;
3. performs the action once if, and only if, the answer was yes: a blocking `perform` in a
   worker thread (signals, file writes), an `async def perform` awaited on the gate's own
   loop (asyncpg: a connection belongs to the loop that made it);
4. appends one audit record per request: time, OS user, action, target, decision,
   duration, outcome or error.

Read-only is enforced three times: the TUI has no binding for the action, this gate refuses,
and `Approval.check()` refuses inside the action itself once the command line called
`lockdown()`, which `--read-only` does before anything else starts.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from .audit import AuditLog

_GATE_KEY = object()
_locked_down = False


def lockdown() -> None:
    """Make every action refuse to run for the rest of this process (`--read-only`)."""
    global _locked_down
    _locked_down = True


def locked_down() -> bool:
    return _locked_down


class ActionRefused(Exception):
    """An action was asked to run without a valid approval, or under read-only."""


class Approval:
    """Proof that the gate asked and the person said yes. Only the gate makes these."""

    __slots__ = ("_used",)

    def __init__(self, key: object) -> None:
        if key is not _GATE_KEY:
            raise ActionRefused("only the approval gate can approve an action")
        self._used = False

    def check(self) -> None:
        """Called by an action before it changes anything; an approval is good once."""
        if _locked_down:
            raise ActionRefused("perftop is read-only: no action runs")
        if self._used:
            raise ActionRefused("this approval was already used")
        self._used = True


class Action(Protocol):
    """Something that changes a process or a database."""

    @property
    def kind(self) -> str:
        """Short machine name for the audit file, e.g. "signal", "renice"."""
        ...

    @property
    def target(self) -> str:
        """What it acts on, for the audit file, secrets already masked."""
        ...

    @property
    def title(self) -> str:
        """A few words for the modal's title, e.g. "Send SIGTERM"."""
        ...

    def describe(self) -> str:
        """One or two plain sentences: what will happen to what, and the risk."""
        ...

    def details(self) -> Mapping[str, object]:
        """Extra audit fields (pid, signal, nice values...), secrets already masked."""
        ...

    def perform(self, approval: Approval) -> str | Awaitable[str]:
        """Do it; returns what happened in plain words, raises on failure.

        Either a plain (blocking) method, which the gate runs in a worker thread, or an
        `async def`, which the gate awaits on its own event loop: the form for asyncpg,
        whose connections belong to the loop that made them. Never a plain method that
        returns an awaitable: the gate tells the two apart with
        `inspect.iscoroutinefunction`, and such a method is refused as a failure.
        """
        ...


def needs_prompt(action: Action) -> bool:
    """Whether the person must be asked. An action that undoes an intrusion without changing
    the target (detaching py-spy) sets `needs_prompt = False`: it is still audited and still
    refused under read-only, but a person leaving a screen or quitting is not asked."""
    return bool(getattr(action, "needs_prompt", True))


class Decision(enum.Enum):
    APPROVED = "approved"
    DECLINED = "declined"
    REFUSED = "refused-read-only"


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: Decision
    result: str | None = None  # what happened, when it ran and succeeded
    error: str | None = None  # why it failed, when it ran and failed

    @property
    def ok(self) -> bool:
        return self.decision is Decision.APPROVED and self.error is None


Asker = Callable[[Action], Awaitable[bool]]

# The audited error of an approved action whose run was cancelled (perftop stopping).
INTERRUPTED = "interrupted while running (perftop was stopping): it may or may not have run"


async def _never(action: Action) -> bool:
    return False


class Gate:
    """One gate per perftop process; every intrusive action goes through `request`."""

    def __init__(self, audit: AuditLog, *, read_only: bool, ask: Asker = _never) -> None:
        self.audit = audit
        self.read_only = read_only
        self.ask = ask

    async def request(self, action: Action) -> Outcome:
        """Ask, maybe perform, always audit. Never raises for the action's own failure."""
        started = time.monotonic()
        if self.read_only:
            outcome = Outcome(Decision.REFUSED, error="perftop is read-only")
        else:
            try:
                approved = not needs_prompt(action) or await self.ask(action)
            except asyncio.CancelledError:
                approved = False
            if not approved:
                outcome = Outcome(Decision.DECLINED)
            else:
                try:
                    outcome = await self._perform(action)
                except asyncio.CancelledError:
                    # perftop is stopping while the action runs (an awaited one stops at its
                    # next await; a thread finishes on its own): audit that, then stop.
                    self._audit(action, Outcome(Decision.APPROVED, error=INTERRUPTED), started)
                    raise
        self._audit(action, outcome, started)
        return outcome

    def _audit(self, action: Action, outcome: Outcome, started: float) -> None:
        self.audit.append(
            action=action.kind,
            target=action.target,
            details=action.details(),
            decision=outcome.decision.value,
            duration_s=time.monotonic() - started,
            outcome=outcome.result,
            error=outcome.error,
        )

    async def _perform(self, action: Action) -> Outcome:
        approval = Approval(_GATE_KEY)
        try:
            result = await _run(action, approval)
        except Exception as exc:  # noqa: BLE001 - the outcome carries it to the audit and UI
            return Outcome(Decision.APPROVED, error=_plain_error(exc))
        return Outcome(Decision.APPROVED, result=result)


async def _run(action: Action, approval: Approval) -> str:
    """`action.perform`: awaited here when it is `async def`, else in a worker thread."""
    if inspect.iscoroutinefunction(action.perform):
        result: object = await action.perform(approval)
    else:
        result = await asyncio.to_thread(action.perform, approval)
        if inspect.isawaitable(result):
            close = getattr(result, "close", None)
            if callable(close):
                close()  # never awaited: close it so it does not warn at exit
            raise TypeError(
                f"{type(action).__name__}.perform returned an awaitable from a plain method: "
                "declare it `async def`"
            )
    if not isinstance(result, str):
        raise TypeError(f"{type(action).__name__}.perform returned {type(result).__name__}")
    return result


def _plain_error(exc: BaseException) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied (needs root or the owner's user)"
    if isinstance(exc, ProcessLookupError):
        return "the process no longer exists"
    return str(exc) or type(exc).__name__
