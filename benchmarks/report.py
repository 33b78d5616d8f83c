"""The results of one benchmark run: the Markdown table people read and the JSON tools read."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from .measure import CpuRun, Spread
from .subjects import Subject

MB = 1024 * 1024

# perftop's budget (docs/ARCHITECTURE.md, "What things cost here").
CPU_TARGET = 2.0  # % of one core, with ~1000 extra processes
FIRST_FRAME_TARGET = 0.5  # seconds, median
RSS_TARGET_MB = 80.0

SCENARIOS = ("machine", "extra")


@dataclass
class Tick:
    """The cost of one collection tick with a given number of processes."""

    spread: Spread  # CPU seconds of the collecting thread
    wall: Spread  # wall-clock seconds (longer than `spread` when the machine is busy)
    collectors: dict[str, float]  # median CPU seconds per collector
    processes: int


@dataclass
class Results:
    """Everything one run measured, and how."""

    machine: dict[str, object]
    settings: dict[str, object]
    subjects: list[Subject]
    processes: dict[str, int] = field(default_factory=dict)  # per scenario
    cpu: dict[str, dict[str, CpuRun]] = field(default_factory=dict)  # scenario -> subject
    first_frame: dict[str, tuple[Spread | None, str | None]] = field(default_factory=dict)
    ticks: dict[str, Tick | str] = field(default_factory=dict)  # a str says why not
    idle: dict[str, object] = field(default_factory=dict)

    def percent(self, scenario: str, name: str) -> float | None:
        """CPU % of one core of `name` in `scenario`, None if not measured."""
        run = self.cpu.get(scenario, {}).get(name)
        return run.percent if run is not None else None

    def peak_rss_mb(self, name: str) -> float | None:
        """The highest VmHWM of `name` over every run, in MB."""
        peaks: list[int] = []
        for runs in self.cpu.values():
            run = runs.get(name)
            if run is not None and run.peak_rss is not None:
                peaks.append(run.peak_rss)
        return max(peaks) / MB if peaks else None

    def ratio(self, scenario: str, name: str) -> float | None:
        """`name`'s CPU use over perftop's in `scenario`."""
        mine, theirs = self.percent(scenario, "perftop"), self.percent(scenario, name)
        if mine is None or theirs is None or mine <= 0:
            return None
        return theirs / mine

    def targets(self) -> dict[str, dict[str, Any]]:
        """perftop's figures against its budget; `pass` is None when not measured."""
        frame = self.first_frame.get("perftop", (None, None))[0]
        rows = {
            "cpu_extra_percent": (self.percent("extra", "perftop"), CPU_TARGET),
            "first_frame_s": (frame.median if frame else None, FIRST_FRAME_TARGET),
            "peak_rss_mb": (self.peak_rss_mb("perftop"), RSS_TARGET_MB),
        }
        return {
            key: {"figure": fig, "limit": limit, "pass": None if fig is None else fig < limit}
            for key, (fig, limit) in rows.items()
        }

    def to_json(self) -> dict[str, Any]:
        """Every figure, as plain numbers (None where a subject could not be measured)."""
        names = [s.name for s in self.subjects]
        peers = [n for n in names if n != "perftop"]
        return {
            "machine": {**self.machine, "processes": self.processes.get("machine")},
            "settings": self.settings,
            "subjects": {
                s.name: {
                    "available": s.available,
                    "reason": s.reason,
                    "version": s.version,
                    "argv": list(s.argv),
                }
                for s in self.subjects
            },
            "processes": self.processes,
            "cpu_percent": {
                sc: {n: self.percent(sc, n) for n in names} for sc in SCENARIOS if sc in self.cpu
            },
            "cpu_runs": {
                sc: {n: _run_json(run) for n, run in runs.items()} for sc, runs in self.cpu.items()
            },
            "peak_rss_mb": {n: self.peak_rss_mb(n) for n in names},
            "first_frame_s": {
                n: (_spread_json(spread, 1) if spread else {"error": error})
                for n, (spread, error) in self.first_frame.items()
            },
            "tick": {sc: _tick_json(t) for sc, t in self.ticks.items()},
            "ratios": {
                sc: {f"{n}/perftop": self.ratio(sc, n) for n in peers}
                for sc in SCENARIOS
                if sc in self.cpu
            },
            "targets": self.targets(),
            "idle": self.idle,
        }

    def markdown(self) -> str:
        """The header lines and the one table."""
        m = self.machine
        extra = self.settings["extra_procs"]
        lines = [
            f"machine: {m['cpus']} CPUs ({m['cpu_model'] or 'unknown model'}), "
            f"Linux {m['kernel']}, Python {m['python']}; "
            f"{self.processes.get('machine', '?')} processes",
            f"method: 1 s refresh in a {self.settings['pty']} pty; CPU = utime+stime of the "
            f"process tree over {self.settings['seconds']:g} s after a "
            f"{self.settings['warmup']:g} s warm-up; subjects run "
            f"{'side by side' if self.settings['side_by_side'] else 'one at a time'}; "
            f"first frame: until the CPU and memory pane show figures, in "
            f"{self.settings.get('first_frame_in', 'a pty')}",
            "",
        ]
        names = [s.name for s in self.subjects]
        head = ["figure", *(self._title(s) for s in self.subjects), "target (perftop)"]
        rows: list[list[str]] = []
        targets = self.targets()
        for sc, label in (("machine", "machine as is"), ("extra", f"+{extra} idle")):
            if sc not in self.cpu:
                continue
            target = _verdict(targets["cpu_extra_percent"], "%") if sc == "extra" else ""
            rows.append(
                [f"CPU % of one core, {label} ({self._count(sc)} processes)"]
                + [self._cpu_cell(sc, n) for n in names]
                + [target]
            )
        rows.append(
            ["peak RSS (VmHWM), MB"]
            + [_num(self.peak_rss_mb(n), 1) for n in names]
            + [_verdict(targets["peak_rss_mb"], " MB")]
        )
        launches = self.settings["launches"]
        rows.append(
            [f"first complete frame, median of {launches} launches, s"]
            + [self._frame_cell(n) for n in names]
            + [_verdict(targets["first_frame_s"], " s")]
        )
        for sc, label in (("machine", "machine as is"), ("extra", f"+{extra} idle")):
            tick = self.ticks.get(sc)
            if tick is not None:
                seen = f"{tick.processes} processes, " if isinstance(tick, Tick) else ""
                rows.append(
                    [
                        f"one collection tick, {label} ({seen}×{self.settings['ticks']}): "
                        "CPU median / p90 ms (% of a core at 1 s); wall median"
                    ]
                    + [self._tick_cell(sc)]
                    + ["—"] * (len(names) - 1)
                    + [""]
                )
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        lines.extend("| " + " | ".join(row) + " |" for row in rows)
        notes = [f"- {s.name}: {s.reason}" for s in self.subjects if s.reason]
        for sc, runs in self.cpu.items():
            notes += [f"- {n} ({sc}): {r.error}" for n, r in runs.items() if r.error]
        notes += [f"- {n} first frame: {err}" for n, (_, err) in self.first_frame.items() if err]
        notes += [
            f"- collection tick ({sc}): {t}" for sc, t in self.ticks.items() if isinstance(t, str)
        ]
        if notes:
            lines += ["", *notes]
        lines += [
            "",
            "N×: a peer's CPU use divided by perftop's in the same row (e.g. glances/perftop)",
        ]
        return "\n".join(lines)

    def _count(self, scenario: str) -> str:
        # Other work on the machine can start or end processes during the runs; say so.
        seen = [n for run in self.cpu[scenario].values() for n in run.processes if n]
        low, high = min(seen, default=0), max(seen, default=0)
        if not seen:
            return str(self.processes.get(scenario, "?"))
        return str(low) if low == high else f"{low}–{high}"

    def _title(self, subject: Subject) -> str:
        return f"{subject.name} {subject.version.split()[-1]}" if subject.version else subject.name

    def _cpu_cell(self, scenario: str, name: str) -> str:
        run = self.cpu[scenario].get(name)
        if run is None:
            return "not available"
        if run.percent is None:
            return "failed"
        cell = f"{run.percent:.2f}"
        ratio = self.ratio(scenario, name)
        if name != "perftop" and ratio is not None:
            cell += f" ({ratio:.1f}×)"
        return cell

    def _frame_cell(self, name: str) -> str:
        spread, _ = self.first_frame.get(name, (None, None))
        return "not available" if spread is None else f"{spread.median:.3f}"

    def _tick_cell(self, scenario: str) -> str:
        tick = self.ticks[scenario]
        if isinstance(tick, str):
            return "failed"
        ms = tick.spread.median * 1000
        wall = tick.wall.median * 1000
        return f"{ms:.1f} / {tick.spread.p90 * 1000:.1f} ({ms / 10:.2f} %); {wall:.1f}"


