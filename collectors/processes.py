"""Every process, every tick: the table's data, read straight from procfs.

This scan is perftop's biggest cost (docs/ARCHITECTURE.md, "What things cost here"), so it
avoids psutil and does the least per process per tick: one read of /proc/PID/stat (state,
ppid, CPU ticks, nice, threads, start time and RSS are all in it) and, unless schedstat
proves the process did not run, one of /proc/PID/io. What does not
change while a process lives - its command line and its user - is read once per process
identity (pid, start time) and cached; a pid taken by a new process gets a fresh entry and a
fresh CPU baseline. State for processes that are gone is dropped on the same tick, so memory
follows the number of live processes, not the length of the session.

The orders of the rows (`sort_rows`, `tree_order`) are in process_order.py.
"""

from __future__ import annotations

import fcntl
import heapq
import os
import pwd
import resource
import time
import weakref
from collections.abc import Callable, Mapping

from .procfs import cmdline_text, mem_total, parse_io, parse_pid_stat, parse_uid
from .rates import rate
from .samples import ProcessRow, ProcessSample, history_name

# Files under /proc are generated on read; one page holds any stat line or io block.
_READ_SIZE = 4096
# How long a cached command line is trusted. A process can change it without an exec
# (setproctitle: PostgreSQL backends, nginx workers), so it is re-read every 10-20 s;
# spread over the processes this costs a few reads per tick. The user is re-read only on
# exec (a comm change): a uid change without exec (a privilege drop) is not followed.
STATIC_TTL = 10.0
# Per-process history (CPU %, RSS) is kept for the processes that were among the top
# HISTORY_TOP by CPU on some tick, and for the one being looked at (`follow`), so that a
# detail opens with its past. Once kept, a process's series is written every tick while it
# lives (no gaps), for at most HISTORY_KEPT processes: the one longest out of the top goes.
HISTORY_TOP = 10
HISTORY_KEPT = 24
# Kept /proc/PID/stat descriptors are moved to numbers from here up, so that the low ones
# (below select()'s FD_SETSIZE) stay free for the rest of the program.
FD_FLOOR = 1024
# Descriptors left for everything else when the collector counts how many it may keep.
FD_RESERVE = 256
# The soft RLIMIT_NOFILE the collector asks for (never above the hard limit).
FD_WANTED = 65536


def raise_open_file_limit(wanted: int = FD_WANTED) -> int:
    """Raise the soft RLIMIT_NOFILE toward `wanted`, never above the hard limit.

    Returns the soft limit in force afterwards (unchanged when it was already higher or
    could not be raised).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


def _close_all(fds: dict[int, int]) -> None:
    for fd in fds.values():
        try:
            os.close(fd)
        except OSError:
            pass
    fds.clear()


def read_bytes(path: str) -> bytes:
    """The whole content of a small procfs file (one `open`, usually one `read`)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, _READ_SIZE)
        if len(data) < _READ_SIZE:
            return data
        # Long files (a command line can be up to ARG_MAX) take more reads.
        chunks = [data]
        while True:
            data = os.read(fd, 65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)
    finally:
        os.close(fd)


class _Known:
    """What the collector remembers about one live process between ticks."""

    __slots__ = (
        "start_ticks",
        "ticks",
        "majflt",
        "raw",
        "sched",
        "row",
        "quiet",
        "io",
        "io_at",
        "io_denied",
        "cmdline",
        "comm",
        "user",
        "due",
    )

    def __init__(self, start_ticks: int, ticks: int, majflt: int) -> None:
        self.start_ticks = start_ticks
        self.ticks = ticks
        self.majflt = majflt
        self.raw = b""  # the stat line the row was built from
        self.sched = b""  # /proc/PID/schedstat read just before `raw` (b"": not read)
        self.row: ProcessRow | None = None  # the last row built
        self.quiet = False  # that row showed no CPU and no I/O
        self.io: tuple[int, int] | None = None
        # Monotonic time `io` was last known to hold: read then, or proved unchanged since
        # (the process did not run).
        self.io_at = 0.0
        # /proc/PID/io is refused for other users' processes unless we are root; once
        # refused, it is not asked again for this process (a saved syscall per tick).
        self.io_denied = False
        self.cmdline = ""
        self.comm = ""
        self.user = ""
        self.due = 0.0  # monotonic time when the cmdline/user are to be read again


