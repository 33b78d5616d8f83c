"""The one process a person is looking at, in depth, with psutil.

Unlike the every-process scan, this reads one process, so psutil's convenience costs
little. Each part that the kernel refuses (AccessDenied, usually another user's process when
perftop is not root) becomes None and its name goes in `denied`, so the screen can say what
needs more privilege. When the process ends, `collect()` keeps returning the last detail it
read, marked `exited=True`: the screen keeps what it showed and says the process ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TypeVar

import psutil

from .samples import ProcessDetail, ThreadRow

T = TypeVar("T")

# psutil's net_connections for one process lists its socket descriptors, then parses the
# whole machine's /proc/net/{tcp,udp}{,6} to match them: its cost grows with the number of
# sockets on the box, not in the process. So it is re-read at most this often.
CONNECTIONS_TTL = 5.0

# psutil status names -> the one-letter states of /proc/PID/stat the table uses.
_STATE_LETTER = {
    psutil.STATUS_RUNNING: "R",
    psutil.STATUS_SLEEPING: "S",
    psutil.STATUS_DISK_SLEEP: "D",
    psutil.STATUS_STOPPED: "T",
    psutil.STATUS_TRACING_STOP: "t",
    psutil.STATUS_ZOMBIE: "Z",
    psutil.STATUS_DEAD: "X",
    psutil.STATUS_IDLE: "I",
    psutil.STATUS_PARKED: "P",
    psutil.STATUS_WAKING: "W",
}


def parse_limits(text: str) -> tuple[tuple[str, str, str], ...]:
    """/proc/PID/limits as (name, soft, hard); the unit, when there is one, goes in the name.

    The file is a fixed-width table whose column offsets come from its header line.
    """
    lines = text.splitlines()
    if not lines:
        return ()
    header = lines[0]
    soft_at = header.find("Soft Limit")
    hard_at = header.find("Hard Limit")
    units_at = header.find("Units")
    if min(soft_at, hard_at, units_at) < 0:
        return ()
    out: list[tuple[str, str, str]] = []
    for line in lines[1:]:
        name = line[:soft_at].strip()
        if not name:
            continue
        soft = line[soft_at:hard_at].strip()
        hard = line[hard_at:units_at].strip()
        units = line[units_at:].strip()
        out.append((f"{name} ({units})" if units else name, soft, hard))
    return tuple(out)


def parse_cgroup(text: str) -> str | None:
    """The process's cgroup path: the unified (v2) one when present, else the first listed."""
    first: str | None = None
    for line in text.splitlines():
        hierarchy, _, rest = line.partition(":")
        _controllers, _, path = rest.partition(":")
        if hierarchy == "0":
            return path
        if first is None and path:
            first = path
    return first


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