def _num(value: float | None, digits: int) -> str:
    return "not available" if value is None else f"{value:.{digits}f}"


def _verdict(target: dict[str, Any], unit: str) -> str:
    result = {None: "not measured", True: "pass", False: "FAIL"}[target["pass"]]
    return f"< {target['limit']:g}{unit}: {result}"


def _spread_json(spread: Spread, scale: float) -> dict[str, Any]:
    return {
        "median": spread.median * scale,
        "p90": spread.p90 * scale,
        "runs": [v * scale for v in spread.runs],
    }


def _run_json(run: CpuRun) -> dict[str, Any]:
    seconds = run.per_second
    return {
        "percent": run.percent,
        "per_second_median": statistics.median(seconds) if seconds else None,
        "per_second_max": max(seconds) if seconds else None,
        "peak_rss_mb": run.peak_rss / MB if run.peak_rss is not None else None,
        "error": run.error,
        "processes_start_end": list(run.processes),
    }


def _tick_json(tick: Tick | str) -> dict[str, Any]:
    if isinstance(tick, str):
        return {"error": tick}
    return {
        "processes": tick.processes,
        "median_ms": tick.spread.median * 1000,
        "p90_ms": tick.spread.p90 * 1000,
        "wall_median_ms": tick.wall.median * 1000,
        "wall_p90_ms": tick.wall.p90 * 1000,
        # % of one core when the tick runs once a second.
        "core_percent": tick.spread.median * 100,
        "collectors_cpu_median_ms": {k: v * 1000 for k, v in tick.collectors.items()},
    }
