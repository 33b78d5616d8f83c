"""SCRATCH (not committed): kept /proc/PID/stat descriptors."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from perftop.collectors import processes
from perftop.collectors.processes import FD_FLOOR, ProcessCollector, raise_open_file_limit

from .test_processes import Clock, by_pid, procdir  # noqa: F401


def _stat_target(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def test_real_processes_are_read_through_kept_descriptors_above_the_floor() -> None:
    child = subprocess.Popen(["sleep", "60"])
    try:
        c = ProcessCollector()
        rows = by_pid(c.collect())
        assert child.pid in rows
        assert c.open_files >= len(rows) - 5  # a few may have ended meanwhile
        fd = c._fds[child.pid]
        assert fd >= FD_FLOOR
        assert _stat_target(fd) == f"/proc/{child.pid}/stat"
        child.kill()
        child.wait()
        rows = by_pid(c.collect())
        assert child.pid not in rows
        assert child.pid not in c._fds
        with pytest.raises(OSError):
            os.fstat(fd)  # closed (nothing else opened it since)
    finally:
        child.kill()
        child.wait()
        c.close()
    assert c.open_files == 0


def test_a_descriptor_that_reads_esrch_is_replaced_and_the_process_read_by_path(
    procdir: Path,
    monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    from .test_processes import stat_line

    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)
    old_fd = c._fds[42]
    real = os.pread
    calls: list[int] = []

    def gone(fd: int, n: int, offset: int) -> bytes:
        if fd == old_fd and not calls:
            calls.append(fd)
            raise ProcessLookupError(3, "No such process")
        return real(fd, n, offset)

    monkeypatch.setattr(processes.os, "pread", gone)
    # the pid now belongs to another process (another start time), read by its path
    (procdir / "42" / "stat").write_text(stat_line(42, "newcomer", ticks=(500, 500), start=9000))
    clock.now += 1
    open_before = len(os.listdir("/proc/self/fd"))
    row = by_pid(c.collect())[42]
    assert len(os.listdir("/proc/self/fd")) == open_before  # the old one closed, no leak
    assert calls == [old_fd]
    assert row.name == "newcomer" and row.cpu_percent == 0.0  # a fresh baseline
    assert _stat_target(c._fds[42]) == str(procdir / "42" / "stat")


def test_without_keep_open_no_descriptor_is_kept(procdir: Path) -> None:  # noqa: F811
    c = ProcessCollector(proc=str(procdir), clock=Clock(), keep_open=False)
    c.collect()
    assert c.open_files == 0


def test_the_soft_limit_is_raised_but_never_above_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(512, hard), hard))
        got = raise_open_file_limit(wanted=10**9)
        assert got == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert got <= hard and got > 512
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_low_hard_limit_falls_back_to_reading_by_path(procdir: Path) -> None:  # noqa: F811
    code = f"""
import resource, sys
sys.path.insert(0, {str(Path(__file__).parent.parent.parent)!r})
resource.setrlimit(resource.RLIMIT_NOFILE, (1000, 1000))
from perftop.collectors.processes import ProcessCollector
c = ProcessCollector(proc={str(procdir)!r})
rows = c.collect().rows
print(c.open_files, len(rows))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    kept, rows = map(int, out.stdout.split())
    assert kept == 0 and rows > 0
