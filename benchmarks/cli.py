"""`python -m benchmarks [--seconds 60] [--extra-procs 1000] [--quick] [--json PATH]`.

Prints one Markdown table on stdout (progress goes to stderr) and optionally writes every
figure as JSON. Exit codes: 0 measured (targets are reported, not enforced, unless
`--check`), 1 `--check` and a target failed or could not be measured, 2 bad usage,
130 interrupted. The extra idle processes and every program started are ended however the
run ends: Ctrl-C, SIGTERM, SIGHUP or an error.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from . import measure, probes, subjects
from .idle import IdleProcesses
from .report import Results, Tick
from .terminal import COLUMNS, LINES

# --quick is for the smoke test: every code path, a few seconds each.
FULL = {"seconds": 60.0, "warmup": 5.0, "extra_procs": 1000, "launches": 5, "ticks": 50}
QUICK = {"seconds": 3.0, "warmup": 1.5, "extra_procs": 100, "launches": 2, "ticks": 10}
# Ticks this far apart span perftop's per-process cache lifetime (10 s) over 50 ticks.
TICK_SPACING = {"full": 0.25, "quick": 0.05}


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure perftop's own cost next to htop, glances and top.",
    )
    parser.add_argument(
        "--seconds", type=float, metavar="N", help="measurement window per run (default 60)"
    )
    parser.add_argument(
        "--extra-procs",
        type=int,
        metavar="N",
        help="idle processes added for the second scenario (default 1000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short windows, 100 extra processes, 2 launches, peers run side by side, "
        "nothing installed (the smoke test's mode)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every figure here")
    parser.add_argument(
        "--no-install", action="store_true", help="do not install missing htop or glances"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 unless every perftop target passes"
    )
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM and SIGHUP unwind like Ctrl-C, so every `with` block ends its processes.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; returns the exit code (see the module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    plan = dict(QUICK if args.quick else FULL)
    if args.seconds is not None:
        if not args.seconds > 0:
            parser.error("--seconds must be above 0")
        plan["seconds"] = args.seconds
    if args.extra_procs is not None:
        if args.extra_procs < 0:
            parser.error("--extra-procs must be 0 or more")
        plan["extra_procs"] = args.extra_procs
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        results = run(plan, side_by_side=args.quick, install=not (args.quick or args.no_install))
    except KeyboardInterrupt:
        _say("interrupted; every process it started has been ended")
        return 130
    print(results.markdown())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results.to_json(), indent=2) + "\n")
    if args.check:
        return 0 if all(t["pass"] for t in results.targets().values()) else 1
    return 0


def run(plan: dict[str, float], side_by_side: bool, install: bool) -> Results:
    """Every measurement, in order; programs run with an empty home in a temporary dir."""
    seconds, warmup = float(plan["seconds"]), float(plan["warmup"])
    extra, launches, ticks = int(plan["extra_procs"]), int(plan["launches"]), int(plan["ticks"])
    spacing = TICK_SPACING["quick" if side_by_side else "full"]
    _say("finding perftop, htop, glances and top")
    found = subjects.discover(install)
    ready = [s for s in found if s.available]
    results = Results(
        machine=probes.machine(),
        settings={
            "seconds": seconds,
            "warmup": warmup,
            "extra_procs": extra,
            "launches": launches,
            "ticks": ticks,
            "tick_spacing_s": spacing,
            "side_by_side": side_by_side,
            "pty": f"{COLUMNS}x{LINES}",
            "first_frame_in": measure.terminal(),
            "refresh_s": 1.0,
        },
        subjects=found,
    )
    with tempfile.TemporaryDirectory(prefix="perftop-bench-") as tmp:
        home = Path(tmp)
        env = subjects.clean_env(home)

        def cpu(scenario: str) -> None:
            results.processes[scenario] = probes.count_processes()
            groups = [ready] if side_by_side else [[s] for s in ready]
            results.cpu[scenario] = {}
            for group in groups:
                names = ", ".join(s.name for s in group)
                _say(f"CPU use of {names}, {scenario} ({warmup + seconds:g} s)")
                results.cpu[scenario].update(measure.cpu_use(group, env, warmup, seconds, cwd=tmp))

        def tick(scenario: str) -> None:
            _say(f"collection tick x{ticks}, {scenario}")
            try:
                cpu_time, wall, each, count = measure.tick_cost(ticks, spacing)
            except Exception as exc:  # noqa: BLE001 - a broken collector is a finding
                results.ticks[scenario] = f"{type(exc).__name__}: {exc}"
            else:
                results.ticks[scenario] = Tick(cpu_time, wall, each, count)

        cpu("machine")
        for subject in ready:
            _say(f"first frame of {subject.name} x{launches}")
            results.first_frame[subject.name] = measure.first_frame(subject, env, launches, cwd=tmp)
        tick("machine")
        _say(f"starting {extra} idle processes")
        started = time.perf_counter()
        with IdleProcesses(extra) as idle:
            _say(f"{extra} started in {time.perf_counter() - started:.1f} s")
            cpu("extra")
            tick("extra")
        results.idle = {"requested": extra, "pgid": idle.pgid, "leftovers": len(idle.leftovers())}
    return results
