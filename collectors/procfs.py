"""Small parsers and readers for the files under /proc: the machine-wide ones, and one
process's stat, cmdline, io and status.

Each file has a pure `parse_*` function taking its text (what the tests feed with fixtures)
and a `read_*` function taking the proc root (default "/proc"), so a collector can be pointed
at a fixture directory. Raw counters come back as NamedTuples: they are immutable, typed, and
already the `Sequence[float]` that `CounterDeltas` wants, with no copying per tick.

Units are converted here once: /proc/meminfo's kB become bytes, diskstats sectors stay
sectors (the collector multiplies by 512, the kernel's fixed sector unit in this file).
"""

from __future__ import annotations

import os
from collections.abc import Container
from typing import NamedTuple

from .samples import Pressure

PROC = "/proc"

# /proc/diskstats counts in 512-byte units whatever the device's real sector size.
SECTOR_BYTES = 512


def read_text(path: str) -> str:
    """The whole text of a (small) procfs file."""
    with open(path, encoding="ascii", errors="replace") as f:
        return f.read()


# /proc/stat -------------------------------------------------------------------------------


class CpuTimes(NamedTuple):
    """Cumulative jiffies of one core (or all), in /proc/stat's column order.

    guest and guest_nice are left out on purpose: the kernel already counts them inside
    user and nice, so adding them would count that time twice.
    """

    user: int
    nice: int
    system: int
    idle: int
    iowait: int
    irq: int
    softirq: int
    steal: int


class StatCounters(NamedTuple):
    """What the CPU collector needs from /proc/stat."""

    total: CpuTimes
    cores: dict[int, CpuTimes]  # keyed by cpu number; offline cores have no line
    ctxt: int
    intr: int


def _cpu_times(fields: list[str]) -> CpuTimes:
    # Old kernels (< 2.6.11) lack steal (and < 2.6.0 iowait/irq/softirq): pad with zeros.
    values = [int(v) for v in fields[:8]]
    values.extend([0] * (8 - len(values)))
    return CpuTimes(*values)


def parse_stat(text: str) -> StatCounters:
    """Parse /proc/stat: total and per-core jiffies, context switches, interrupts."""
    total: CpuTimes | None = None
    cores: dict[int, CpuTimes] = {}
    ctxt = intr = 0
    for line in text.splitlines():
        if line.startswith("cpu"):
            fields = line.split()
            name = fields[0]
            if name == "cpu":
                total = _cpu_times(fields[1:])
            else:
                cores[int(name[3:])] = _cpu_times(fields[1:])
        elif line.startswith("intr "):
            # The line goes on with one count per IRQ (thousands of numbers on big
            # machines); only the first, the total, is wanted, so do not split the rest.
            intr = int(line.split(maxsplit=2)[1])
        elif line.startswith("ctxt "):
            ctxt = int(line.split()[1])
    if total is None:
        raise ValueError("/proc/stat has no aggregate 'cpu' line")
    return StatCounters(total, cores, ctxt, intr)


def read_stat(proc: str = PROC) -> StatCounters:
    """Read and parse `<proc>/stat`."""
    return parse_stat(read_text(os.path.join(proc, "stat")))


# /proc/loadavg ----------------------------------------------------------------------------


def parse_loadavg(text: str) -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    one, five, fifteen = text.split()[:3]
    return float(one), float(five), float(fifteen)


def read_loadavg(proc: str = PROC) -> tuple[float, float, float]:
    """Read and parse `<proc>/loadavg`."""
    return parse_loadavg(read_text(os.path.join(proc, "loadavg")))


# /proc/meminfo ----------------------------------------------------------------------------


def parse_meminfo(text: str) -> dict[str, int]:
    """Every /proc/meminfo field; "kB" values converted to bytes, bare counts kept as is."""
    info: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        if not parts:
            continue
        value = int(parts[0])
        if len(parts) > 1 and parts[1] == "kB":
            value *= 1024
        info[key] = value
    return info


def read_meminfo(proc: str = PROC) -> dict[str, int]:
    """Read and parse `<proc>/meminfo`."""
    return parse_meminfo(read_text(os.path.join(proc, "meminfo")))


# /proc/vmstat -----------------------------------------------------------------------------


def parse_vmstat(text: str) -> dict[str, int]:
    """Every /proc/vmstat counter by name."""
    counters: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if value:
            counters[name] = int(value)
    return counters


def read_vmstat(proc: str = PROC) -> dict[str, int]:
    """Read and parse `<proc>/vmstat`."""
    return parse_vmstat(read_text(os.path.join(proc, "vmstat")))


# /proc/diskstats --------------------------------------------------------------------------


