"""CPU: per-core and total usage, load, context switches and interrupts, CPU pressure."""

from __future__ import annotations

import time
from collections.abc import Callable

from .procfs import PROC, CpuTimes, StatCounters, read_loadavg, read_pressure, read_stat
from .rates import rate
from .samples import CoreUsage, CpuSample

IDLE = CoreUsage(0.0, 0.0, 0.0, 0.0)


def core_usage(before: CpuTimes | None, now: CpuTimes) -> CoreUsage:
    """Each kind of time as a % of everything that core did between two reads.

    A field that went down (per-core iowait can, on tickless kernels) counts as zero
    rather than as negative time; no baseline or no elapsed jiffies reads as idle.
    """
    if before is None:
        return IDLE
    d = [max(0, n - b) for n, b in zip(now, before, strict=True)]
    user, nice, system, _idle, iowait, irq, softirq, steal = d
    total = sum(d)
    if total <= 0:
        return IDLE
    scale = 100.0 / total
    return CoreUsage(
        user=(user + nice) * scale,
        system=(system + irq + softirq) * scale,
        iowait=iowait * scale,
        steal=steal * scale,
    )


class CpuCollector:
    """Samples /proc/stat, /proc/loadavg and /proc/pressure/cpu (source "cpu").

    The constructor takes a baseline read, so the very first `collect()` already reports
    real usage over the time since construction instead of a tick of zeros. `cores` is
    indexed by cpu number; a core that is offline reads as idle (its /proc/stat line is
    gone), and one that comes back online reads as idle for one tick while it gets a new
    baseline. The tuple never shrinks below the highest cpu number seen, so the cpu panes'
    columns do not jump when the last core goes offline.
    """

    inline = True  # small /proc reads: run on the loop (collectors/base.py)

    source = "cpu"

    def __init__(
        self,
        interval: float = 1.0,
        proc: str = PROC,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.proc = proc
        self._clock = clock
        self._before: StatCounters | None = None
        self._before_time = 0.0
        self._ncores = 0
        try:
            self._remember(read_stat(proc), clock())
        except (OSError, ValueError):
            # collect() will raise the same error and the runner will report it.
            pass

    def _remember(self, stat: StatCounters, now: float) -> None:
        self._before = stat
        self._before_time = now
        if stat.cores:
            self._ncores = max(self._ncores, max(stat.cores) + 1)

    def collect(self) -> CpuSample:
        """Usage since the previous call (or since construction, for the first)."""
        stat = read_stat(self.proc)
        now = self._clock()
        before, before_time = self._before, self._before_time
        self._remember(stat, now)
        if before is None:
            total = IDLE
            cores = (IDLE,) * self._ncores
            ctx_per_s = intr_per_s = 0.0
        else:
            elapsed = now - before_time
            total = core_usage(before.total, stat.total)
            cores = tuple(
                core_usage(before.cores.get(n), stat.cores[n]) if n in stat.cores else IDLE
                for n in range(self._ncores)
            )
            ctx_per_s = rate(before.ctxt, stat.ctxt, elapsed)
            intr_per_s = rate(before.intr, stat.intr, elapsed)
        return CpuSample(
            time=now,
            total=total,
            cores=cores,
            load=read_loadavg(self.proc),
            ctx_switches_per_s=ctx_per_s,
            interrupts_per_s=intr_per_s,
            pressure=read_pressure("cpu", self.proc),
        )

    def series(self, sample: object) -> dict[str, float]:
        """Series "cpu.total" and "cpu.core.N": busy % (everything but idle and iowait)."""
        if not isinstance(sample, CpuSample):
            return {}
        points = {"cpu.total": sample.total.busy}
        for n, core in enumerate(sample.cores):
            points[f"cpu.core.{n}"] = core.busy
        return points
