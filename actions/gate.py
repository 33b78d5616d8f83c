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
4. audits first, then acts: an approved action's intent (what will be done) is written
   before it runs and its outcome (result or error, duration) after, both under one id; a
   declined or refused request is one record. An intent that cannot be written stops the
   action (the outcome says why); an outcome that cannot be written is kept, retried before
   the next intent (which waits for it), offered to `warn` at once and by `unwritten()` at
   exit. An action that only undoes an earlier one (`needs_prompt` False) runs even when
   its intent cannot be written, its records kept. Nothing about the audit ever raises out
   of `request`.

Read-only is enforced three times: the TUI has no binding for the action, this gate refuses,
and `Approval.check()` refuses inside the action itself once the command line called
`lockdown()`, which `--read-only` does before anything else starts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import inspect
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

# The approval token and read-only live in the data plane (permits.py), so a collector can
# require an approval; the gate is what makes them, and actions reach them through here.
from ..permits import _GATE_KEY
from ..permits import ActionRefused as ActionRefused
from ..permits import Approval as Approval
from ..permits import lockdown as lockdown
from ..permits import locked_down as locked_down
from .audit import AuditError, AuditLog


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
    unrecorded: str | None = None  # why its record is not in the audit file (yet)

    @property
    def ok(self) -> bool:
        return self.decision is Decision.APPROVED and self.error is None


Asker = Callable[[Action], Awaitable[bool]]

# The audited error of an approved action whose run was cancelled (perftop stopping).
INTERRUPTED = "interrupted while running (perftop was stopping): it may or may not have run"


async def _never(action: Action) -> bool:
    return False


def _to_stderr(message: str) -> None:
    print(f"perftop: {message}", file=sys.stderr)