class DiskCounters(NamedTuple):
    """One /proc/diskstats line's counters (the discard and flush columns are not used)."""

    reads: int  # completed
    sectors_read: int
    read_ms: int
    writes: int  # completed
    sectors_written: int
    write_ms: int
    in_flight: int  # a gauge, not a counter
    io_ms: int  # time with I/O in flight ("io_ticks")


def parse_diskstats(text: str) -> dict[str, DiskCounters]:
    """Every device of /proc/diskstats, partitions included, in the kernel's order."""
    devices: dict[str, DiskCounters] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 14:
            continue
        # major minor name | reads merged sectors ms | writes merged sectors ms | inflight io_ms
        f = fields
        devices[f[2]] = DiskCounters(
            reads=int(f[3]),
            sectors_read=int(f[5]),
            read_ms=int(f[6]),
            writes=int(f[7]),
            sectors_written=int(f[9]),
            write_ms=int(f[10]),
            in_flight=int(f[11]),
            io_ms=int(f[12]),
        )
    return devices


def read_diskstats(proc: str = PROC) -> dict[str, DiskCounters]:
    """Read and parse `<proc>/diskstats`."""
    return parse_diskstats(read_text(os.path.join(proc, "diskstats")))


def is_partition(name: str, devices: Container[str]) -> bool:
    """Whether `name` is a partition of another device in `devices`.

    The kernel names partitions after their disk: the disk name plus the number, with a "p"
    in between when the disk name already ends in a digit (sda -> sda1, nvme0n1 ->
    nvme0n1p1, mmcblk0 -> mmcblk0p1, loop0 -> loop0p1). Going by that rule instead of "strip
    trailing digits" keeps nvme0n1, md0, dm-0 and loop10 whole, and needs no /sys.
    """
    stem = name.rstrip("0123456789")
    if stem == name:
        return False
    if stem.endswith("p") and stem[:-1] in devices and stem[-2:-1].isdigit():
        return True
    return stem in devices and not stem[-1:].isdigit()


# /proc/net/dev ----------------------------------------------------------------------------


class NicCounters(NamedTuple):
    """The /proc/net/dev counters the network collector uses."""

    rx_bytes: int
    rx_packets: int
    rx_errors: int
    rx_drops: int
    tx_bytes: int
    tx_packets: int
    tx_errors: int
    tx_drops: int


def parse_net_dev(text: str) -> dict[str, NicCounters]:
    """Every interface of /proc/net/dev (after its two header lines)."""
    nics: dict[str, NicCounters] = {}
    for line in text.splitlines()[2:]:
        # A large rx byte count can touch the colon ("eth0:1234567890"), so split on it
        # rather than on whitespace; interface names cannot contain ':'.
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        f = rest.split()
        if len(f) < 16:
            continue
        nics[name.strip()] = NicCounters(
            rx_bytes=int(f[0]),
            rx_packets=int(f[1]),
            rx_errors=int(f[2]),
            rx_drops=int(f[3]),
            tx_bytes=int(f[8]),
            tx_packets=int(f[9]),
            tx_errors=int(f[10]),
            tx_drops=int(f[11]),
        )
    return nics


def read_net_dev(proc: str = PROC) -> dict[str, NicCounters]:
    """Read and parse `<proc>/net/dev`."""
    return parse_net_dev(read_text(os.path.join(proc, "net", "dev")))


# /proc/pressure/* -------------------------------------------------------------------------


def _averages(line: str) -> tuple[float, float, float]:
    values: dict[str, float] = {}
    for item in line.split()[1:]:
        key, _, value = item.partition("=")
        values[key] = float(value)
    return values["avg10"], values["avg60"], values["avg300"]


def parse_pressure(text: str) -> Pressure:
    """Parse one /proc/pressure file; `full_*` stay None where there is no "full" line.

    The cpu file had only a "some" line before Linux 5.13 (and its "full" line is all
    zeros at the system level after that), so a missing "full" line is normal.
    """
    some: tuple[float, float, float] | None = None
    full: tuple[float, float, float] | None = None
    for line in text.splitlines():
        if line.startswith("some "):
            some = _averages(line)
        elif line.startswith("full "):
            full = _averages(line)
    if some is None:
        raise ValueError("pressure file has no 'some' line")
    if full is None:
        return Pressure(*some)
    return Pressure(*some, *full)


def read_pressure(resource: str, proc: str = PROC) -> Pressure | None:
    """`<proc>/pressure/<resource>` ("cpu", "memory" or "io"), or None without PSI.

    None covers every way a kernel can lack PSI: no such file (before 4.20, or
    CONFIG_PSI=n), EOPNOTSUPP on read (booted with psi=0), or no permission.
    """
    try:
        text = read_text(os.path.join(proc, "pressure", resource))
    except OSError:
        return None
    try:
        return parse_pressure(text)
    except (ValueError, KeyError):
        return None


