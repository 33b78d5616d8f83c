"""Frozen samples: what collectors return and the store keeps.

Units are raw (bytes, seconds, percent 0-100, per-second rates); formatting is the panes'
business. `None` means "could not be read" (no permission, not supported by this kernel),
which a pane shows as a blank field, never as zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Pressure:
    """One line pair of /proc/pressure/{cpu,memory,io}: % of wall time stalled."""

    some_avg10: float
    some_avg60: float
    some_avg300: float
    full_avg10: float | None = None
    full_avg60: float | None = None
    full_avg300: float | None = None


@dataclass(frozen=True, slots=True)
class CoreUsage:
    """Share of one core (or of all cores, for the total) over the last interval, in %."""

    user: float  # user + nice
    system: float  # system + irq + softirq
    iowait: float
    steal: float

    @property
    def busy(self) -> float:
        """Everything but idle and iowait, as htop counts it."""
        return self.user + self.system + self.steal


@dataclass(frozen=True, slots=True)
class CpuSample:
    time: float  # time.monotonic() when taken
    total: CoreUsage
    cores: tuple[CoreUsage, ...]
    load: tuple[float, float, float]
    ctx_switches_per_s: float
    interrupts_per_s: float
    pressure: Pressure | None  # None where the kernel has no PSI


@dataclass(frozen=True, slots=True)
class MemorySample:
    time: float
    total: int
    used: int  # total - free - buffers - cached, as htop/free count it
    buffers: int
    cached: int  # page cache + reclaimable slab
    available: int
    swap_total: int
    swap_used: int
    major_faults_per_s: float
    pressure: Pressure | None


@dataclass(frozen=True, slots=True)
class DiskRate:
    name: str
    read_bytes_per_s: float
    write_bytes_per_s: float
    read_iops: float
    write_iops: float
    util_percent: float  # share of the interval the device had I/O in flight
    await_ms: float  # mean time per completed request in the interval (0 if none)


@dataclass(frozen=True, slots=True)
class DiskSample:
    time: float
    devices: tuple[DiskRate, ...]
    pressure: Pressure | None


@dataclass(frozen=True, slots=True)
class NicRate:
    name: str
    rx_bytes_per_s: float
    tx_bytes_per_s: float
    rx_packets_per_s: float
    tx_packets_per_s: float
    rx_errors_per_s: float
    tx_errors_per_s: float
    rx_drops_per_s: float
    tx_drops_per_s: float
    rx_errors_total: int
    tx_errors_total: int
    rx_drops_total: int
    tx_drops_total: int


@dataclass(frozen=True, slots=True)
class NetSample:
    time: float
    nics: tuple[NicRate, ...]


@dataclass(frozen=True, slots=True)
class ProcessRow:
    """One process as the table shows it."""

    pid: int
    ppid: int
    user: str  # user name, or the uid as text when it has no name
    name: str  # comm, untrusted
    cmdline: str  # argv joined by spaces, untrusted; "[name]" for kernel threads
    state: str  # one letter, as in /proc/PID/stat: R S D Z T t I X
    cpu_percent: float  # of one core, so up to 100 * ncpu
    mem_percent: float
    rss: int  # bytes
    read_bytes_per_s: float | None  # None: /proc/PID/io not readable (another user's)
    write_bytes_per_s: float | None
    threads: int
    cpu_time: float  # seconds, user + system, since start
    nice: int
    start_time: float  # seconds since boot (ticks / CLK_TCK); with pid, the process identity


@dataclass(frozen=True, slots=True)
class ProcessSample:
    time: float
    rows: tuple[ProcessRow, ...]
    running: int  # state R
    threads: int  # sum over all processes
    ncpu: int


@dataclass(frozen=True, slots=True)
class ThreadRow:
    tid: int
    name: str
    cpu_percent: float
    cpu_time: float


@dataclass(frozen=True, slots=True)
class ProcessDetail:
    """The one process a person is looking at, read with psutil at its own cadence.

    Every optional field is None when that part could not be read (usually AccessDenied for
    another user's process); `denied` names those parts so the screen can say why.
    """

    time: float
    pid: int
    name: str
    cmdline: tuple[str, ...]
    exe: str | None
    cwd: str | None
    user: str
    state: str
    ppid: int
    nice: int
    started: float  # wall clock (time.time()) of process start
    cpu_percent: float | None  # None until half an interval after the baseline
    rss: int
    vms: int
    threads: tuple[ThreadRow, ...] | None
    open_files: int | None
    connections: int | None
    cgroup: str | None
    limits: tuple[tuple[str, str, str], ...] | None  # (name, soft, hard) as text
    io_read_bytes: int | None
    io_write_bytes: int | None
    io_read_count: int | None
    io_write_count: int | None
    denied: tuple[str, ...] = field(default=())
    exited: bool = False


Sample = CpuSample | MemorySample | DiskSample | NetSample | ProcessSample | ProcessDetail


def history_name(row: ProcessRow) -> str:
    """The prefix of a process's history series, `.cpu` and `.rss` after it: the pid and
    start time, so a pid taken by a new process starts a history of its own."""
    return f"process.{row.pid}@{row.start_time:.2f}"
