"""The machine-wide collectors against this machine's real /proc.

Where a number can be checked against psutil, the check uses a window: psutil reads its
counters strictly between the collector's two reads, so the collector's increase over its
(wider) window must be at least psutil's. Each test also makes the machine do the thing it
measures (burn CPU, write and fsync a file, push bytes through loopback), so a collector
that reported zeros would fail.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import psutil
import pytest

from perftop.collectors.cpu import CpuCollector
from perftop.collectors.disk import DiskCollector
from perftop.collectors.memory import MemoryCollector
from perftop.collectors.net import NetCollector
from perftop.collectors.samples import CoreUsage, Pressure

pytestmark = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs a Linux /proc")

MIB = 1024 * 1024


def increase(rate: float, elapsed: float) -> float:
    """What a rate means over the window, with room for float rounding."""
    return rate * elapsed * (1 + 1e-9) + 1e-6


def check_pressure(pressure: Pressure | None, resource: str) -> None:
    if not Path(f"/proc/pressure/{resource}").exists():
        assert pressure is None
        return
    assert pressure is not None
    for value in (pressure.some_avg10, pressure.some_avg60, pressure.some_avg300):
        assert 0.0 <= value <= 100.0


def check_usage(usage: CoreUsage) -> None:
    parts = (usage.user, usage.system, usage.iowait, usage.steal)
    assert all(0.0 <= p <= 100.0 for p in parts)
    assert sum(parts) <= 100.0 + 1e-6
    assert 0.0 <= usage.busy <= 100.0 + 1e-6


def burn(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_cpu_collector_sees_our_own_cpu_time() -> None:
    collector = CpuCollector()
    first = collector.collect()
    stats_before = psutil.cpu_stats()
    cpu_before = time.process_time()
    burn(0.5)
    cpu_used = time.process_time() - cpu_before
    stats_after = psutil.cpu_stats()
    second = collector.collect()
    elapsed = second.time - first.time

    ncpu = os.cpu_count() or 1
    assert len(first.cores) == len(second.cores) == ncpu
    for usage in (second.total, *second.cores):
        check_usage(usage)
    # The machine's busy core-seconds include the half second this process just burnt.
    # /proc/stat counts in 10 ms jiffies per core; allow two of them per core.
    busy_core_seconds = second.total.busy / 100.0 * ncpu * elapsed
    assert busy_core_seconds >= cpu_used - 0.02 * ncpu
    assert max(core.busy for core in second.cores) > 0.0

    assert increase(second.ctx_switches_per_s, elapsed) >= (
        stats_after.ctx_switches - stats_before.ctx_switches
    )
    assert increase(second.interrupts_per_s, elapsed) >= (
        stats_after.interrupts - stats_before.interrupts
    )
    assert second.ctx_switches_per_s > 0.0
    assert second.load == pytest.approx(os.getloadavg(), abs=0.5)
    check_pressure(second.pressure, "cpu")

    series = collector.series(second)
    assert series["cpu.total"] == second.total.busy
    assert [series[f"cpu.core.{n}"] for n in range(ncpu)] == [c.busy for c in second.cores]


def test_memory_collector_matches_psutil() -> None:
    collector = MemoryCollector()
    collector.collect()
    sample = collector.collect()
    vm = psutil.virtual_memory()
    swap = psutil.swap_memory()

    assert sample.total == vm.total
    assert sample.swap_total == swap.total
    assert 0 <= sample.swap_used <= sample.swap_total
    assert 0 < sample.used < sample.total
    assert 0 < sample.available <= sample.total
    assert sample.used + sample.buffers + sample.cached <= sample.total
    # psutil's cached is Cached + SReclaimable; ours also takes Shmem out (as htop does).
    # Memory moves a little between the two reads, hence the tolerance.
    tolerance = 64 * MIB
    assert sample.buffers == pytest.approx(vm.buffers, abs=tolerance)
    assert sample.cached == pytest.approx(vm.cached - vm.shared, abs=tolerance)
    assert sample.available == pytest.approx(vm.available, abs=tolerance)
    assert sample.used == pytest.approx(
        vm.total - vm.free - vm.buffers - (vm.cached - vm.shared), abs=tolerance
    )
    assert sample.major_faults_per_s >= 0.0
    check_pressure(sample.pressure, "memory")

    series = collector.series(sample)
    assert series["mem.used_percent"] == pytest.approx(100.0 * sample.used / sample.total)
    assert 0.0 <= series["swap.used_percent"] <= 100.0


def test_disk_collector_counts_at_least_what_psutil_saw(tmp_path: Path) -> None:
    collector = DiskCollector()
    first = collector.collect()
    before = psutil.disk_io_counters(perdisk=True)
    with open(tmp_path / "blob", "wb") as f:
        for _ in range(8):
            f.write(os.urandom(MIB))
        f.flush()
        os.fsync(f.fileno())
    after = psutil.disk_io_counters(perdisk=True)
    second = collector.collect()
    elapsed = second.time - first.time

    names = [d.name for d in second.devices]
    assert names == sorted(names)
    assert set(names) <= set(after)
    for device in second.devices:
        # Whole disks only, by the kernel's own account of what is a partition.
        assert not Path(f"/sys/class/block/{device.name}/partition").exists()
        assert 0.0 <= device.util_percent <= 100.0
        assert device.await_ms >= 0.0
        if device.name in before:
            b, a = before[device.name], after[device.name]
            assert increase(device.write_bytes_per_s, elapsed) >= a.write_bytes - b.write_bytes
            assert increase(device.read_bytes_per_s, elapsed) >= a.read_bytes - b.read_bytes
            assert increase(device.write_iops, elapsed) >= a.write_count - b.write_count
            assert increase(device.read_iops, elapsed) >= a.read_count - b.read_count
    # Every whole disk that has done I/O is shown (the filter does not hide real disks).
    for name, counters in after.items():
        whole = Path(f"/sys/block/{name}").exists()
        if whole and counters.read_count + counters.write_count > 0:
            assert name in names
    check_pressure(second.pressure, "io")
    series = collector.series(second)
    # The machine-wide series are the whole disks' sums, and hold the 8 MiB just synced
    # where the test's folder is on a block device (a tmpfs reaches no disk at all).
    assert series["disk.write"] == pytest.approx(sum(d.write_bytes_per_s for d in second.devices))
    assert series["disk.read"] == pytest.approx(sum(d.read_bytes_per_s for d in second.devices))
    if os.major(os.stat(tmp_path).st_dev) != 0:
        assert increase(series["disk.write"], elapsed) >= 8 * MIB


def test_net_collector_sees_loopback_traffic() -> None:
    payload = 4 * MIB
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received = bytearray()

    def drain() -> None:
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                received.extend(chunk)

    collector = NetCollector()
    first = collector.collect()
    before = psutil.net_io_counters(pernic=True)
    reader = threading.Thread(target=drain)
    reader.start()
    with socket.create_connection(server.getsockname()) as client:
        client.sendall(b"x" * payload)
    reader.join(timeout=10)
    server.close()
    after = psutil.net_io_counters(pernic=True)
    second = collector.collect()
    elapsed = second.time - first.time
    assert len(received) == payload

    names = [n.name for n in second.nics]
    assert set(names) == set(after)
    assert names[-1] == "lo"
    nics = {n.name: n for n in second.nics}
    assert increase(nics["lo"].rx_bytes_per_s, elapsed) >= payload
    for name, nic in nics.items():
        if name not in before:
            continue
        b, a = before[name], after[name]
        assert increase(nic.rx_bytes_per_s, elapsed) >= a.bytes_recv - b.bytes_recv
        assert increase(nic.tx_bytes_per_s, elapsed) >= a.bytes_sent - b.bytes_sent
        assert increase(nic.rx_packets_per_s, elapsed) >= a.packets_recv - b.packets_recv
        assert nic.rx_errors_total >= a.errin and nic.rx_drops_total >= a.dropin
    series = collector.series(second)
    # Loopback is left out of the machine's network totals.
    assert series["net.rx"] == pytest.approx(
        sum(n.rx_bytes_per_s for n in second.nics if n.name != "lo")
    )
