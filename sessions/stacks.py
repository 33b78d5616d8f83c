"""The stack section of `perftop snapshot --json --pid PID --approve attach --seconds N`.

Attaching goes through the gate like in the TUI (headless, the gate's `ask` is the
`--approve attach` flag); the sampler then runs for N seconds of windows into a `Store`,
detaches (also through the gate), and the section is built from the store:

    {"pid": 1234, "command": "<redacted>", "mode": "py-spy", "options": ["100 Hz", ...],
     "seconds": 5.1, "samples": 510, "idle": 0.76, "requested_rate": 100.0, "achieved_rate": 99.2,
     "coverage": 0.99, "ended": false, "notice": "", "resumed": 0,
     "windows_tried": 6, "windows_lost": 1, "lost": "1 of 6 windows lost",
     "last_failure": "py-spy failed: Failed to get stack traces",
     "threads": [{"name": "MainThread", "thread_id": 12, "samples": 510, "idle": 0}],
     "top_own": [{"name": "burn_cpu", "file": "burn.py", "own": 500, "total": 500,
                  "own_percent": 98.0, "total_percent": 98.0, "line": 7}, ...],  # at most 20
     "top_total": [...],
     "error": null}

"samples" counts every sample, idle ones included (py-spy always samples idle threads), and
"idle" is the share (0 to 1) of them that py-spy saw waiting; the top lists, like the Stacks
screen by default, rank the samples that were not idle (their percentages are of those).
Files are named as the screen names them (collectors/stacks/names.py: `<stdlib>/json/
encoder.py`, `<site>/pkg/mod.py`, else the shortest ending of the path no other file
shares); "line" is the line the function was at most.

A window none of whose reads succeeded (py-spy retries a failed read at once) is lost: it
is counted in "windows_lost" and the section still stands; only when every window was lost
is the section an error ("py-spy failed: ... (all 6 windows lost)").

On refusal or failure every number is absent and "error" says why.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from ..actions.gate import Gate
from ..actions.process import ProcessTarget
from ..actions.stacks import AttachPySpy, DetachPySpy
from ..collectors.base import tick
from ..collectors.stacks.detect import why_not_python
from ..collectors.stacks.model import StackSample
from ..collectors.stacks.names import Names
from ..collectors.stacks.profile import merge
from ..redact import redact
from ..store import Store

TOP = 20


def section(sample: StackSample | None, status_message: str = "") -> dict[str, object]:
    """The stack section from the sampler's latest sample (None: `status_message` says why)."""
    if sample is None:
        return {"error": status_message or "no stack samples"}
    if sample.windows_lost and sample.windows_lost == sample.windows_tried:
        return {"pid": sample.target.pid, "error": f"{sample.last_failure} ({sample.lost_text})"}
    profile = merge(sample.windows)
    running = merge(sample.windows, include_idle=False)
    names = Names(frame.file for stack, _ in profile.stacks for frame in stack.frames)

    def top(by: Literal["own", "total"]) -> list[dict[str, object]]:
        stats = running.top_functions(by, TOP)
        return [{**dataclasses.asdict(s), "file": names.file(s.file)} for s in stats]

    return {
        "pid": sample.target.pid,
        "command": redact(sample.target.command),
        "mode": sample.target.mode,
        "options": list(sample.target.options),
        "seconds": profile.sampled,
        "samples": profile.samples,
        "idle": round(profile.idle_share, 4),
        "requested_rate": profile.requested_rate,
        "achieved_rate": profile.achieved_rate,
        "coverage": profile.coverage,
        "ended": sample.ended,
        "notice": sample.notice,
        "resumed": sample.resumed,
        "windows_tried": sample.windows_tried,
        "windows_lost": sample.windows_lost,
        "lost": sample.lost_text,
        "last_failure": sample.last_failure,
        "threads": [dataclasses.asdict(t) for t in profile.threads],
        "top_own": top("own"),
        "top_total": top("total"),
        "error": None,
    }


async def stacks_section(
    pid: int,
    seconds: float,
    rate: int = 100,
    *,
    gate: Gate,
    window: float = 1.0,
    pyspy: str | None = None,
    engine: str = "auto",
) -> dict[str, object]:
    """Attach (through `gate`), sample `seconds` of windows, detach; the section.
    `engine`: what samples ("auto": austin where it can, else py-spy; see AttachPySpy)."""
    try:
        target = ProcessTarget.from_pid(pid)
    except ProcessLookupError:
        return {"pid": pid, "error": f"no process {pid}"}
    why = why_not_python(pid)
    if why is not None:  # nothing to approve: the attach could only fail
        return {"pid": pid, "error": why}
    attach = AttachPySpy(target, rate=rate, pyspy=pyspy, engine=engine)
    outcome = await gate.request(attach)
    if not outcome.ok:
        return {"pid": pid, "error": outcome.error or "attaching py-spy was declined"}
    sampler = attach.sampler(window=window)
    sampler.give_up_after = None  # every window is tried; the section fails if none worked
    store = Store(history_len=2)
    try:
        for _ in range(max(1, math.ceil(seconds / window))):
            if not await tick(sampler, store) or sampler.ended:
                break
    finally:
        await gate.request(DetachPySpy(sampler))
        await sampler.close()
    sample = store.latest(sampler.source, StackSample)
    return section(sample, store.status(sampler.source).message)