# /proc/PID/stat and /proc/PID/cmdline ----------------------------------------------------
#
# The one reading of a process's stat line and command line, for the process scan, the
# pidfd that holds a process, the attach and the action targets.


def split_stat(data: bytes, maxsplit: int = -1) -> tuple[str, list[bytes]]:
    """A /proc/PID/stat line as (comm, the fields after it: state first).

    comm sits between the first `(` and the LAST `)` and may itself hold spaces and parens
    (a process can name itself `a) (b`), so the fields are split after the last `)`.
    Raises ValueError on a line that is not a stat line.
    """
    open_at = data.find(b"(")
    close_at = data.rfind(b")")
    if open_at < 0 or close_at < open_at:
        raise ValueError("not a /proc/PID/stat line")
    comm = data[open_at + 1 : close_at].decode("utf-8", "replace")
    return comm, data[close_at + 2 :].split(None, maxsplit)


def read_stat_fields(pid: int, proc: str = PROC) -> list[bytes] | None:
    """The fields of /proc/PID/stat after comm (state first), None if the pid is gone."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return split_stat(data)[1]


START_FIELD = 19
"""Index in `read_stat_fields` of starttime (field 22 of stat: clock ticks since boot)."""


def cmdline_text(raw: bytes, comm: str = "") -> str:
    """argv joined by spaces; `[comm]` for kernel threads and zombies (no argv).

    The text is untrusted and kept literally (markup, escapes and all: what draws it
    neutralises them); only the NUL separators become spaces.
    """
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
    return text if text or not comm else f"[{comm}]"


def read_cmdline(pid: int, proc: str = PROC) -> str:
    """/proc/PID/cmdline as `cmdline_text`; "" when it cannot be read."""
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            return cmdline_text(f.read())
    except OSError:
        return ""


# /proc/PID/io, /proc/PID/status and MemTotal, for the process scan -----------------------


class StatFields(NamedTuple):
    """The fields of /proc/PID/stat that the table uses."""

    comm: str
    state: str
    ppid: int
    ticks: int  # utime + stime, in clock ticks
    nice: int
    threads: int
    start_ticks: int  # since boot, in clock ticks
    rss_pages: int
    majflt: int  # major page faults: reads from disk through mappings


def parse_pid_stat(data: bytes) -> StatFields:
    """Parse one /proc/PID/stat line (`split_stat`, then the fields the scan needs).

    comm sits between the first `(` and the LAST `)` and may itself hold spaces and parens
    (a process can name itself `a) (b`), so the numeric fields are split after the last `)`.
    Raises ValueError on a line that does not parse (truncated or not a stat line).
    """
    # After ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime(11) stime(12) cutime cstime priority nice(16) num_threads(17) itrealvalue
    # starttime(19) vsize rss(21) ...
    comm, f = split_stat(data, 22)  # the 30-odd fields after rss are not needed
    if len(f) < 22:
        raise ValueError("truncated /proc/PID/stat line")
    return StatFields(
        comm,
        f[0].decode("ascii", "replace"),
        int(f[1]),
        int(f[11]) + int(f[12]),
        int(f[16]),
        int(f[17]),
        int(f[19]),
        int(f[21]),
        int(f[9]),
    )


def parse_io(data: bytes) -> tuple[int, int]:
    """(read_bytes, write_bytes) from /proc/PID/io: bytes that reached the block layer."""
    f = data.split()
    # The kernel prints a fixed order: rchar wchar syscr syscw read_bytes write_bytes ...
    if len(f) >= 12 and f[8] == b"read_bytes:" and f[10] == b"write_bytes:":
        return int(f[9]), int(f[11])
    read = write = 0
    for name, value in zip(f[::2], f[1::2], strict=False):
        if name == b"read_bytes:":
            read = int(value)
        elif name == b"write_bytes:":
            write = int(value)
    return read, write


def parse_uid(status: bytes) -> int | None:
    """The effective uid from /proc/PID/status (`Uid: real effective saved fs`)."""
    for line in status.splitlines():
        if line.startswith(b"Uid:"):
            fields = line.split()
            return int(fields[2]) if len(fields) > 2 else None
    return None


def mem_total(proc: str) -> int:
    """MemTotal in bytes from PROC/meminfo (0 when it cannot be read)."""
    try:
        with open(f"{proc}/meminfo", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    for line in data.splitlines():
        if line.startswith(b"MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0
