"""`python -m benchmarks first-frame`: seconds from launch to a drawn CPU and memory pane.

    python -m benchmarks first-frame [--launches 3] [--no-install] [--json PATH]

Each program is launched in a fresh 120x40 tmux window (a pty read by an emulator where
tmux is missing) with an empty home, and the clock stops at the first read of the window
that shows its CPU and its memory pane with figures (`measure.panes_ready`). perftop and
its peers (glances, htop, top: whichever are installed; glances into benchmarks/.cache
unless --no-install) take turns launch by launch, so a busy minute slows them all alike.
The figure is the median of the launches; perftop's target is under 0.5 s. Beside it, in
tmux, the CPU seconds the program had used by then: on a busy machine wall time stretches
with the wait for a core, the work done to draw the frame does not.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import measure, subjects, tmux
from .report import FIRST_FRAME_TARGET
from .subjects import Subject

TIMEOUT = 20.0


def launch_once(
    subject: Subject, env: Mapping[str, str], cwd: str
) -> tuple[float | None, float | None, str]:
    """One launch: (wall seconds, CPU seconds or None, "" or what went wrong)."""
    if not tmux.available():
        spread, error = measure.first_frame(subject, env, 1, TIMEOUT, cwd)
        return (spread.median if spread else None), None, error or ""

    def check(lines: Sequence[str]) -> bool:
        return measure.panes_ready(lines, subject.panes)

    with tmux.TmuxWindow(env) as window:
        window.launch(subject.argv, subject.env, cwd)
        took = window.wait_for(check, TIMEOUT)
        if took is None:
            shown = " | ".join(line.strip() for line in window.screen() if line.strip())
            return None, None, f"no CPU and memory pane within {TIMEOUT:g} s: {shown[-300:]}"
        return took, window.cpu_at_frame, ""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks first-frame",
        description="Time from launch to a drawn CPU and memory pane, perftop beside its peers.",
    )
    parser.add_argument("--launches", type=int, default=3, metavar="N", help="default 3")
    parser.add_argument("--quick", action="store_true", help="one launch each")
    parser.add_argument("--no-install", action="store_true", help="do not install glances")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    launches = 1 if args.quick else max(1, args.launches)

    found = [subjects.perftop(), subjects.glances(not args.no_install), subjects.htop(False)]
    found.append(subjects.top())
    ready = [s for s in found if s.available]
    runs: dict[str, list[float]] = {s.name: [] for s in ready}
    cpu: dict[str, list[float]] = {s.name: [] for s in ready}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="perftop-bench-") as tmp:
        env = subjects.clean_env(Path(tmp))
        for launch in range(launches):
            for subject in ready:
                if subject.name in errors:
                    continue
                print(f"first frame of {subject.name}, {launch + 1}/{launches}", file=sys.stderr)
                took, used, error = launch_once(subject, env, tmp)
                if took is None:
                    errors[subject.name] = error or "failed"
                    continue
                runs[subject.name].append(took)
                if used is not None:
                    cpu[subject.name].append(used)

    print(f"first frame: launch to a drawn CPU and memory pane, in {measure.terminal()}")
    print("| program | median s | runs s | CPU s by then (median) |")
    print("|---|---|---|---|")
    doc: dict[str, object] = {"terminal": measure.terminal(), "launches": launches}
    figures: dict[str, object] = {}
    for subject in found:
        times = runs.get(subject.name, [])
        if times:
            spread = measure.Spread.of(times)
            shown = ", ".join(f"{t:.3f}" for t in times)
            used = cpu.get(subject.name, [])
            cpu_median = measure.Spread.of(used).median if used else None
            cpu_cell = "not measured" if cpu_median is None else f"{cpu_median:.2f}"
            print(f"| {subject.name} | {spread.median:.3f} | {shown} | {cpu_cell} |")
            figures[subject.name] = {"median": spread.median, "runs": times, "cpu_s": used}
        else:
            why = errors.get(subject.name) or subject.reason or "not measured"
            print(f"| {subject.name} | not available | {why} | |")
            figures[subject.name] = {"median": None, "reason": why}
    doc["first_frame_s"] = figures
    perftop = figures.get("perftop")
    median = perftop.get("median") if isinstance(perftop, dict) else None
    verdict = (
        "not measured" if median is None else ("pass" if median < FIRST_FRAME_TARGET else "FAIL")
    )
    print(f"perftop target < {FIRST_FRAME_TARGET:g} s: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0 if median is not None else 1
