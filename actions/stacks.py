"""Attach py-spy to a process, and detach it: both through the approval gate.

How the gate stays the only path to a running py-spy: `PySpySampler` (the collector) takes
an `AttachPermit` in its constructor and refuses anything else; an `AttachPermit` is made
from an `Approval`, which only the gate makes, and its constructor spends that approval
(`approval.check()`, which also refuses under `--read-only`). `AttachPySpy.perform` is the
one place that makes a permit: it keeps it, and `AttachPySpy.sampler()` hands it to a new
sampler once. So: no gate approval → no approval → no permit → no sampler → no py-spy.

Detaching does not touch the target (py-spy simply stops reading it, and the sampler resumes
the target if a window left it stopped), so `DetachPySpy` needs no risk warning; it goes
through the gate all the same so that the audit file has the end of every attach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..collectors.base import CollectorError
from ..collectors.stacks import austin
from ..collectors.stacks.pyspy import (
    AttachPermit,
    PySpyOptions,
    PySpySampler,
    continue_if_stopped,
)
from ..collectors.stacks.pyspy_faults import TargetEnded, check_attach, find_pyspy
from ..redact import redact, redact_short
from .gate import ActionRefused, Approval
from .process import ProcessTarget

# Measured with `python -m benchmarks.stacks` on this machine (2 cores), a CPU-bound target
# with a 30-deep stack, 100 Hz: see the benchmark's output and the report in its docstring.
BLOCKING_SLOWDOWN = "about 20 %"


@dataclass(frozen=True, slots=True)
class AttachPySpy:
    """Start sampling a process's Python stacks with py-spy."""

    process: ProcessTarget
    blocking: bool = False
    rate: int = 100
    idle: bool = False
    gil: bool = False
    native: bool = False
    subprocesses: bool = False
    pyspy: str | None = None  # py-spy's path; None finds it (beside Python, then PATH)
    # "austin" streams from one attach (collectors/stacks/austin.py); "py-spy" attaches once
    # a window. "auto": austin where it is installed and can take the options.
    engine: str = "auto"
    austin: str | None = None  # austin's path; None finds it like py-spy's
    _permits: list[AttachPermit] = field(default_factory=list, compare=False, repr=False)

    @property
    def options(self) -> PySpyOptions:
        return PySpyOptions(
            rate=self.rate,
            blocking=self.blocking,
            idle=self.idle,
            gil=self.gil,
            native=self.native,
            subprocesses=self.subprocesses,
        )

    def __post_init__(self) -> None:
        if self.engine not in ("auto", "austin", "py-spy"):
            raise ValueError(f"unknown sampler {self.engine!r}: auto, austin or py-spy")
        if self.engine == "auto":  # decided once: the prompt names what will run
            chosen = "py-spy"
            if austin.streams(self.options):
                try:
                    austin.find_austin(self.austin)
                    chosen = "austin"
                except CollectorError:
                    pass
            object.__setattr__(self, "engine", chosen)

    @property
    def sampler_name(self) -> str:
        """What reads the process: "austin" or "py-spy" (austin cannot block, read native
        frames or keep the GIL holder's samples only)."""
        return "austin" if self.engine == "austin" and austin.streams(self.options) else "py-spy"

    @property
    def kind(self) -> str:
        return "attach-py-spy"

    @property
    def target(self) -> str:
        return f"pid {self.process.pid} ({redact(self.process.name)})"

    @property
    def title(self) -> str:
        if self.blocking:
            return "Attach py-spy (blocking)"
        return f"Attach {self.sampler_name}"

    def describe(self) -> str:
        what = (
            f"Sample the Python stacks of {self.process.label()} {self.rate} times a second "
            f"with {self.sampler_name}, which reads the process's memory from outside "
            "through ptrace."
        )
        if self.sampler_name == "austin":
            what += (
                " It attaches once and never pauses the process; if sampling only the thread "
                "holding the GIL is chosen later, py-spy does that part, nonblocking too."
            )
        if self.sampler_name == "austin":
            how = ""
        elif self.blocking:
            how = (
                " Blocking mode pauses the process briefly on every sample to read exact "
                f"stacks; it slows the process down ({BLOCKING_SLOWDOWN} measured at 100 Hz "
                "on a deep stack)."
            )
        else:
            how = (
                " Nonblocking sampling (the default) never pauses it; a stack may "
                "occasionally be read while it changes."
            )
        extra = " Its child processes are sampled too." if self.subprocesses else ""
        return what + how + extra

    def details(self) -> Mapping[str, object]:
        return {
            "pid": self.process.pid,
            "process_user": self.process.user,
            "options": list(self.options.names()),
            "sampler": self.sampler_name,
        }

    def perform(self, approval: Approval) -> str:
        permit = AttachPermit(approval, self.process.pid, self.process.start_ticks, self.options)
        self.process.check_same()
        # A quick nonblocking dump says now, in the gate's outcome, what would otherwise be
        # the sampler's first failure: not Python, permission denied, py-spy missing.
        try:
            if self.sampler_name == "austin":
                austin.check_attach(austin.find_austin(self.austin), self.process.pid)
            else:
                check_attach(find_pyspy(self.pyspy), self.process.pid)
        except TargetEnded as exc:
            raise CollectorError(
                f"process {self.process.pid} has exited: nothing was done"
            ) from exc
        finally:
            continue_if_stopped(permit)
        self._permits.append(permit)
        mode = "blocking" if self.blocking else "nonblocking"
        return f"{self.sampler_name} attached to {self.process.pid} ({self.rate} Hz, {mode})"

    def sampler(self, window: float = 1.0, keep: float = 300.0) -> PySpySampler:
        """The collector this approval allows (once); raises if it was not approved."""
        if not self._permits:
            raise ActionRefused("py-spy was not approved for this process")
        permit = self._permits.pop()
        if self.sampler_name == "austin":
            return austin.AustinSampler(
                permit, window=window, keep=keep, austin=self.austin, pyspy=self.pyspy
            )
        return PySpySampler(permit, window=window, keep=keep, pyspy=self.pyspy)


@dataclass(frozen=True, slots=True)
class DetachPySpy:
    """Stop sampling: py-spy lets go of the process; the windows so far stay on screen."""

    sampler: PySpySampler

    needs_prompt = False  # it only stops py-spy reading the target: audited, not asked

    @property
    def kind(self) -> str:
        return "detach-py-spy"

    @property
    def target(self) -> str:
        return f"pid {self.sampler.pid} ({redact_short(self.sampler.command, 60)})"

    @property
    def title(self) -> str:
        return "Detach py-spy"

    def describe(self) -> str:
        return (
            f"Stop sampling process {self.sampler.pid}. py-spy stops reading its memory; "
            "the process is not otherwise affected."
        )

    def details(self) -> Mapping[str, object]:
        return {"pid": self.sampler.pid, "windows": len(self.sampler.windows)}

    def perform(self, approval: Approval) -> str:
        approval.check()
        self.sampler.stop()
        resumed = continue_if_stopped(self.sampler)
        note = " (it was stopped: sent SIGCONT)" if resumed else ""
        return f"py-spy detached from {self.sampler.pid}{note}"