class ProcessDetailCollector:
    """Detail of one process (`source` "detail"), read every `interval` seconds.

    A CPU baseline (process and threads) is taken when the collector is built, so the first
    `collect()` already has CPU % figures. Building it never raises: a pid that does not
    exist yields a detail with `exited=True` and empty fields.
    """

    source = "detail"

    def __init__(self, pid: int, interval: float = 1.0, proc: str = "/proc") -> None:
        self.pid = pid
        self.interval = interval
        self.proc = proc
        self._last: ProcessDetail | None = None
        self._cpu: tuple[float, float] | None = None  # (monotonic time, user + system)
        self._threads: dict[int, float] = {}  # tid -> user + system at the previous tick
        self._threads_at: float | None = None  # monotonic time of that reading
        self._connections: int | None = None
        self._connections_at = -CONNECTIONS_TTL
        self._connections_denied = False
        self._gone = False
        try:
            self._process: psutil.Process | None = psutil.Process(pid)
            with self._process.oneshot():
                times = self._process.cpu_times()
                self._cpu = (time.monotonic(), times.user + times.system)
                self._threads = {t.id: t.user_time + t.system_time for t in self._process.threads()}
                self._threads_at = time.monotonic()
        except psutil.NoSuchProcess:
            self._process = None
        except psutil.AccessDenied:
            pass  # the first collect() finds out what is denied and says so

    def collect(self) -> ProcessDetail:
        """Read the process once; after it ended, the last detail marked `exited=True`."""
        if self._gone or self._process is None:
            return self._ended()
        try:
            # is_running() also compares the start time, so a reused pid counts as ended.
            if not self._process.is_running():
                return self._ended()
            detail = self._read(self._process)
        except psutil.NoSuchProcess:  # ZombieProcess included: it has ended, too
            return self._ended()
        if detail.state == "Z":
            # A zombie has ended; what it still shows (no memory, no threads) is not worth
            # keeping over the last reading of the live process.
            if self._last is None:
                self._last = detail
            return self._ended()
        self._last = detail
        return detail

    def _ended(self) -> ProcessDetail:
        self._gone = True
        if self._last is None:
            self._last = _empty(self.pid)
        if not self._last.exited:
            self._last = replace(self._last, exited=True)
        return self._last

    def _read(self, p: psutil.Process) -> ProcessDetail:
        denied: list[str] = []

        def part(name: str, read: Callable[[], T]) -> T | None:
            try:
                return read()
            except psutil.AccessDenied:
                denied.append(name)
                return None
            except PermissionError:
                denied.append(name)
                return None

        base = f"{self.proc}/{self.pid}"
        with p.oneshot():
            now = time.monotonic()
            times = part("cpu", p.cpu_times)
            threads = part("threads", lambda: self._thread_rows(p, now))
            cpu_percent: float | None = None
            if times is not None:
                total = times.user + times.system
                # CPU times come in clock ticks (10 ms): over less than half an interval
                # one tick more or less is a large error, so no figure yet.
                if self._cpu is None or now - self._cpu[0] >= self.interval / 2:
                    if self._cpu is not None:
                        spent = max(0.0, total - self._cpu[1])
                        cpu_percent = spent / (now - self._cpu[0]) * 100
                        cpu_percent = min(cpu_percent, 100.0 * max(1, len(threads or ())))
                    self._cpu = (now, total)
            mem = part("memory", p.memory_info)
            cmdline = part("cmdline", p.cmdline)
            status = p.status()
            io = part("io", p.io_counters)
            detail = ProcessDetail(
                time=now,
                pid=self.pid,
                name=p.name(),
                cmdline=tuple(cmdline) if cmdline is not None else (),
                exe=part("exe", p.exe),
                cwd=part("cwd", p.cwd),
                user=p.username(),
                state=_STATE_LETTER.get(status, "?"),
                ppid=p.ppid(),
                nice=p.nice(),
                started=p.create_time(),
                cpu_percent=cpu_percent,
                rss=mem.rss if mem is not None else 0,
                vms=mem.vms if mem is not None else 0,
                threads=threads,
                open_files=part("open_files", p.num_fds),
                connections=self._connection_count(p, now, denied),
                cgroup=part("cgroup", lambda: parse_cgroup(_read_text(f"{base}/cgroup"))),
                limits=part("limits", lambda: parse_limits(_read_text(f"{base}/limits"))),
                io_read_bytes=io.read_bytes if io is not None else None,
                io_write_bytes=io.write_bytes if io is not None else None,
                io_read_count=io.read_count if io is not None else None,
                io_write_count=io.write_count if io is not None else None,
                denied=tuple(denied),
            )
        return detail

    def _thread_rows(self, p: psutil.Process, now: float) -> tuple[ThreadRow, ...]:
        """Threads with their CPU % since the previous tick, busiest first."""
        elapsed = now - self._threads_at if self._threads_at is not None else 0.0
        before = self._threads
        current: dict[int, float] = {}
        rows: list[ThreadRow] = []
        for t in p.threads():
            spent = t.user_time + t.system_time
            current[t.id] = spent
            prev = before.get(t.id)
            # A thread first seen now has no baseline: 0, not its lifetime total.
            pct = 0.0 if prev is None or elapsed <= 0 else max(0.0, spent - prev) / elapsed * 100
            pct = min(pct, 100.0)  # whole clock ticks over a short span (see cpu_percent)
            rows.append(
                ThreadRow(tid=t.id, name=self._thread_name(t.id), cpu_percent=pct, cpu_time=spent)
            )
        # Only live threads are remembered, so a long-lived churny process stays bounded.
        self._threads = current
        self._threads_at = now
        rows.sort(key=lambda r: (-r.cpu_percent, r.tid))
        return tuple(rows)

    def _thread_name(self, tid: int) -> str:
        # Read every tick, not cached: a thread may name itself at any time after it starts.
        try:
            return _read_text(f"{self.proc}/{self.pid}/task/{tid}/comm").rstrip("\n")
        except OSError:
            return ""

    def _connection_count(self, p: psutil.Process, now: float, denied: list[str]) -> int | None:
        if self._connections_denied:
            denied.append("connections")
            return None
        if now - self._connections_at >= CONNECTIONS_TTL:
            try:
                self._connections = len(p.net_connections(kind="inet"))
            except psutil.AccessDenied:
                self._connections_denied = True
                denied.append("connections")
                return None
            self._connections_at = now
        return self._connections

    def series(self, sample: object) -> Mapping[str, float]:
        """None: the process's CPU % and RSS history is the process collector's (it is
        kept before the detail opens, see `ProcessCollector.follow`)."""
        return {}


def _empty(pid: int) -> ProcessDetail:
    """What is shown for a pid that had already ended before anything could be read."""
    return ProcessDetail(
        time=time.monotonic(),
        pid=pid,
        name="",
        cmdline=(),
        exe=None,
        cwd=None,
        user="",
        state="X",
        ppid=0,
        nice=0,
        started=0.0,
        cpu_percent=None,
        rss=0,
        vms=0,
        threads=None,
        open_files=None,
        connections=None,
        cgroup=None,
        limits=None,
        io_read_bytes=None,
        io_write_bytes=None,
        io_read_count=None,
        io_write_count=None,
        exited=True,
    )
