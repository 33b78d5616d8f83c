"""`python -m benchmarks.launch`: what `perftop run` costs the program it launches.

A known CPU-bound target counts how many units of work it finishes in N seconds, once run
plainly (`python target.py`) and once under perftop's agent (pyinstrument inside, windows
streamed to a collector that perftop ticks every 0.5 s, as the TUI does). Runs alternate
plain/agent so drift on a noisy machine hits both; the figure is the median of the repeats.
Two workloads, because pyinstrument's cost grows with the rate of Python function calls:

- `calls`: a recursive fib(18) per unit, about 8,000 calls each (the worst case);
- `loop`: a 20,000-step arithmetic loop per unit, one call each (numeric code).

    python -m benchmarks.launch [--seconds 3] [--repeats 5] [--python PATH ...] [--json PATH]

Every interpreter given needs pyinstrument 5.0-5.1, its own or perftop's lent to it (same
Python version); by default only perftop's own.
Prints one Markdown table on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path

from perftop.collectors.base import tick
from perftop.collectors.stacks.launch import LaunchCollector, start
from perftop.collectors.stacks.launch_plan import check_pyinstrument
from perftop.collectors.stacks.model import StackSample
from perftop.store import Store

TARGET = textwrap.dedent(
    """
    import json, sys, time

    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    def loop():
        total = 0
        for i in range(20_000):
            total += i * i % 7
        return total

    def main(workload, seconds):
        unit = (lambda: fib(18)) if workload == "calls" else loop
        unit()
        done = 0
        start = time.perf_counter()
        end = start + seconds
        while time.perf_counter() < end:
            unit()
            done += 1
        elapsed = time.perf_counter() - start
        print(json.dumps({"rate": done / elapsed}), flush=True)

    main(sys.argv[1], float(sys.argv[2]))
    """
)
WORKLOADS = ("calls", "loop")


@dataclass(frozen=True, slots=True)
class Result:
    """One interpreter, one workload: units/s plain and under the agent, medians."""

    python: str
    version: str
    pyinstrument: str
    workload: str
    plain: float
    agent: float
    slowdown_percent: float  # 100 × (1 − agent / plain)
    windows_per_second: float  # windows the collector received per second of run
    repeats: int


def _rate(text: str) -> float:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return float(json.loads(line)["rate"])
    raise RuntimeError(f"the target printed no result: {text[-500:]!r}")


def plain_run(python: str, target: Path, workload: str, seconds: float) -> float:
    done = subprocess.run(
        [python, str(target), workload, str(seconds)],
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return _rate(done.stdout)


async def agent_run(
    python: str, target: Path, workload: str, seconds: float, log: Path
) -> tuple[float, float]:
    """Units/s under the agent, and windows received per second."""
    launched = start([python, str(target), workload, str(seconds)], None, log, check=False)
    collector, store = LaunchCollector(launched), Store()
    try:
        while True:
            await tick(collector, store)
            sample = store.latest("stacks", StackSample)
            if sample is not None and sample.ended:
                break
            await asyncio.sleep(collector.interval)
        output = await asyncio.to_thread(log.read_text)
        if launched.returncode != 0:
            raise RuntimeError(f"the target failed under the agent: {output[-500:]}")
        return _rate(output), len(sample.windows) / seconds
    finally:
        launched.close()


def measure(python: str, workload: str, seconds: float, repeats: int, work: Path) -> Result:
    target = work / "target.py"
    target.write_text(TARGET)
    plain: list[float] = []
    agent: list[float] = []
    windows: list[float] = []
    for n in range(repeats):
        print(f"  {python} {workload}: repeat {n + 1}/{repeats}", file=sys.stderr)
        plain.append(plain_run(python, target, workload, seconds))
        rate, per_second = asyncio.run(
            agent_run(python, target, workload, seconds, work / "target.log")
        )
        agent.append(rate)
        windows.append(per_second)
    version = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    plain_median, agent_median = statistics.median(plain), statistics.median(agent)
    return Result(
        python=python,
        version=version,
        pyinstrument=check_pyinstrument(python)[0],
        workload=workload,
        plain=plain_median,
        agent=agent_median,
        slowdown_percent=100.0 * (1.0 - agent_median / plain_median),
        windows_per_second=statistics.median(windows),
        repeats=repeats,
    )


def table(results: list[Result]) -> str:
    lines = [
        "| Python | pyinstrument | workload | plain units/s | under perftop run | slowdown "
        "| windows/s |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.version} | {r.pyinstrument} | {r.workload} | {r.plain:,.1f} | {r.agent:,.1f} "
            f"| {r.slowdown_percent:.1f} % | {r.windows_per_second:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.launch", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="per run (default 3)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each kind (default 5)")
    parser.add_argument(
        "--python", action="append", metavar="PATH", help="an interpreter (repeatable)"
    )
    parser.add_argument("--workload", choices=WORKLOADS, action="append")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    options = parser.parse_args(argv)
    pythons = options.python or [sys.executable]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="perftop-bench-launch-") as work:
        for python in pythons:
            for workload in options.workload or WORKLOADS:
                results.append(
                    measure(python, workload, options.seconds, options.repeats, Path(work))
                )
    print(table(results))
    if options.json:
        options.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
