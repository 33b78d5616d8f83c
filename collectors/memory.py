"""Memory: RAM and swap use, major page faults, memory pressure."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

from .procfs import PROC, read_meminfo, read_pressure, read_text, read_vmstat
from .rates import rate
from .samples import MemorySample


def memory_usage(
    info: Mapping[str, int],
) -> tuple[int, int, int, int, int, int, int]:
    """(total, used, buffers, cached, available, swap_total, swap_used) in bytes.

    The split follows htop 3 (LinuxMachine_scanMemoryInfo), which follows procps `free`:

    - cached = Cached + SReclaimable - Shmem. Reclaimable slab (dentries, inodes) is cache
      the kernel drops under pressure; Shmem (tmpfs, /dev/shm, SysV and POSIX shared
      memory such as PostgreSQL's shared_buffers) sits inside Cached but cannot be
      dropped, so it is taken out of the cache.
    - used = total - free - buffers - cached, which therefore includes Shmem. htop draws
      Shmem as its own "shared" segment next to "used"; the sample has no shared field, so
      here it stays inside used, where its cost (pinned RAM) belongs.
    - If that would go negative (odd containers/kernels), used = total - free, as htop does.
    - available = MemAvailable (kernels >= 3.14), else free, never above total.
    - swap used = SwapTotal - SwapFree, as `free` counts it: pages in the swap cache still
      hold a swap slot, so they count as used swap.
    """
    total = info.get("MemTotal", 0)
    free = info.get("MemFree", 0)
    buffers = info.get("Buffers", 0)
    cached = max(0, info.get("Cached", 0) + info.get("SReclaimable", 0) - info.get("Shmem", 0))
    used = total - free - buffers - cached
    if used < 0:
        used = max(0, total - free)
    available = min(info.get("MemAvailable", free), total)
    swap_total = info.get("SwapTotal", 0)
    swap_used = max(0, swap_total - info.get("SwapFree", 0))
    return total, used, buffers, cached, available, swap_total, swap_used


def _pgmajfault(proc: str) -> int:
    # One line of ~180: a substring search is several times cheaper than parsing them all,
    # and this runs every tick. Fall back to the full parse if the layout ever surprises us.
    text = read_text(os.path.join(proc, "vmstat"))
    at = text.find("\npgmajfault ")
    if at >= 0:
        end = text.find("\n", at + 1)
        return int(text[at + 12 : end if end >= 0 else None])
    return read_vmstat(proc).get("pgmajfault", 0)


class MemoryCollector:
    """Samples /proc/meminfo, /proc/vmstat and /proc/pressure/memory (source "memory").

    The constructor reads the major fault counter once, so the first `collect()` already
    reports a real rate over the time since construction.
    """

    inline = True  # small /proc reads: run on the loop (collectors/base.py)

    source = "memory"

    def __init__(
        self,
        interval: float = 1.0,
        proc: str = PROC,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.proc = proc
        self._clock = clock
        self._faults: int | None = None
        self._faults_time = 0.0
        try:
            self._faults = _pgmajfault(proc)
            self._faults_time = clock()
        except (OSError, ValueError):
            pass  # /proc/vmstat unreadable: collect() reports why.

    def collect(self) -> MemorySample:
        """Current memory use and the major fault rate since the previous call."""
        info = read_meminfo(self.proc)
        faults = _pgmajfault(self.proc)
        now = self._clock()
        faults_per_s = rate(self._faults, faults, now - self._faults_time)
        self._faults, self._faults_time = faults, now
        total, used, buffers, cached, available, swap_total, swap_used = memory_usage(info)
        return MemorySample(
            time=now,
            total=total,
            used=used,
            buffers=buffers,
            cached=cached,
            available=available,
            swap_total=swap_total,
            swap_used=swap_used,
            major_faults_per_s=faults_per_s,
            pressure=read_pressure("memory", self.proc),
        )

    def series(self, sample: object) -> dict[str, float]:
        """Series "mem.used_percent" and "swap.used_percent" (0 without swap)."""
        if not isinstance(sample, MemorySample):
            return {}
        return {
            "mem.used_percent": 100.0 * sample.used / sample.total if sample.total else 0.0,
            "swap.used_percent": (
                100.0 * sample.swap_used / sample.swap_total if sample.swap_total else 0.0
            ),
        }