class Gate:
    """One gate per perftop process; every intrusive action goes through `request`."""

    def __init__(
        self,
        audit: AuditLog,
        *,
        read_only: bool,
        ask: Asker = _never,
        warn: Callable[[str], None] = _to_stderr,
    ) -> None:
        self.audit = audit
        self.read_only = read_only
        self.ask = ask
        self.warn = warn
        """Told, in plain words, when a record could not be written (the TUI: a notice)."""
        self._kept: list[dict[str, object]] = []  # records not written yet, oldest first

    async def request(self, action: Action) -> Outcome:
        """Ask, maybe perform, always audit. Never raises, except to pass on a cancellation."""
        try:
            return await self._request(action)
        finally:
            _discard(action)

    async def _request(self, action: Action) -> Outcome:
        started = time.monotonic()
        request_id = uuid.uuid4().hex
        if self.read_only:
            outcome = Outcome(Decision.REFUSED, error="perftop is read-only")
            return self._record_end("decision", action, outcome, request_id, started)
        try:
            approved = not needs_prompt(action) or await self.ask(action)
        except asyncio.CancelledError:
            approved = False
        if not approved:
            return self._record_end(
                "decision", action, Outcome(Decision.DECLINED), request_id, started
            )
        problem = self._write_intent(action, request_id)
        if problem is not None:
            # Nothing ran, and the outcome says so: there is nothing else to record.
            return Outcome(
                Decision.APPROVED, error=f"not done: the audit file cannot be written ({problem})"
            )
        try:
            outcome = await self._perform(action)
        except asyncio.CancelledError:
            # perftop is stopping while the action runs (an awaited one stops at its next
            # await; a thread finishes on its own): record that, then stop.
            interrupted = Outcome(Decision.APPROVED, error=INTERRUPTED)
            self._record_end("outcome", action, interrupted, request_id, started)
            raise
        return self._record_end("outcome", action, outcome, request_id, started)

    def note(self, **fields: object) -> None:
        """Record something perftop did on its own (the sampler's SIGCONT safety net), after
        the fact: written after any kept records, else kept and warned about; never raises."""
        record = self.audit.record(id=uuid.uuid4().hex, stage="automatic", **fields)
        self._kept.append(record)
        try:
            self._flush()
        except AuditError as exc:
            self._say_unrecorded(str(fields.get("outcome") or fields.get("action")), exc.reason)

    def finish(self) -> None:
        """perftop is ending: a last try at the kept records, then stderr gets the rest
        (one JSON line each), so no decision is lost with the process."""
        try:
            self._flush()
        except AuditError as exc:
            print(
                f"perftop: {len(self._kept)} audit record(s) could not be written to "
                f"{self.audit.path} ({exc.reason}); here they are:",
                file=sys.stderr,
            )
            for line in self.unwritten():
                print(line, file=sys.stderr)

    def unwritten(self) -> list[str]:
        """The records that could not be written yet, one JSON line each (for the exit)."""
        return [json.dumps(r, ensure_ascii=True, default=str) for r in self._kept]

    def _write_intent(self, action: Action, request_id: str) -> str | None:
        """Write what is kept, then the intent; the reason the action must not run, or None.

        An action that only undoes an earlier one (`needs_prompt` False: detaching py-spy)
        runs even so, its records kept: refusing it would leave the intrusion in place.
        """
        try:
            record = self.audit.record(
                id=request_id,
                stage="intent",
                action=action.kind,
                target=action.target,
                details=action.details(),
                decision=Decision.APPROVED.value,
                intent=action.describe(),
            )
        except Exception as exc:  # noqa: BLE001 - an action's own text must not crash the gate
            return str(exc) or type(exc).__name__
        self._kept.append(record)
        try:
            self._flush()
        except AuditError as exc:
            if not needs_prompt(action):
                return None  # kept; its outcome's record says it could not be written
            self._kept.remove(record)  # it will not run: there is nothing to record
            return exc.reason
        return None

    def _record_end(
        self, stage: str, action: Action, outcome: Outcome, request_id: str, started: float
    ) -> Outcome:
        """The record that ends a request: "outcome" after an approved action ran (its
        intent record holds the details), "decision" for one that did not run."""
        details = {"details": _details(action)} if stage == "decision" else {}
        return self._keep_or_write(
            outcome,
            id=request_id,
            stage=stage,
            action=action.kind,
            target=action.target,
            **details,
            decision=outcome.decision.value,
            duration_s=time.monotonic() - started,
            outcome=outcome.result,
            error=outcome.error,
        )

    def _keep_or_write(self, of: Outcome, **fields: object) -> Outcome:
        """Write the record of `of` (after any kept ones); when that fails keep it, say so."""
        record = self.audit.record(**fields)
        self._kept.append(record)
        try:
            self._flush()
        except AuditError as exc:
            self._warn(of, exc.reason)
            return dataclasses.replace(of, unrecorded=exc.reason)
        return of

    def _flush(self) -> None:
        """Write the kept records, oldest first; raises AuditError at the first that fails."""
        while self._kept:
            self.audit.write(self._kept[0])
            self._kept.pop(0)

    def _warn(self, outcome: Outcome, reason: str) -> None:
        if outcome.decision is not Decision.APPROVED:
            what = f"{outcome.decision.value}, nothing was done"
        elif outcome.error is not None:
            what = f"it was tried and failed ({outcome.error})"
        else:
            what = f"done: {outcome.result}"
        self._say_unrecorded(what, reason)

    def _say_unrecorded(self, what: str, reason: str) -> None:
        message = (
            f"{what}; but this could not be recorded in the audit file ({reason}). perftop "
            "keeps the record, writes it before the next action and prints it at exit "
            "if it still cannot."
        )
        try:
            self.warn(message)
        except Exception:  # noqa: BLE001 - a broken notice must not undo the audit's promise
            _to_stderr(message)

    async def _perform(self, action: Action) -> Outcome:
        approval = Approval(_GATE_KEY)
        try:
            result = await _run(action, approval)
        except Exception as exc:  # noqa: BLE001 - the outcome carries it to the audit and UI
            return Outcome(Decision.APPROVED, error=_plain_error(exc))
        return Outcome(Decision.APPROVED, result=result)


def _details(action: Action) -> Mapping[str, object]:
    try:
        return action.details()
    except Exception as exc:  # noqa: BLE001 - a record with the reason beats no record
        return {"details_error": str(exc) or type(exc).__name__}


def _discard(action: Action) -> None:
    """The request is over: let the action release what it holds (a process's pidfd)."""
    close = getattr(action, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # noqa: BLE001, S110 - releasing is best effort, never a failure
            pass


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
