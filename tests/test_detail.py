"""The one-process detail: real children with named threads, exits, and refused parts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import psutil
import pytest

from perftop.collectors.detail import ProcessDetailCollector, parse_cgroup, parse_limits
from perftop.collectors.samples import ProcessDetail

# Python 3.11 does not give OS threads the `threading` names, so each thread writes its
# name to /proc/self/task/TID/comm the way a C program calls pthread_setname_np.
THREADED_CHILD = textwrap.dedent(
    """
    import sys, threading, time

    def named(name, spin):
        def run():
            tid = threading.get_native_id()
            with open(f"/proc/self/task/{tid}/comm", "w") as f:
                f.write(name)
            if spin:
                while True:
                    pass
            while True:
                time.sleep(1)
        return threading.Thread(target=run, name=name, daemon=True)

    for name, spin in (("spinner", True), ("sleeper-a", False), ("sleeper-b", False)):
        named(name, spin).start()
    print("ready", flush=True)
    sys.stdin.read()  # exits when the test closes stdin
    """
)


@pytest.fixture
def threaded_child() -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", THREADED_CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    yield child
    child.kill()
    child.wait()


def test_spinning_thread_is_on_top(threaded_child: subprocess.Popen[str]) -> None:
    c = ProcessDetailCollector(threaded_child.pid)
    time.sleep(0.6)
    d = c.collect()
    assert not d.exited
    assert d.pid == threaded_child.pid and d.ppid == os.getpid()
    assert d.cmdline[0] == sys.executable and d.cmdline[1] == "-c"
    assert d.threads is not None
    names = {t.name for t in d.threads}
    assert {"spinner", "sleeper-a", "sleeper-b"} <= names
    top = d.threads[0]
    assert top.name == "spinner"
    assert top.cpu_percent > 30.0  # a spinning thread gets most of a core, even on a busy box
    assert all(t.cpu_percent < 10.0 for t in d.threads if t.name.startswith("sleeper"))
    assert d.cpu_percent >= top.cpu_percent - 5.0
    assert d.rss > 0 and d.vms >= d.rss
    assert d.exe is not None and d.cwd == os.getcwd()
    assert d.open_files is not None and d.open_files >= 3  # stdin, stdout, stderr at least
    assert d.connections == 0
    assert d.limits is not None and any(
        name.startswith("Max open files") for name, _, _ in d.limits
    )
    assert d.cgroup is not None
    assert d.io_read_bytes is not None
    assert d.denied == ()
    assert d.cpu_percent is not None and d.cpu_percent <= 100.0 * len(d.threads)


def test_no_cpu_figure_until_half_an_interval_then_never_above_its_threads(
    threaded_child: subprocess.Popen[str],
) -> None:
    """CPU times come in 10 ms ticks: over a few ms one tick reads as hundreds of %."""
    c = ProcessDetailCollector(threaded_child.pid, interval=1.0)
    assert c.collect().cpu_percent is None  # right after the baseline
    figures = []
    for _ in range(3):
        time.sleep(0.5)  # the interval measured: half of it
        d = c.collect()
        assert d.threads is not None
        figures.append(d.cpu_percent)
        assert d.cpu_percent is not None and d.cpu_percent <= 100.0 * len(d.threads)
        assert all(t.cpu_percent <= 100.0 for t in d.threads)
    assert max(f or 0.0 for f in figures) > 30.0  # the spinner is seen


@pytest.mark.parametrize("reap", [True, False])
def test_exit_keeps_the_last_data(threaded_child: subprocess.Popen[str], reap: bool) -> None:
    c = ProcessDetailCollector(threaded_child.pid)
    time.sleep(0.2)
    live = c.collect()
    assert not live.exited and live.threads is not None
    assert threaded_child.stdin is not None
    threaded_child.stdin.close()  # the child's read returns: it exits
    if reap:
        threaded_child.wait(timeout=10)
    else:
        # Not reaped: a zombie, which has ended all the same.
        deadline = time.monotonic() + 10
        while psutil.Process(threaded_child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    gone = c.collect()
    assert gone.exited
    assert gone.threads == live.threads and gone.rss == live.rss and gone.name == live.name
    assert c.collect() == gone  # and it stays so, without raising
    assert c.series(gone) == {}


def test_a_pid_that_never_existed_is_an_ended_detail() -> None:
    pid = 2**22 + 12345  # above the kernel's pid_max limit: cannot exist
    d = ProcessDetailCollector(pid).collect()
    assert d.exited and d.pid == pid and d.threads is None


def test_refused_parts_are_none_and_named(
    threaded_child: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: psutil.Process, *args: object, **kwargs: object) -> object:
        raise psutil.AccessDenied(self.pid)

    monkeypatch.setattr(psutil.Process, "io_counters", refuse)
    monkeypatch.setattr(psutil.Process, "cwd", refuse)
    monkeypatch.setattr(psutil.Process, "net_connections", refuse)
    c = ProcessDetailCollector(threaded_child.pid)
    d = c.collect()
    assert not d.exited
    assert d.cwd is None and d.connections is None
    assert (d.io_read_bytes, d.io_write_bytes, d.io_read_count, d.io_write_count) == (None,) * 4
    assert set(d.denied) == {"io", "cwd", "connections"}
    assert d.exe is not None and d.threads is not None  # the rest is still there
    assert "connections" in c.collect().denied  # remembered, not asked again


def test_threads_denied(
    threaded_child: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = ProcessDetailCollector(threaded_child.pid)

    def refuse(self: psutil.Process) -> object:
        raise psutil.AccessDenied(self.pid)

    monkeypatch.setattr(psutil.Process, "threads", refuse)
    d = c.collect()
    assert d.threads is None and d.denied == ("threads",)


def test_parse_limits_and_cgroup() -> None:
    # The kernel pads every column, the last one included (trailing spaces).
    limits = "".join(
        f"{a:<26}{b:<21}{c:<21}{d:<10}\n"
        for a, b, c, d in [
            ("Limit", "Soft Limit", "Hard Limit", "Units"),
            ("Max cpu time", "unlimited", "unlimited", "seconds"),
            ("Max open files", "1024", "524288", "files"),
            ("Max nice priority", "0", "0", ""),
        ]
    )
    assert parse_limits(limits) == (
        ("Max cpu time (seconds)", "unlimited", "unlimited"),
        ("Max open files (files)", "1024", "524288"),
        ("Max nice priority", "0", "0"),
    )
    assert parse_limits("") == ()
    with open(f"/proc/{os.getpid()}/limits") as f:
        real = parse_limits(f.read())
    assert len(real) >= 16 and all(soft and hard for _, soft, hard in real)
    v1 = "12:memory:/user.slice\n1:name=systemd:/user.slice/session-1.scope\n"
    assert parse_cgroup(v1) == "/user.slice"
    assert parse_cgroup(v1 + "0::/user.slice/session-1.scope\n") == "/user.slice/session-1.scope"
    assert parse_cgroup("") is None


def test_detail_is_frozen(threaded_child: subprocess.Popen[str]) -> None:
    d = ProcessDetailCollector(threaded_child.pid).collect()
    assert isinstance(d, ProcessDetail)
    with pytest.raises(AttributeError):
        d.pid = 1  # type: ignore[misc]


def test_a_reused_pid_counts_as_ended(
    threaded_child: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = ProcessDetailCollector(threaded_child.pid)
    live = c.collect()
    # psutil's is_running() compares the start time too: False here means another process
    # now has this pid, whose details must not be shown as this one's.
    monkeypatch.setattr(psutil.Process, "is_running", lambda self: False)
    gone = c.collect()
    assert gone.exited and gone.name == live.name and gone.threads == live.threads
