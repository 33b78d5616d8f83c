"""Reading what a measured process costs, from procfs, from the outside.

CPU time comes from /proc/PID/stat (utime + stime cover every thread of the process). A
measured program may start helpers, so the figure covers its whole process tree: each live
member's own time plus its cutime + cstime, the time of its children already reaped.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Stat:
    """The fields of /proc/PID/stat a benchmark needs."""

    pid: int
    ppid: int
    pgrp: int
    state: str
    ticks: int  # utime + stime + cutime + cstime, in clock ticks


def read_stat(pid: int) -> Stat | None:
    """The stat line of `pid`, or None when it is gone (or unreadable)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses; everything after the last ")" is
    # fixed-position.
    fields = data[data.rindex(b")") + 2 :].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return Stat(
        pid=pid,
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        state=fields[0].decode(),
        ticks=utime + stime + cutime + cstime,
    )


def all_stats() -> list[Stat]:
    """Every process on the machine (those that vanish while being read are skipped)."""
    stats = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read_stat(int(name))
            if stat is not None:
                stats.append(stat)
    return stats


def count_processes() -> int:
    """How many processes the machine has right now."""
    return sum(1 for name in os.listdir("/proc") if name.isdigit())


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds used so far by `root` and every live descendant (reaped ones included).

    Walks the tree through /proc/PID/task/TID/children: a few reads for a small tree,
    where a scan of every process would make the measuring side cost as much as the
    measured one.
    """
    total = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        stat = read_stat(pid)
        if stat is None:
            if pid == root:
                raise ProcessLookupError(root)
            continue  # a helper that ended between the two reads
        total += stat.ticks
        todo.extend(_children(pid))
    return total / CLK_TCK


def _children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                found += (int(x) for x in f.read().split())
        except OSError:
            continue
    return found


def peak_rss_bytes(pid: int) -> int | None:
    """VmHWM of `pid`: the most resident memory it ever had. None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def pids_in_group(pgrp: int) -> list[int]:
    """Every process (zombies included) whose process group is `pgrp`."""
    return [s.pid for s in all_stats() if s.pgrp == pgrp]


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
    }
