"""The /proc parsers and the machine-wide collectors, against hand-written fixture trees.

Expected numbers are worked out by hand from tests/fixtures/proc (see its README); the
fake clock moves 2 s between reads while the collectors' nominal interval is 1 s, so a rate
divided by the interval instead of the real elapsed time would be off by a factor of two.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from perftop.collectors import procfs
from perftop.collectors.cpu import CpuCollector, core_usage
from perftop.collectors.disk import DiskCollector
from perftop.collectors.memory import MemoryCollector, memory_usage
from perftop.collectors.net import NetCollector
from perftop.collectors.samples import CoreUsage, MemorySample, Pressure

FIXTURES = Path(__file__).parent / "fixtures" / "proc"
KIB = 1024


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    """A writable copy of the t0 tree."""
    root = tmp_path / "proc"
    shutil.copytree(FIXTURES / "t0", root)
    return root


def advance(root: Path, clock: FakeClock, seconds: float = 2.0) -> None:
    """Lay t1 over the tree and move the clock on."""
    shutil.copytree(FIXTURES / "t1", root, dirs_exist_ok=True)
    clock.now += seconds


def text(*parts: str) -> str:
    return (FIXTURES.joinpath(*parts)).read_text()


def approx_usage(
    actual: CoreUsage, user: float, system: float, iowait: float, steal: float
) -> None:
    assert (actual.user, actual.system, actual.iowait, actual.steal) == pytest.approx(
        (user, system, iowait, steal)
    )


# parsers ----------------------------------------------------------------------------------


def test_parse_stat() -> None:
    stat = procfs.parse_stat(text("t0", "stat"))
    assert stat.total == procfs.CpuTimes(10000, 200, 3000, 80000, 500, 100, 200, 50)
    assert sorted(stat.cores) == [0, 1, 2, 3]
    assert stat.cores[1].steal == 13
    assert stat.ctxt == 5_000_000
    assert stat.intr == 1_000_000  # the total, not the first IRQ's count


def test_parse_stat_pads_old_kernels_without_steal() -> None:
    stat = procfs.parse_stat("cpu  1 2 3 4 5 6 7\ncpu0 1 2 3 4 5 6 7\nctxt 9\n")
    assert stat.total == procfs.CpuTimes(1, 2, 3, 4, 5, 6, 7, 0)
    assert stat.intr == 0


def test_parse_stat_without_cpu_line_is_an_error() -> None:
    with pytest.raises(ValueError):
        procfs.parse_stat("ctxt 1\n")


def test_parse_loadavg() -> None:
    assert procfs.parse_loadavg(text("t0", "loadavg")) == (1.25, 0.80, 0.55)


def test_parse_meminfo_converts_kb_and_keeps_counts() -> None:
    info = procfs.parse_meminfo(text("t0", "meminfo"))
    assert info["MemTotal"] == 16_384_000 * KIB
    assert info["Active(anon)"] == 4_000_000 * KIB
    assert info["HugePages_Total"] == 0
    assert info["Hugepagesize"] == 2048 * KIB


def test_parse_vmstat() -> None:
    counters = procfs.parse_vmstat(text("t0", "vmstat"))
    assert counters["pgmajfault"] == 12000
    assert counters["pgfault"] == 700_000_000


def test_parse_diskstats() -> None:
    disks = procfs.parse_diskstats(text("t0", "diskstats"))
    assert disks["sda"] == procfs.DiskCounters(
        reads=100000,
        sectors_read=8_000_000,
        read_ms=50000,
        writes=50000,
        sectors_written=4_000_000,
        write_ms=80000,
        in_flight=0,
        io_ms=60000,
    )
    assert list(disks)[:3] == ["loop0", "loop1", "ram0"]  # the kernel's order


def test_parse_diskstats_old_14_column_format() -> None:
    # Kernels before 4.18 have no discard columns, before 5.5 no flush columns.
    line = "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n"
    assert procfs.parse_diskstats(line)["sda"] == procfs.DiskCounters(1, 3, 4, 5, 7, 8, 9, 10)


@pytest.mark.parametrize(
    ("name", "partition"),
    [
        ("sda", False),
        ("sda1", True),
        ("sda2", True),
        ("nvme0n1", False),
        ("nvme0n1p1", True),
        ("nvme0n10", False),  # namespace 10, not partition 0 of nvme0n1
        ("mmcblk0", False),
        ("mmcblk0p1", True),
        ("loop1", False),
        ("loop10", False),  # loop device 10, not a partition of loop1
        ("dm-0", False),
        ("md127", False),
        ("sdp", False),
        ("sdp1", True),
        ("zram0", False),
    ],
)
def test_is_partition(name: str, partition: bool) -> None:
    devices = {
        "sda", "sda1", "sda2", "nvme0n1", "nvme0n1p1", "nvme0n10", "mmcblk0", "mmcblk0p1",
        "loop1", "loop10", "dm-0", "md127", "sdp", "sdp1", "zram0",
    }  # fmt: skip
    assert procfs.is_partition(name, devices) is partition


def test_parse_net_dev_handles_counts_touching_the_colon() -> None:
    nics = procfs.parse_net_dev(text("t0", "net", "dev"))
    assert list(nics) == ["lo", "eth0", "eth1", "docker0"]
    assert nics["eth0"] == procfs.NicCounters(
        rx_bytes=9_000_000_000,
        rx_packets=7_000_000,
        rx_errors=2,
        rx_drops=10,
        tx_bytes=3_000_000_000,
        tx_packets=4_000_000,
        tx_errors=1,
        tx_drops=5,
    )


def test_parse_pressure_with_and_without_full() -> None:
    assert procfs.parse_pressure(text("t0", "pressure", "io")) == Pressure(
        5.0, 2.5, 1.0, 4.0, 2.0, 0.8
    )
    old = procfs.parse_pressure(text("oldpsi", "pressure", "cpu"))
    assert old == Pressure(1.0, 0.5, 0.25)
    assert old.full_avg10 is None


def test_read_pressure_missing_or_broken_is_none(tmp_path: Path) -> None:
    assert procfs.read_pressure("cpu", str(tmp_path)) is None  # no pressure directory
    (tmp_path / "pressure").mkdir()
    (tmp_path / "pressure" / "io").write_text("garbage\n")
    assert procfs.read_pressure("io", str(tmp_path)) is None
    assert procfs.read_pressure("memory", str(FIXTURES / "t0")) == Pressure(
        0.4, 0.2, 0.05, 0.3, 0.1, 0.02
    )


# cpu --------------------------------------------------------------------------------------


def test_core_usage_splits_and_clamps() -> None:
    before = procfs.CpuTimes(100, 0, 100, 1000, 50, 0, 0, 0)
    # iowait went down (tickless per-core iowait can): counts as 0, not negative.
    now = procfs.CpuTimes(150, 10, 120, 1020, 40, 5, 5, 10)
    usage = core_usage(before, now)  # deltas 50 10 20 20 0 5 5 10 = 120
    approx_usage(usage, 60 / 1.2, 30 / 1.2, 0.0, 10 / 1.2)
    assert core_usage(None, now) == CoreUsage(0.0, 0.0, 0.0, 0.0)
    assert core_usage(now, now) == CoreUsage(0.0, 0.0, 0.0, 0.0)


def test_cpu_collector_with_a_core_going_offline(proc: Path) -> None:
    clock = FakeClock()
    collector = CpuCollector(proc=str(proc), clock=clock)
    advance(proc, clock)
    sample = collector.collect()

    assert sample.time == 102.0
    # cpu3 is offline in t1: it keeps its place (cpu numbers stay put) and reads as idle.
    assert len(sample.cores) == 4
    approx_usage(sample.cores[0], 60.0, 25.0, 5.0, 0.0)
    approx_usage(sample.cores[1], 10.0, 5.0, 0.0, 5.0)
    approx_usage(sample.cores[2], 0.0, 0.0, 0.0, 0.0)
    assert sample.cores[3] == CoreUsage(0.0, 0.0, 0.0, 0.0)
    # The aggregate line: 70 user, 25+2+3 system, 5 iowait, 5 steal out of 300 jiffies.
    approx_usage(sample.total, 70 / 3, 30 / 3, 5 / 3, 5 / 3)
    assert sample.total.busy == pytest.approx(105 / 3)
    # Over the real 2 s, not the nominal 1 s interval.
    assert sample.ctx_switches_per_s == pytest.approx(1250.0)
    assert sample.interrupts_per_s == pytest.approx(2000.0)
    assert sample.load == (2.5, 1.1, 0.61)
    assert sample.pressure == Pressure(12.5, 8.25, 3.1, 0.0, 0.0, 0.0)

    series = collector.series(sample)
    assert series["cpu.total"] == pytest.approx(35.0)
    assert series["cpu.core.0"] == pytest.approx(85.0)
    assert set(series) == {"cpu.total", "cpu.core.0", "cpu.core.1", "cpu.core.2", "cpu.core.3"}


def test_cpu_core_coming_back_online_starts_from_zero(proc: Path) -> None:
    clock = FakeClock()
    collector = CpuCollector(proc=str(proc), clock=clock)
    advance(proc, clock)
    collector.collect()  # cpu3 offline
    shutil.copy(FIXTURES / "t0" / "stat", proc / "stat")  # back, and counters went down
    clock.now += 1.0
    sample = collector.collect()
    assert len(sample.cores) == 4
    assert sample.cores[3] == CoreUsage(0.0, 0.0, 0.0, 0.0)  # no baseline yet
    assert all(0.0 <= c.busy <= 100.0 for c in sample.cores)
    assert sample.ctx_switches_per_s == 0.0  # ctxt went down: a reset, not a negative rate


def test_cpu_first_collect_uses_the_constructor_baseline(proc: Path) -> None:
    clock = FakeClock()
    collector = CpuCollector(proc=str(proc), clock=clock)
    advance(proc, clock)
    assert collector.collect().total.busy > 0.0


def test_cpu_without_psi(proc: Path) -> None:
    shutil.rmtree(proc / "pressure")
    assert CpuCollector(proc=str(proc)).collect().pressure is None


def test_collector_on_a_missing_proc_raises_on_collect_not_on_construction(
    tmp_path: Path,
) -> None:
    for kind in (CpuCollector, MemoryCollector, DiskCollector, NetCollector):
        collector = kind(proc=str(tmp_path / "nowhere"))
        with pytest.raises(FileNotFoundError):
            collector.collect()


# memory -----------------------------------------------------------------------------------


def test_memory_usage_follows_htop() -> None:
    info = procfs.parse_meminfo(text("t0", "meminfo"))
    total, used, buffers, cached, available, swap_total, swap_used = memory_usage(info)
    assert total == 16_384_000 * KIB
    assert cached == (6_000_000 + 300_000 - 400_000) * KIB  # Cached + SReclaimable - Shmem
    assert used == (16_384_000 - 2_048_000 - 512_000 - 5_900_000) * KIB
    assert buffers == 512_000 * KIB
    assert available == 9_000_000 * KIB
    assert (swap_total, swap_used) == (4_194_300 * KIB, 194_300 * KIB)


def test_memory_usage_odd_kernels() -> None:
    # No MemAvailable (before 3.14): available falls back to free. Caches bigger than
    # total - free (seen in some containers): used falls back to total - free.
    info = {"MemTotal": 1000, "MemFree": 400, "Buffers": 100, "Cached": 900}
    total, used, _, _, available, swap_total, swap_used = memory_usage(info)
    assert (total, used, available, swap_total, swap_used) == (1000, 600, 400, 0, 0)


def test_memory_collector(proc: Path) -> None:
    clock = FakeClock()
    collector = MemoryCollector(proc=str(proc), clock=clock)
    advance(proc, clock)
    sample = collector.collect()
    assert sample.major_faults_per_s == pytest.approx(250.0)  # 500 faults over 2 s
    assert sample.total == 16_384_000 * KIB
    assert sample.pressure == Pressure(0.4, 0.2, 0.05, 0.3, 0.1, 0.02)
    series = collector.series(sample)
    assert series["mem.used_percent"] == pytest.approx(100 * 7_924_000 / 16_384_000)
    assert series["swap.used_percent"] == pytest.approx(100 * 194_300 / 4_194_300)


def test_memory_series_without_swap() -> None:
    collector = MemoryCollector(proc="/nonexistent")
    sample = MemorySample(0.0, 100, 50, 0, 0, 50, 0, 0, 0.0, None)
    assert collector.series(sample) == {"mem.used_percent": 50.0, "swap.used_percent": 0.0}


# disk -------------------------------------------------------------------------------------


def test_disk_collector_devices_rates_and_hotplug(proc: Path) -> None:
    clock = FakeClock()
    collector = DiskCollector(proc=str(proc), clock=clock)
    advance(proc, clock)
    sample = collector.collect()
    by_name = {d.name: d for d in sample.devices}

    # Whole disks that ever did I/O; no partitions, no idle loop/ram/zram, sdb unplugged.
    assert list(by_name) == ["dm-0", "loop1", "mmcblk0", "nvme0n1", "sda", "sdc", "zram0"]

    sda = by_name["sda"]
    assert sda.read_bytes_per_s == pytest.approx(4096 * 512 / 2)
    assert sda.write_bytes_per_s == pytest.approx(2048 * 512 / 2)
    assert (sda.read_iops, sda.write_iops) == pytest.approx((100.0, 50.0))
    assert sda.util_percent == pytest.approx(50.0)  # 1000 ms busy in 2000 ms
    assert sda.await_ms == pytest.approx(800 / 300)  # (300 + 500) ms over 300 requests

    nvme = by_name["nvme0n1"]
    assert nvme.util_percent == 100.0  # 2100 ms of io_ticks in 2000 ms: clamped
    assert nvme.await_ms == pytest.approx(0.5)

    # sdc was plugged in between the reads: zeros for its first tick.
    sdc = by_name["sdc"]
    assert (sdc.read_bytes_per_s, sdc.read_iops, sdc.util_percent, sdc.await_ms) == (0, 0, 0, 0)

    # zram0 was hidden (never used) at t0 but its zero counters were kept, so its first
    # I/O already has a true rate.
    assert by_name["zram0"].write_bytes_per_s == pytest.approx(400 * 512 / 2)
    assert by_name["loop1"].read_bytes_per_s == 0.0
    assert sample.pressure == Pressure(5.0, 2.5, 1.0, 4.0, 2.0, 0.8)

    # Sums over real disks: dm-0 (on top of sda) and zram0 (RAM) do not count again.
    series = collector.series(sample)
    assert series["disk.read"] == pytest.approx(4096 * 512 / 2 + 64000 * 512 / 2)
    assert series["disk.write"] == pytest.approx(2048 * 512 / 2)


def test_disk_that_vanished_is_forgotten(proc: Path) -> None:
    clock = FakeClock()
    collector = DiskCollector(proc=str(proc), clock=clock)
    advance(proc, clock)
    collector.collect()  # sdb gone
    shutil.copy(FIXTURES / "t0" / "diskstats", proc / "diskstats")  # sdb back
    clock.now += 2.0
    by_name = {d.name: d for d in collector.collect().devices}
    # Forgotten, so no rate against its old counters; sda's counters went down: a reset.
    assert by_name["sdb"].read_bytes_per_s == 0.0
    assert by_name["sda"].read_bytes_per_s == 0.0
    assert "sdc" not in by_name


# net --------------------------------------------------------------------------------------


def test_net_collector_rates_reset_and_hotplug(proc: Path) -> None:
    clock = FakeClock()
    collector = NetCollector(proc=str(proc), clock=clock)
    advance(proc, clock)
    sample = collector.collect()
    names = [n.name for n in sample.nics]
    assert names == ["eth0", "eth1", "veth1a2b3c", "lo"]  # docker0 gone, lo last
    nics = {n.name: n for n in sample.nics}

    eth0 = nics["eth0"]
    assert eth0.rx_bytes_per_s == pytest.approx(10_000_000.0)
    assert eth0.tx_bytes_per_s == pytest.approx(1_000_000.0)
    assert (eth0.rx_packets_per_s, eth0.tx_packets_per_s) == pytest.approx((10_000.0, 1000.0))
    assert (eth0.rx_errors_per_s, eth0.rx_drops_per_s) == pytest.approx((1.0, 2.0))
    assert (eth0.rx_errors_total, eth0.rx_drops_total) == (4, 14)
    assert (eth0.tx_errors_total, eth0.tx_drops_total) == (1, 5)

    # eth1's counters were reset: zero, not a negative or absurd rate.
    eth1 = nics["eth1"]
    assert (eth1.rx_bytes_per_s, eth1.tx_bytes_per_s, eth1.rx_packets_per_s) == (0, 0, 0)
    # A new interface starts at zero, not at its lifetime total.
    assert nics["veth1a2b3c"].rx_bytes_per_s == 0.0
    assert nics["lo"].rx_bytes_per_s == pytest.approx(100_000.0)

    assert collector.series(sample) == pytest.approx(
        {"net.rx": 10_000_000.0, "net.tx": 1_000_000.0}
    )


def test_series_ignore_other_samples() -> None:
    for kind in (CpuCollector, MemoryCollector, DiskCollector, NetCollector):
        assert kind(proc="/nonexistent").series(object()) == {}
