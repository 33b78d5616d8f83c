"""Disk I/O: per-device throughput, IOPS, utilisation and latency, I/O pressure."""

from __future__ import annotations

import time
from collections.abc import Callable

from .procfs import PROC, SECTOR_BYTES, DiskCounters, is_partition, read_diskstats, read_pressure
from .rates import CounterDeltas
from .samples import DiskRate, DiskSample

# Devices layered on others: their I/O is also counted on the disks underneath (LVM and
# dm-crypt on dm-*, software RAID on md*, files on loop*) or never reaches a disk at all
# (ram*, zram*). They are shown, but left out of the machine-wide "disk.read/write" sums
# so that one write through LVM is not counted twice.
STACKED_PREFIXES = ("dm-", "md", "loop", "ram", "zram", "drbd")


def is_stacked(name: str) -> bool:
    """Whether `name` is a virtual device whose I/O is counted elsewhere (or nowhere)."""
    return name.startswith(STACKED_PREFIXES)


def _counters(c: DiskCounters) -> tuple[int, int, int, int, int, int]:
    # in_flight is a gauge, not a counter, so it stays out of the deltas.
    return (
        c.sectors_read,
        c.sectors_written,
        c.reads,
        c.writes,
        c.read_ms + c.write_ms,
        c.io_ms,
    )


def _ever_used(c: DiskCounters) -> bool:
    return c.reads > 0 or c.writes > 0 or c.in_flight > 0


class DiskCollector:
    """Samples /proc/diskstats and /proc/pressure/io (source "disk").

    Which devices: whole disks only, and only those that have ever done I/O. Partitions are
    recognised by the kernel's naming rule (`procfs.is_partition`), so sda, vda, nvme0n1,
    mmcblk0, dm-*, md* are shown and sda1, nvme0n1p2 are not. The "ever did I/O" rule hides
    the unused loop*, ram*, zram* and empty drives a host lists by the dozen, without a list
    of names; such a device appears on its first I/O. Counters are kept for every whole
    disk, hidden ones too, so a device that appears this way has a true rate at once.

    A device that appears between two reads (hot-plug, a new LVM volume) reads zero for
    its first tick; one that vanished is forgotten. The constructor takes a baseline read,
    so the first `collect()` already has real rates.
    """

    inline = True  # small /proc reads: run on the loop (collectors/base.py)

    source = "disk"

    def __init__(
        self,
        interval: float = 1.0,
        proc: str = PROC,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.proc = proc
        self._clock = clock
        self._deltas: CounterDeltas[str] = CounterDeltas()
        try:
            self._update(read_diskstats(proc), clock())
        except (OSError, ValueError):
            pass  # collect() will raise the same error and the runner reports it.

    def _update(
        self, stats: dict[str, DiskCounters], now: float
    ) -> tuple[dict[str, DiskCounters], dict[str, tuple[float, ...]]]:
        disks = {name: c for name, c in stats.items() if not is_partition(name, stats)}
        rates = self._deltas.update(now, {name: _counters(c) for name, c in disks.items()})
        return disks, rates

    def collect(self) -> DiskSample:
        """Per-device rates since the previous call (or since construction)."""
        stats = read_diskstats(self.proc)
        now = self._clock()
        disks, rates = self._update(stats, now)
        devices = []
        for name in sorted(disks):
            if not _ever_used(disks[name]):
                continue
            rd_sectors, wr_sectors, rd_ios, wr_ios, busy_ms, io_ms = rates[name]
            ios = rd_ios + wr_ios
            devices.append(
                DiskRate(
                    name=name,
                    read_bytes_per_s=rd_sectors * SECTOR_BYTES,
                    write_bytes_per_s=wr_sectors * SECTOR_BYTES,
                    read_iops=rd_ios,
                    write_iops=wr_ios,
                    # io_ms per second of wall time, as a share of 1000 ms. Clamped because
                    # the kernel updates io_ticks lazily and can hand out slightly more than
                    # the interval.
                    util_percent=min(100.0, io_ms / 10.0),
                    # Both rates are per second, so their ratio is ms per completed request.
                    await_ms=busy_ms / ios if ios > 0 else 0.0,
                )
            )
        return DiskSample(time=now, devices=tuple(devices), pressure=read_pressure("io", self.proc))

    def series(self, sample: object) -> dict[str, float]:
        """Series "disk.read" and "disk.write": bytes/s summed over real (not stacked) devices."""
        if not isinstance(sample, DiskSample):
            return {}
        real = [d for d in sample.devices if not is_stacked(d.name)]
        return {
            "disk.read": sum(d.read_bytes_per_s for d in real),
            "disk.write": sum(d.write_bytes_per_s for d in real),
        }
