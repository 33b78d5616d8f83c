"""The every-process scan: the stat parser, fixtures of /proc, and real processes."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from perftop.collectors import processes
from perftop.collectors.process_order import SORT_KEYS, sort_rows, tree_order
from perftop.collectors.processes import (
    FD_FLOOR,
    HISTORY_KEPT,
    HISTORY_TOP,
    ProcessCollector,
    raise_open_file_limit,
)
from perftop.collectors.procfs import cmdline_text, parse_io
from perftop.collectors.procfs import parse_pid_stat as parse_stat
from perftop.collectors.samples import ProcessRow, ProcessSample, history_name
from perftop.store import PROCESS_SERIES

FIXTURES = Path(__file__).parent / "fixtures" / "procs"
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def stat_line(
    pid: int,
    comm: str,
    state: str = "S",
    ppid: int = 1,
    ticks: tuple[int, int] = (10, 5),
    start: int = 1000,
    threads: int = 1,
    nice: int = 0,
    rss: int = 256,
) -> str:
    fields = [
        state,
        ppid,
        pid,
        pid,
        0,
        -1,
        4194560,
        100,
        0,
        0,
        0,
        ticks[0],
        ticks[1],
        0,
        0,
        20,
        nice,
        threads,
        0,
        start,
        12345678,
        rss,
        2**64 - 1,
    ] + [0] * 29
    return f"{pid} ({comm}) " + " ".join(map(str, fields)) + "\n"


@pytest.fixture
def procdir(tmp_path: Path) -> Path:
    """A writable copy of the `basic` fixture /proc."""
    root = tmp_path / "proc"
    shutil.copytree(FIXTURES / "basic", root)
    return root


def by_pid(sample: ProcessSample) -> dict[int, ProcessRow]:
    return {r.pid: r for r in sample.rows}


# the parsers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "comm",
    ["a) (b", "x (y) z", "with space", ")", "((", "a)b) 1 2 3 R", "", "ünï"],
)
def test_parse_stat_takes_comm_up_to_the_last_paren(comm: str) -> None:
    line = stat_line(
        4321, comm, state="R", ppid=77, ticks=(300, 45), start=9999, threads=7, nice=-3, rss=512
    )
    st = parse_stat(line.encode())
    assert st.comm == comm
    assert (st.state, st.ppid, st.ticks, st.nice, st.threads, st.start_ticks, st.rss_pages) == (
        "R",
        77,
        345,
        -3,
        7,
        9999,
        512,
    )


def test_parse_stat_rejects_cut_lines() -> None:
    line = stat_line(1, "a").encode()
    with pytest.raises(ValueError):
        parse_stat(line[:40])
    with pytest.raises(ValueError):
        parse_stat(b"")


def test_parse_stat_of_the_real_proc_self() -> None:
    st = parse_stat(Path(f"/proc/{os.getpid()}/stat").read_bytes())
    assert st.ppid == os.getppid()
    assert st.comm == Path(f"/proc/{os.getpid()}/comm").read_text().rstrip("\n")
    assert st.threads >= threading.active_count()


def test_parse_io_and_cmdline_text() -> None:
    assert parse_io((FIXTURES / "basic" / "42" / "io").read_bytes()) == (4096, 8192)
    # Another order (or a kernel that adds fields) still parses.
    assert parse_io(b"write_bytes: 5\nread_bytes: 7\n") == (7, 5)
    assert cmdline_text(b"python\0-c\0print(1)\0", "python") == "python -c print(1)"
    assert cmdline_text(b"", "kthreadd") == "[kthreadd]"


# the collector on fixtures -------------------------------------------------------------


def test_fixture_scan(procdir: Path) -> None:
    c = ProcessCollector(proc=str(procdir), clock=Clock())
    sample = c.collect()
    rows = by_pid(sample)
    # 77 has a directory but no stat (it ended mid-scan) and `self` is no pid: both skipped.
    assert sorted(rows) == [1, 2, 42, 43, 4242]
    evil = rows[42]
    assert evil.name == "a) (b"
    assert evil.cmdline == "./evil a) (b"
    assert evil.user == "54321"  # a uid without a passwd entry shows as its number
    assert (evil.state, evil.nice, evil.threads) == ("R", -5, 3)
    assert evil.rss == 2000 * PAGE
    assert evil.mem_percent == pytest.approx(2000 * PAGE / (4000000 * 1024) * 100)
    assert evil.cpu_time == pytest.approx(15 / CLK)
    assert evil.start_time == pytest.approx(5000 / CLK)
    assert rows[43].name == "x (y) z" and rows[43].ppid == 42
    assert rows[2].cmdline == "[kthreadd]"
    assert rows[1].user == "root"
    assert sample.running == 2
    assert sample.threads == 1 + 1 + 3 + 2 + 4


def test_cpu_percent_and_io_rates_from_deltas(procdir: Path) -> None:
    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)
    (procdir / "4242" / "stat").write_text(
        stat_line(4242, "worker", ticks=(200 + CLK, 100), start=7000)
    )
    (procdir / "4242" / "io").write_text("read_bytes: 3000\nwrite_bytes: 1000\n")
    clock.now += 2.0
    row = by_pid(c.collect())[4242]
    # One second of CPU over two seconds of wall time: half a core.
    assert row.cpu_percent == pytest.approx(50.0)
    assert row.read_bytes_per_s == pytest.approx(1500.0)
    assert row.write_bytes_per_s == pytest.approx(500.0)
    # Idle processes: no CPU used, no I/O.
    assert by_pid(c.collect())[1].cpu_percent == 0.0


def test_io_is_skipped_only_while_schedstat_proves_the_process_did_not_run(
    procdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    real = processes.read_bytes

    def counting(path: str) -> bytes:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(processes, "read_bytes", counting)
    # The nice of the real pid 1 (the idle path checks it with getpriority).
    nice = os.getpriority(os.PRIO_PROCESS, 1)
    (procdir / "1" / "stat").write_text(stat_line(1, "init", ppid=0, start=1, nice=nice))
    schedstat = procdir / "1" / "schedstat"
    schedstat.write_text("1000 20 3\n")  # run ns, wait ns, run count
    io = procdir / "1" / "io"
    io.write_text("read_bytes: 0\nwrite_bytes: 0\n")
    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)
    clock.now += 1.0
    c.collect()  # its schedstat is read through the descriptor from here on
    reads.clear()
    clock.now += 1.0
    row = by_pid(c.collect())[1]
    assert str(io) not in reads and row.write_bytes_per_s == 0.0
    # It ran for less than a clock tick (its stat line is the same to the byte) and wrote:
    # the rate is read, over this tick alone (its counters were known unchanged a tick ago).
    schedstat.write_text("3000 20 4\n")
    io.write_text("read_bytes: 0\nwrite_bytes: 8000\n")
    clock.now += 2.0
    row = by_pid(c.collect())[1]
    assert str(io) in reads
    assert row.write_bytes_per_s == pytest.approx(8000 / 2.0)


def test_io_of_a_process_without_schedstat_is_read_every_tick(procdir: Path) -> None:
    """Same stat line to the byte (no CPU tick) is no proof that nothing was written."""
    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)
    for n in range(1, 4):
        (procdir / "1" / "io").write_text(f"read_bytes: {8000 * n}\nwrite_bytes: 0\n")
        clock.now += 1.0
        assert by_pid(c.collect())[1].read_bytes_per_s == pytest.approx(8000.0)
    clock.now += 1.0
    row = by_pid(c.collect())[1]
    assert row.read_bytes_per_s == 0.0


def test_cpu_is_never_more_than_its_threads_can_run(procdir: Path) -> None:
    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)
    # One tick more than 0.05 s can hold for a single thread: whole ticks, a short span.
    ticks = 10 + int(0.05 * CLK) + 1
    (procdir / "42" / "stat").write_text(stat_line(42, "a) (b", ticks=(ticks, 5), start=5000))
    clock.now += 0.05
    assert by_pid(c.collect())[42].cpu_percent == pytest.approx(100.0)


def busy(procdir: Path, pid: int, comm: str, ticks: int, start: int, threads: int = 1) -> None:
    (procdir / str(pid) / "stat").write_text(
        stat_line(pid, comm, ticks=(ticks, 0), start=start, threads=threads)
    )


def test_the_top_processes_keep_a_history_every_tick_while_they_live(procdir: Path) -> None:
    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)
    (procdir / "500").mkdir()
    shutil.copy(procdir / "42" / "cmdline", procdir / "500" / "cmdline")
    shutil.copy(procdir / "42" / "status", procdir / "500" / "status")
    (procdir / "500" / "io").write_text("read_bytes: 0\nwrite_bytes: 0\n")
    burner = {}
    for tick in range(1, 6):
        busy(procdir, 500, "burner", ticks=tick * CLK, start=9000)
        clock.now += 1.0
        sample = c.collect()
        burner = by_pid(sample)[500]
        series = c.series(sample)
    name = history_name(burner)
    assert series[name + ".cpu"] == pytest.approx(100.0)
    assert series[name + ".rss"] == float(burner.rss)
    # It goes quiet: its history goes on (no gaps), though it has left the top.
    clock.now += 1.0
    assert c.series(c.collect())[name + ".cpu"] == 0.0
    # It ends: nothing more is written for it; a new process under its pid starts afresh.
    busy(procdir, 500, "other", ticks=10, start=9500)
    clock.now += 1.0
    sample = c.collect()
    assert not any(k.startswith(name) for k in c.series(sample))
    assert not any(k.startswith(history_name(by_pid(sample)[500])) for k in c.series(sample))


def test_a_followed_process_is_kept_whatever_its_rank_and_the_kept_are_bounded(
    procdir: Path,
) -> None:
    pids = range(600, 600 + HISTORY_KEPT + HISTORY_TOP)
    for pid in pids:
        (procdir / str(pid)).mkdir()
        shutil.copy(procdir / "42" / "cmdline", procdir / str(pid) / "cmdline")
        shutil.copy(procdir / "42" / "status", procdir / str(pid) / "status")
        (procdir / str(pid) / "io").write_text("read_bytes: 0\nwrite_bytes: 0\n")
        busy(procdir, pid, f"p{pid}", ticks=0, start=pid)
    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)  # sees them all: CPU % next tick
    c.follow(1)  # idle, never in the top
    hot_rounds = dict.fromkeys(pids, 0)
    kept: set[int] = set()
    groups = [list(pids[HISTORY_TOP * r : HISTORY_TOP * (r + 1)]) for r in range(3)]
    for group in groups:  # each round, the next ten are the busiest; the rest stay still
        for pid in group:
            hot_rounds[pid] += 1
        for pid in pids:
            busy(procdir, pid, f"p{pid}", ticks=hot_rounds[pid] * CLK, start=pid)
        clock.now += 1.0
        sample = c.collect()
        series = c.series(sample)
        names = {history_name(row) + ".cpu": row.pid for row in sample.rows}
        kept = {names[k] for k in series if k in names}
        assert len(kept) <= HISTORY_KEPT
        assert 1 in kept
    # The followed one, the last two rounds' ten each, and what room is left of the first.
    assert len(kept) == HISTORY_KEPT
    assert set(groups[1]) | set(groups[2]) <= kept
    assert len(kept & set(groups[0])) == HISTORY_KEPT - 1 - 2 * HISTORY_TOP
    assert PROCESS_SERIES == 2 * HISTORY_KEPT  # the store makes room for them all
    c.follow(None)


def test_pid_reuse_gets_a_fresh_cache_and_cpu_baseline(procdir: Path) -> None:
    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)
    assert by_pid(c.collect())[4242].cmdline == "worker --old"
    # Same pid, same comm (so an exec check alone would not notice), later start time, far
    # more CPU ticks and I/O than the old process had: none of it may be counted as a delta.
    (procdir / "4242" / "stat").write_text(
        stat_line(4242, "worker", ticks=(5000, 5000), start=9000)
    )
    (procdir / "4242" / "cmdline").write_bytes(b"worker\0--new\0")
    (procdir / "4242" / "status").write_text("Uid:\t54321\t54321\t54321\t54321\n")
    (procdir / "4242" / "io").write_text("read_bytes: 999999\nwrite_bytes: 999999\n")
    clock.now += 1.0
    row = by_pid(c.collect())[4242]
    assert row.cmdline == "worker --new"
    assert row.user == "54321"
    assert row.cpu_percent == 0.0
    assert row.read_bytes_per_s == 0.0 and row.write_bytes_per_s == 0.0
    assert row.start_time == pytest.approx(9000 / CLK)


def test_idle_rows_are_reused_and_busy_ones_rebuilt(procdir: Path) -> None:
    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)
    clock.now += 1.0
    first = by_pid(c.collect())
    clock.now += 1.0
    second = by_pid(c.collect())
    assert second[1] is first[1]  # an unchanged stat line: the very same row object
    (procdir / "1" / "stat").write_text(
        stat_line(1, "init", ppid=0, start=1, rss=1000, ticks=(10 + CLK, 5))
    )
    clock.now += 1.0
    busy = by_pid(c.collect())[1]
    assert busy.cpu_percent == pytest.approx(100.0)
    # The stat line is the same as last tick, but the last row showed CPU: no reuse, and
    # the process now shows as idle rather than keeping its old figure.
    clock.now += 1.0
    after = by_pid(c.collect())[1]
    assert after is not busy and after.cpu_percent == 0.0


def test_a_memtotal_change_rebuilds_every_row(procdir: Path) -> None:
    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)
    clock.now += 1.0
    before = by_pid(c.collect())[1].mem_percent
    (procdir / "meminfo").write_text("MemTotal:        8000000 kB\n")
    clock.now += 1.0
    assert by_pid(c.collect())[1].mem_percent == pytest.approx(before / 2)


def test_io_is_read_for_a_process_in_d_state_without_cpu(procdir: Path) -> None:
    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)
    (procdir / "1" / "stat").write_text(stat_line(1, "init", "D", ppid=0, start=1, rss=1000))
    (procdir / "1" / "io").write_text("read_bytes: 4000\nwrite_bytes: 0\n")
    clock.now += 1.0
    assert by_pid(c.collect())[1].read_bytes_per_s == pytest.approx(4000.0)


def test_an_exec_rereads_the_command_line(procdir: Path) -> None:
    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)
    (procdir / "4242" / "stat").write_text(stat_line(4242, "newprog", start=7000))
    (procdir / "4242" / "cmdline").write_bytes(b"newprog\0--x\0")
    clock.now += 1.0
    assert by_pid(c.collect())[4242].cmdline == "newprog --x"


def test_gone_processes_are_pruned(procdir: Path) -> None:
    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)
    shutil.rmtree(procdir / "4242")
    clock.now += 1.0
    assert 4242 not in by_pid(c.collect())
    assert 4242 not in c._known  # the per-pid state went with it


@pytest.mark.parametrize("error", [FileNotFoundError, ProcessLookupError])
@pytest.mark.parametrize("which", ["stat", "io", "cmdline", "status"])
def test_a_process_vanishing_at_any_read_is_skipped(
    procdir: Path, monkeypatch: pytest.MonkeyPatch, error: type[OSError], which: str
) -> None:
    real = processes.read_bytes

    def vanishing(path: str) -> bytes:
        if path == f"{procdir}/42/{which}":
            raise error(2, "gone", path)
        return real(path)

    monkeypatch.setattr(processes, "read_bytes", vanishing)
    rows = by_pid(ProcessCollector(proc=str(procdir), clock=Clock()).collect())
    assert 42 not in rows
    assert 43 in rows  # and the scan went on


def test_unreadable_io_is_none_and_not_asked_again(
    procdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # perftop runs as root here, and root may read every /proc/PID/io, so the "another
    # user's process" case (EACCES for a non-root perftop) is simulated at the reader.
    real = processes.read_bytes
    asked: list[str] = []

    def denying(path: str) -> bytes:
        if path == f"{procdir}/43/io":
            asked.append(path)
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(processes, "read_bytes", denying)
    clock = Clock()
    c = ProcessCollector(proc=str(procdir), clock=clock)
    for _ in range(3):
        clock.now += 1.0
        row = by_pid(c.collect())[43]
        assert row.read_bytes_per_s is None and row.write_bytes_per_s is None
        assert row.cmdline == "x (y) z --flag"  # the rest of the row is there
    assert len(asked) == 1


def test_series_are_machine_wide_only(procdir: Path) -> None:
    c = ProcessCollector(proc=str(procdir), clock=Clock())
    series = c.series(c.collect())
    assert series["proc.count"] == 5.0
    assert all(not name.startswith("detail.") for name in series)


# real processes ------------------------------------------------------------------------


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for child in started:
        child.kill()
        child.wait()


def test_real_busy_child_is_hot_and_sleeping_child_is_cold(
    children: list[subprocess.Popen[bytes]],
) -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen(["sleep", "30"])
    children += [busy, idle]
    time.sleep(0.2)
    c = ProcessCollector()
    # Other work on this 2-core box can take a share of a tick from the spinner, so it gets
    # three half-second windows to show more than half a core in one of them.
    best = 0.0
    for _ in range(3):
        time.sleep(0.5)
        rows = by_pid(c.collect())
        best = max(best, rows[busy.pid].cpu_percent)
        if best > 50.0:
            break
    assert best > 50.0
    assert rows[busy.pid].state == "R"
    assert rows[idle.pid].cpu_percent < 5.0
    assert rows[idle.pid].cmdline == "sleep 30"
    assert rows[idle.pid].ppid == os.getpid()
    assert rows[idle.pid].read_bytes_per_s is not None  # root reads every /proc/PID/io


def test_real_hostile_command_line_is_kept_literally(
    children: list[subprocess.Popen[bytes]],
) -> None:
    markup = "[red]x[/red]"
    escapes = "\x1b[31mRED\x1b]0;title\x07"
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", markup, escapes, "a) (b"]
    )
    children.append(child)
    time.sleep(0.2)
    row = by_pid(ProcessCollector().collect())[child.pid]
    assert f"{markup} {escapes} a) (b" in row.cmdline
    assert "\0" not in row.cmdline


def test_real_process_of_another_user(children: list[subprocess.Popen[bytes]]) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to start a process as nobody")
    child = subprocess.Popen(["sleep", "30"], user="nobody")
    children.append(child)
    time.sleep(0.2)
    row = by_pid(ProcessCollector().collect())[child.pid]
    assert row.user == "nobody"


def test_real_renamed_process_with_parens_in_comm(
    children: list[subprocess.Popen[bytes]],
) -> None:
    code = (
        "import time, pathlib; pathlib.Path('/proc/self/comm').write_text('a) (b x'); "
        "time.sleep(30)"
    )
    child = subprocess.Popen([sys.executable, "-c", code])
    children.append(child)
    for _ in range(50):
        if Path(f"/proc/{child.pid}/comm").read_text().strip() == "a) (b x":
            break
        time.sleep(0.05)
    row = by_pid(ProcessCollector().collect())[child.pid]
    assert row.name == "a) (b x"
    assert row.state in "SR" and row.ppid == os.getpid()


# sort_rows and tree_order --------------------------------------------------------------


def row(pid: int, ppid: int = 0, **kw: object) -> ProcessRow:
    base: dict[str, object] = dict(
        pid=pid,
        ppid=ppid,
        user="u",
        name=f"p{pid}",
        cmdline=f"cmd{pid}",
        state="S",
        cpu_percent=0.0,
        mem_percent=0.0,
        rss=0,
        read_bytes_per_s=0.0,
        write_bytes_per_s=0.0,
        threads=1,
        cpu_time=0.0,
        nice=0,
        start_time=0.0,
    )
    base.update(kw)
    return ProcessRow(**base)  # type: ignore[arg-type]


def test_sort_rows_every_key_and_none_io_lowest() -> None:
    rows = [
        row(3, user="b", cpu_percent=5, read_bytes_per_s=None, write_bytes_per_s=None),
        row(1, user="c", cpu_percent=9, read_bytes_per_s=0.0, write_bytes_per_s=10.0),
        row(2, user="a", cpu_percent=5, read_bytes_per_s=7.0, write_bytes_per_s=0.0),
    ]
    assert [r.pid for r in sort_rows(rows, "pid")] == [1, 2, 3]
    assert [r.pid for r in sort_rows(rows, "user")] == [2, 3, 1]
    # Ties (cpu 5) stay in pid order in both directions.
    assert [r.pid for r in sort_rows(rows, "cpu", reverse=True)] == [1, 2, 3]
    assert [r.pid for r in sort_rows(rows, "cpu")] == [2, 3, 1]
    assert [r.pid for r in sort_rows(rows, "read", reverse=True)] == [2, 1, 3]
    assert [r.pid for r in sort_rows(rows, "read")] == [3, 1, 2]
    assert [r.pid for r in sort_rows(rows, "write", reverse=True)] == [1, 2, 3]
    for key in SORT_KEYS:
        assert len(sort_rows(rows, key)) == 3
    with pytest.raises(ValueError):
        sort_rows(rows, "bogus")


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("mem", "mem_percent"),
        ("rss", "rss"),
        ("threads", "threads"),
        ("state", "state"),
        ("time", "cpu_time"),
        ("command", "cmdline"),
        ("nice", "nice"),
    ],
)
def test_sort_rows_by_field(key: str, field: str) -> None:
    values = {"state": ["S", "R", "Z"], "cmdline": ["b", "a", "c"]}.get(field, [2, 1, 3])
    rows = [row(i + 1, **{field: v}) for i, v in enumerate(values)]
    assert [r.pid for r in sort_rows(rows, key)] == [2, 1, 3]


def test_tree_order_nests_children_and_roots_orphans() -> None:
    rows = [
        row(1, 0, cpu_percent=0),
        row(10, 1, cpu_percent=1),
        row(11, 10, cpu_percent=0),
        row(12, 10, cpu_percent=5),
        row(20, 1, cpu_percent=9),
        row(30, 999, cpu_percent=3),  # parent not visible: a root
    ]
    tree = tree_order(rows, "cpu", reverse=True)
    assert [(t.row.pid, t.depth, t.prefix) for t in tree] == [
        (30, 0, ""),
        (1, 0, ""),
        (20, 1, "├─ "),
        (10, 1, "└─ "),
        (12, 2, "   ├─ "),
        (11, 2, "   └─ "),
    ]
    # Tuple-like, as the TUI unpacks it.
    first_row, depth, prefix = tree[0]
    assert first_row.pid == 30 and depth == 0 and prefix == ""


def test_tree_order_guides_under_a_middle_child() -> None:
    rows = [row(1), row(2, 1), row(3, 2), row(4, 1)]
    assert [t.prefix for t in tree_order(rows)] == ["", "├─ ", "│  └─ ", "└─ "]


def test_tree_order_keeps_every_row_even_in_a_cycle() -> None:
    rows = [row(1, 2), row(2, 1), row(3, 3)]
    assert sorted(t.row.pid for t in tree_order(rows)) == [1, 2, 3]


def test_tree_order_of_a_real_scan_has_every_process_once() -> None:
    rows = ProcessCollector().collect().rows
    tree = tree_order(rows, "cpu", reverse=True)
    assert sorted(t.row.pid for t in tree) == sorted(r.pid for r in rows)
    parents = {t.row.pid: t.depth for t in tree}
    for t in tree:
        if t.depth > 0:
            assert parents[t.row.ppid] == t.depth - 1


# Kept /proc/PID/stat descriptors and idle processes -----------------------------------------


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
    monkeypatch: pytest.MonkeyPatch,
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


def test_an_idle_process_reniced_by_another_shows_its_new_nice_next_tick() -> None:
    child = subprocess.Popen(["sleep", "60"])
    try:
        c = ProcessCollector()
        for _ in range(3):  # until its row is kept on schedstat alone
            time.sleep(0.05)
            row = by_pid(c.collect())[child.pid]
        assert row.nice == 0 and child.pid in c._sched_fds
        os.setpriority(os.PRIO_PROCESS, child.pid, 7)
        assert by_pid(c.collect())[child.pid].nice == 7
    finally:
        child.kill()
        child.wait()


def test_an_orphan_shows_its_new_parent_next_tick() -> None:
    # a shell that starts a sleeping grandchild and exits: the grandchild is re-parented
    # (to init or a subreaper) without running
    out = subprocess.run(
        ["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!; sleep 0.5"],
        capture_output=True,
        text=True,
        check=False,
    )
    grandchild = int(out.stdout.split()[0])
    try:
        c = ProcessCollector()
        row = by_pid(c.collect())[grandchild]
        assert row.ppid != 0
        parent = row.ppid
        for _ in range(3):
            time.sleep(0.05)
            row = by_pid(c.collect())[grandchild]
        assert row.ppid == parent
    finally:
        os.kill(grandchild, 9)


def test_an_idle_child_whose_parent_ends_is_reparented_in_the_rows() -> None:
    code = (
        "import subprocess, sys; p = subprocess.Popen(['sleep', '60']); "
        "print(p.pid, flush=True); sys.stdin.read()"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    grandchild = int(parent.stdout.readline())
    try:
        c = ProcessCollector()
        for _ in range(3):
            time.sleep(0.05)
            row = by_pid(c.collect())[grandchild]
        assert row.ppid == parent.pid and grandchild in c._sched_fds
        assert parent.stdin is not None
        parent.stdin.close()
        parent.wait()
        time.sleep(0.05)
        assert by_pid(c.collect())[grandchild].ppid != parent.pid
    finally:
        os.kill(grandchild, 9)


def test_an_idle_process_that_wakes_up_shows_its_cpu() -> None:
    code = (
        "import sys, time\nsys.stdin.readline()\nend = time.time() + 0.3\n"
        "while time.time() < end: pass\ntime.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        c = ProcessCollector()
        for _ in range(3):
            time.sleep(0.05)
            row = by_pid(c.collect())[child.pid]
        assert row.cpu_percent == 0.0 and child.pid in c._sched_fds
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        time.sleep(0.4)
        assert by_pid(c.collect())[child.pid].cpu_percent > 20
    finally:
        child.kill()
        child.wait()
