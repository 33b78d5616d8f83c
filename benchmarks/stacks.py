"""py-spy attach: what it costs the target, how much of the time it sees, and what it costs us.

`python -m benchmarks.stacks [--seconds 6] [--repeats 3] [--rate 100]`

For each repeat: a CPU-bound target with a 30-deep stack reports its own throughput (loop
iterations per second, written to a pipe every 0.5 s). It runs alone for `seconds`, then
with perftop's sampler attached (nonblocking, then blocking) for `seconds` each. Printed, as
medians over the repeats:

- slowdown: 1 - throughput attached / throughput alone (the alone phases bracket each
  attached phase, so drift of a noisy machine cancels out);
- coverage: sampled seconds / wall seconds while attached (the gaps between windows);
- achieved rate vs requested (ticks per sampled second);
- perftop's CPU while attached: this process plus its py-spy children, % of one core.

Targets (issue 3): nonblocking slowdown <= 5 %, coverage >= 95 %, achieved rate within 5 %.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from perftop.actions.audit import AuditLog
from perftop.actions.gate import Gate
from perftop.actions.process import ProcessTarget, read_start_time
from perftop.actions.stacks import AttachPySpy
from perftop.collectors.base import tick
from perftop.collectors.stacks.model import StackSample
from perftop.collectors.stacks.profile import merge
from perftop.store import Store

TARGET = textwrap.dedent(
    """
    import sys, time

    def deep(n, k):
        if n:
            return deep(n - 1, k)
        x = 0
        for i in range(k):
            x += i * i
        return x

    count, last = 0, time.monotonic()
    while True:
        deep(30, 200)
        count += 1
        now = time.monotonic()
        if now - last >= 0.5:
            print(f"{now} {count / (now - last)}", flush=True)
            count, last = 0, now
    """
)


class Target:
    def __init__(self, directory: Path) -> None:
        script = directory / "target.py"
        script.write_text(TARGET)
        self.process = subprocess.Popen(
            [sys.executable, str(script)], stdout=subprocess.PIPE, text=True
        )
        self.readings: list[tuple[float, float]] = []

    async def read(self) -> None:
        assert self.process.stdout is not None
        while True:
            line = await asyncio.to_thread(self.process.stdout.readline)
            if not line:
                return
            at, rate = line.split()
            self.readings.append((float(at), float(rate)))

    def throughput(self, start: float, end: float) -> float:
        values = [r for at, r in self.readings if start + 0.5 < at <= end]
        return statistics.median(values) if values else float("nan")

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def _cpu_seconds() -> float:
    own = os.times()
    return own.user + own.system + own.children_user + own.children_system


async def phase_attached(
    target: Target, seconds: float, rate: int, blocking: bool, audit: Path
) -> dict[str, float]:
    async def yes(action: object) -> bool:
        return True

    pid = target.process.pid
    action = AttachPySpy(
        ProcessTarget(pid, read_start_time(pid), "python", "target.py", "bench"),
        rate=rate,
        blocking=blocking,
    )
    outcome = await Gate(AuditLog(audit), read_only=False, ask=yes).request(action)
    if not outcome.ok:
        raise SystemExit(f"attach failed: {outcome.error}")
    sampler = action.sampler()
    store = Store()
    cpu0, wall0 = _cpu_seconds(), time.monotonic()
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if not await tick(sampler, store):
            raise SystemExit(store.status("stacks").message)
    end = time.monotonic()
    await sampler.close()
    cpu = (_cpu_seconds() - cpu0) / (time.monotonic() - wall0)
    sample = store.latest("stacks", StackSample)
    assert sample is not None
    profile = merge(sample.windows)
    return {
        "throughput": target.throughput(start, end),
        "coverage": profile.coverage,
        "achieved": profile.achieved_rate,
        "cpu": 100.0 * cpu,
    }


async def one_repeat(seconds: float, rate: int, directory: Path) -> dict[str, float]:
    target = Target(directory)
    reader = asyncio.get_running_loop().create_task(target.read())
    results: dict[str, float] = {}
    try:
        await asyncio.sleep(1.0)  # warm up
        alone: list[float] = []
        for blocking in (False, True):
            t0 = time.monotonic()
            await asyncio.sleep(seconds)
            before = target.throughput(t0, time.monotonic())
            attached = await phase_attached(
                target, seconds, rate, blocking, directory / "audit.jsonl"
            )
            t1 = time.monotonic()
            await asyncio.sleep(seconds)
            after = target.throughput(t1, time.monotonic())
            base = (before + after) / 2
            alone.append(base)
            name = "blocking" if blocking else "nonblocking"
            results[f"{name}_slowdown"] = 100.0 * (1 - attached["throughput"] / base)
            results[f"{name}_coverage"] = 100.0 * attached["coverage"]
            results[f"{name}_achieved"] = attached["achieved"]
            results[f"{name}_cpu"] = attached["cpu"]
        results["alone_throughput"] = statistics.median(alone)
    finally:
        target.close()
        reader.cancel()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stacks", description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=int, default=100)
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            result = asyncio.run(one_repeat(args.seconds, args.rate, Path(tmp)))
            runs.append(result)
            print(f"repeat {i + 1}: " + ", ".join(f"{k}={v:.2f}" for k, v in result.items()))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"\nmedians over {args.repeats} repeats, {args.seconds:g} s phases, {args.rate} Hz:")
    for mode in ("nonblocking", "blocking"):
        print(
            f"  {mode:12} slowdown {med[f'{mode}_slowdown']:6.1f} %   "
            f"coverage {med[f'{mode}_coverage']:5.1f} %   "
            f"achieved {med[f'{mode}_achieved']:6.1f} Hz of {args.rate}   "
            f"perftop+py-spy CPU {med[f'{mode}_cpu']:5.1f} % of a core"
        )
    ok = (
        med["nonblocking_slowdown"] <= 5
        and med["nonblocking_coverage"] >= 95
        and abs(med["nonblocking_achieved"] - args.rate) <= 0.05 * args.rate
    )
    print(
        "targets (nonblocking slowdown <= 5 %, coverage >= 95 %, rate within 5 %):",
        "met" if ok else "NOT met",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