class ProcessCollector:
    """All processes from procfs, with CPU %, memory % and I/O rates.

    `proc` is the procfs root (a fixture directory in tests). A baseline is taken when the
    collector is built, so the first `collect()` already has CPU % and I/O rates.

    Reading /proc/PID/io costs about as much as reading /proc/PID/stat (the kernel builds
    both on each read). It is skipped only when the process is known not to have run since
    the last read: a single-threaded process whose /proc/PID/schedstat (its run time in
    nanoseconds, wait time and run count: a third of the cost of stat to read) has not
    changed issued no I/O, so its counters are known unchanged up to now and the next rate
    covers only the tick in which it ran. CPU ticks in stat are no such proof: a burst that
    dirties 8 MiB and fsyncs can take less than one tick of CPU, so every other process's
    io is read every tick. Each rate is over the span since the counters were last known,
    whatever the process was doing at the instants of the reads.

    Such a process's last row is kept without reading its stat either, provided its nice
    (one getpriority call; a renice does not make it run) and its parent (a parent that
    ended re-parents it) are unchanged. RSS lowered by reclaim in the meantime shows at the
    next full read, at most 20 s later (when the command line is re-read). A thread group's
    schedstat covers its first thread only, so multi-threaded processes read stat and io
    each tick; a row whose stat line and io are both unchanged to the byte is kept.

    With `keep_open` (the default), each process's /proc/PID/stat stays open between ticks
    and is read again with one `pread` (half the cost of open + read + close). The
    descriptor belongs to that process, not to the pid: once the process is gone it reads
    ESRCH, and a new process that takes the pid is opened afresh. The soft RLIMIT_NOFILE is
    raised toward the hard limit for this, at most `limit - FD_FLOOR - FD_RESERVE`
    descriptors are kept, and beyond that (or where descriptors run short) the files are
    opened, read and closed each tick. `close()` releases them (so does garbage collection).
    """

    source = "processes"

    def __init__(
        self,
        interval: float = 1.0,
        proc: str = "/proc",
        clock: Callable[[], float] = time.monotonic,
        keep_open: bool = True,
    ) -> None:
        self.interval = interval
        self.proc = proc
        self.clock = clock  # a seam for tests; the monotonic clock otherwise
        self.clk_tck = os.sysconf("SC_CLK_TCK")
        self.page_size = os.sysconf("SC_PAGE_SIZE")
        self.ncpu = os.cpu_count() or 1
        self._known: dict[int, _Known] = {}
        self._users: dict[int, str] = {}
        self._time: float | None = None
        self._mem_scale = 0.0
        # pid -> the open /proc/PID/stat of the process seen there (see the docstring).
        self._fds: dict[int, int] = {}
        # pid -> the open /proc/PID/schedstat of a single-threaded process (see collect).
        self._sched_fds: dict[int, int] = {}
        self._max_fds = 0
        if keep_open:
            self._max_fds = max(0, raise_open_file_limit() - FD_FLOOR - FD_RESERVE)
        # pid -> start time of the processes whose history is kept, the longest out of the
        # top first (see HISTORY_KEPT); `_followed`: the pid `follow` named.
        self._kept: dict[int, float | None] = {}
        self._followed: int | None = None
        weakref.finalize(self, _close_all, self._fds)
        weakref.finalize(self, _close_all, self._sched_fds)
        self.collect()

    def close(self) -> None:
        """Close the kept descriptors (the collector still works after, reading by path)."""
        _close_all(self._fds)
        _close_all(self._sched_fds)

    @property
    def open_files(self) -> int:
        """How many /proc/PID/stat and schedstat descriptors are kept open."""
        return len(self._fds) + len(self._sched_fds)

    def _keep(self, pid: int, base: str, single: bool) -> None:
        """Open BASE/stat (just read) to read it by `pread` from now on, and BASE/schedstat
        too for a `single`-threaded process.

        The descriptors are moved above FD_FLOOR. Their process is the one just read unless
        the pid changed hands in between, which the next tick's start-time check catches.
        """
        if self.open_files >= self._max_fds - 1:
            return
        for name, kept in (("stat", self._fds), ("schedstat", self._sched_fds)):
            if name == "schedstat" and not single:
                return
            try:
                fd = os.open(base + name, os.O_RDONLY)
            except OSError:
                return  # gone already, no schedstat in this kernel: read by path
            try:
                kept[pid] = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, FD_FLOOR)
            except OSError:
                self._max_fds = self.open_files  # nothing free above the floor: no more
                return
            finally:
                os.close(fd)

    def _forget_fds(self, pid: int) -> None:
        for kept in (self._fds, self._sched_fds):
            fd = kept.pop(pid, None)
            if fd is not None:
                os.close(fd)

    def collect(self) -> ProcessSample:
        """Scan every process once. Blocking; a few ms per hundred processes."""
        proc = self.proc
        now = self.clock()
        elapsed = 0.0 if self._time is None else now - self._time
        # CPU % = ticks / CLK_TCK / elapsed * 100; fold the constants into one factor.
        cpu_scale = 100.0 / self.clk_tck / elapsed if elapsed > 0 else 0.0
        page_size = self.page_size
        total = mem_total(proc)
        mem_scale = 100.0 / total if total > 0 else 0.0
        # A row can be reused only while mem % means the same thing (MemTotal can change).
        reuse = mem_scale == self._mem_scale
        self._mem_scale = mem_scale
        clk_tck = self.clk_tck
        known = self._known
        fresh: dict[int, _Known] = {}
        rows: list[ProcessRow] = []
        running = threads = 0
        fds = self._fds
        sched_fds = self._sched_fds
        pread = os.pread
        getpriority = os.getpriority
        pids = [int(entry) for entry in os.listdir(proc) if entry.isdigit()]
        # The children of a process that ended are re-parented without running.
        gone = known.keys() - set(pids)
        for pid in pids:
            # The common case first, with as little work as possible per process: a sleeping
            # process whose last row showed no activity keeps that row (the table can then
            # skip it too). A single-threaded one has not run if its schedstat (its run
            # time, wait time and run count, a third of the cost of stat to read) has not
            # changed; with the same nice and a parent still there, nothing in its row can
            # have changed but RSS lowered by reclaim, which the full read every io_max_age
            # seconds catches. (A thread group's schedstat is its first thread's only, so
            # this is for single-threaded processes.) Otherwise its stat line is read: a
            # line unchanged to the byte keeps the row too.
            old = known.get(pid)
            sched = b""
            sfd = sched_fds.get(pid)
            if sfd is not None:
                try:
                    sched = pread(sfd, _READ_SIZE, 0)
                except ProcessLookupError:
                    pass  # the process it was opened for is gone: handled below
            # `old` when its row may be kept (no activity, no re-read of the command line
            # due), else None.
            idle = old if old is not None and old.quiet and reuse and now < old.due else None
            if idle is not None and sched and sched == idle.sched:
                # It has not run, so it issued no I/O either: its counters hold up to now.
                idle.io_at = now
                row = idle.row
                if row is not None and row.threads == 1 and row.ppid not in gone:
                    try:
                        same = getpriority(os.PRIO_PROCESS, pid) == row.nice
                    except OSError:
                        same = False
                    if same:
                        fresh[pid] = idle
                        rows.append(row)
                        if row.state == "R":
                            running += 1
                        threads += 1
                        continue
            data = b""
            fd = fds.get(pid)
            if fd is not None:
                try:
                    data = pread(fd, _READ_SIZE, 0)
                except ProcessLookupError:
                    pass  # the process it was opened for is gone: handled below
            entry = str(pid)
            base = f"{proc}/{entry}/"
            # The io counters read this tick (None: not read yet).
            io: tuple[int, int] | None = None
            if idle is not None and data and data == idle.raw and (row := idle.row) is not None:
                # The same stat line: the row stands if the io counters are the same too.
                if not idle.io_denied:
                    try:
                        io = parse_io(read_bytes(base + "io"))
                    except PermissionError:
                        idle.io_denied = True
                        idle.io = None
                    except (FileNotFoundError, ProcessLookupError, ValueError):
                        continue  # it ended between listdir and here
                if idle.io_denied or io == idle.io:
                    idle.io_at = now
                    idle.sched = sched
                    fresh[pid] = idle
                    rows.append(row)
                    if row.state == "R":
                        running += 1
                    threads += row.threads
                    continue
            try:
                keep = not data
                if keep:
                    # Never read, or the process its descriptors were opened for is gone;
                    # the pid was listed, so another process may hold it now: read that
                    # one by its path (and schedstat again after, not before: not used).
                    self._forget_fds(pid)
                    sched = b""
                    data = read_bytes(base + "stat")
                st = parse_pid_stat(data)
                if old is not None and old.start_ticks != st.start_ticks:
                    old = None  # the pid was reused: nothing of the old process carries over
                if old is None:
                    cur = _Known(st.start_ticks, st.ticks, st.majflt)
                    cpu = 0.0
                    ran = True
                else:
                    cur = old
                    cpu = (st.ticks - old.ticks) * cpu_scale if st.ticks >= old.ticks else 0.0
                    # Ticks are counted in whole clock ticks: over a short span one more
                    # can read as more than its threads can run.
                    cpu = min(cpu, 100.0 * st.threads)
                    # Only an unchanged schedstat proves it did not run (see the docstring).
                    ran = not (sched and sched == old.sched)
                    cur.ticks = st.ticks
                    cur.majflt = st.majflt
                if cur.comm != st.comm:
                    # comm changes on exec, and so do the command line and maybe the user.
                    self._read_static(base, pid, cur, st.comm, now, user=True)
                elif now >= cur.due:
                    self._read_static(base, pid, cur, st.comm, now, user=False)
                read_rate: float | None = None
                write_rate: float | None = None
                if cur.io_denied:
                    pass
                elif ran or cur.io is None:
                    try:
                        if io is None:
                            io = parse_io(read_bytes(base + "io"))
                    except PermissionError:
                        cur.io_denied = True
                        cur.io = None
                    else:
                        before = cur.io
                        if before is None:
                            read_rate = write_rate = 0.0
                        else:
                            # Over the time since its counters were last known (read, or
                            # proved unchanged by an unchanged schedstat).
                            span = now - cur.io_at
                            read_rate = rate(before[0], io[0], span)
                            write_rate = rate(before[1], io[1], span)
                        cur.io = io
                        cur.io_at = now
                else:
                    # It did not run: no I/O issued, its counters hold up to now.
                    read_rate = write_rate = 0.0
                    cur.io_at = now
            except (FileNotFoundError, ProcessLookupError):
                continue  # it ended between listdir and here
            except ValueError:
                continue  # a stat line cut short by an exit mid-read
            rss = st.rss_pages * page_size
            if st.state == "R":
                running += 1
            threads += st.threads
            row = ProcessRow(
                pid=pid,
                ppid=st.ppid,
                user=cur.user,
                name=st.comm,
                cmdline=cur.cmdline,
                state=st.state,
                cpu_percent=cpu,
                mem_percent=rss * mem_scale,
                rss=rss,
                read_bytes_per_s=read_rate,
                write_bytes_per_s=write_rate,
                threads=st.threads,
                cpu_time=st.ticks / clk_tck,
                nice=st.nice,
                start_time=st.start_ticks / clk_tck,
            )
            rows.append(row)
            cur.raw = data
            cur.sched = sched
            cur.row = row
            cur.quiet = cpu == 0.0 and not read_rate and not write_rate
            fresh[pid] = cur
            if keep:
                self._keep(pid, base, st.threads == 1)
            elif st.threads != 1 and sfd is not None:
                os.close(sched_fds.pop(pid))  # its schedstat no longer tells
        # Replacing the map drops every process not seen this tick: bounded memory.
        self._known = fresh
        for kept in (fds, sched_fds):
            for pid in [pid for pid in kept if pid not in fresh]:
                os.close(kept.pop(pid))  # the process ended (or its stat did not parse)
        self._time = now
        rows.sort(key=_pid)
        return ProcessSample(
            time=now, rows=tuple(rows), running=running, threads=threads, ncpu=self.ncpu
        )

    def _read_static(
        self, base: str, pid: int, cur: _Known, comm: str, now: float, user: bool
    ) -> None:
        """(Re)read what is cached per process: the command line, and the user if `user`."""
        try:
            raw = read_bytes(base + "cmdline")
        except PermissionError:
            raw = b""
        cur.cmdline = cmdline_text(raw, comm)
        if user:
            try:
                uid = parse_uid(read_bytes(base + "status"))
            except PermissionError:
                uid = None
            cur.user = "?" if uid is None else self._user(uid)
        cur.comm = comm
        # Spread the re-reads over the TTL by pid, so that the processes first seen together
        # (all of them, at start) are not all re-read on the same tick.
        cur.due = now + STATIC_TTL * (1.0 + (pid % 64) / 64)

    def _user(self, uid: int) -> str:
        """A uid's name, looked up once per uid; the number as text when it has none."""
        name = self._users.get(uid)
        if name is None:
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                name = str(uid)
            self._users[uid] = name
        return name

    def follow(self, pid: int | None) -> None:
        """Keep `pid`'s history from the next tick on whatever its rank (None: nobody)."""
        self._followed = pid

    def series(self, sample: object) -> Mapping[str, float]:
        """Machine-wide counts, and each kept process's CPU % and RSS (`history_name`)."""
        if not isinstance(sample, ProcessSample):
            return {}
        series = {
            "proc.count": float(len(sample.rows)),
            "proc.running": float(sample.running),
            "proc.threads": float(sample.threads),
        }
        kept = self._kept
        followed = self._followed
        for row in heapq.nlargest(HISTORY_TOP, sample.rows, key=_cpu):
            if row.cpu_percent > 0:
                kept.pop(row.pid, None)  # to the end: the most recently in the top
                kept[row.pid] = row.start_time
        if followed is not None and followed not in kept:
            kept[followed] = None  # its start time comes with its row
        while len(kept) > HISTORY_KEPT:
            del kept[next(pid for pid in kept if pid != followed)]
        alive: dict[int, float | None] = {}
        for row in sample.rows:
            if row.pid in kept and kept[row.pid] in (None, row.start_time):
                # (A new process under a kept pid is not kept: the old one has ended.)
                alive[row.pid] = row.start_time
                name = history_name(row)
                series[name + ".cpu"] = row.cpu_percent
                series[name + ".rss"] = float(row.rss)
        self._kept = {pid: alive[pid] for pid in kept if pid in alive}  # in kept's order
        return series


def _cpu(row: ProcessRow) -> float:
    return row.cpu_percent


def _pid(row: ProcessRow) -> int:
    return row.pid
