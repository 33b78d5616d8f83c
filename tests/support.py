"""Shared test support: an async runner and fixed samples for TUI tests.

Fixed data only: these samples make snapshots and Pilot tests deterministic; the tests of
collectors read the real machine instead.
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import textwrap
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from perftop.collectors.samples import (
    CoreUsage,
    CpuSample,
    DiskRate,
    DiskSample,
    MemorySample,
    NetSample,
    NicRate,
    Pressure,
    ProcessRow,
    ProcessSample,
)
from perftop.store import Store

GiB = 1024**3
HOSTILE_NAME = "[b]d\x1b[2J"  # markup and "clear screen"


def run(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop (no asyncio plugin in this environment)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


HOSTILE = "[red]x[/red] \x1b[31mRED\x1b]0;title\x07"
MiB = 1024 * 1024


def row(
    pid: int,
    ppid: int,
    user: str,
    cmdline: str,
    *,
    cpu: float = 0.0,
    mem: float = 0.0,
    rss: int = 0,
    read: float | None = 0.0,
    write: float | None = 0.0,
    threads: int = 1,
    state: str = "S",
    time: float = 0.0,
    nice: int = 0,
    start: float = 100.0,
    name: str | None = None,
) -> ProcessRow:
    return ProcessRow(
        pid=pid,
        ppid=ppid,
        user=user,
        name=name or _comm(cmdline),
        cmdline=cmdline,
        state=state,
        cpu_percent=cpu,
        mem_percent=mem,
        rss=rss,
        read_bytes_per_s=read,
        write_bytes_per_s=write,
        threads=threads,
        cpu_time=time,
        nice=nice,
        start_time=start + pid,
    )


def _comm(cmdline: str) -> str:
    if cmdline.startswith("[") and cmdline.endswith("]") and " " not in cmdline:
        return cmdline[1:-1]  # a kernel thread: the collector shows comm in brackets
    return cmdline.split()[0].rsplit("/", 1)[-1][:15]


def fixed_rows() -> tuple[ProcessRow, ...]:
    """30 processes: a small machine's tree, every column with distinct-enough values."""
    return (
        row(1, 0, "root", "/sbin/init splash", cpu=0.1, mem=0.3, rss=12 * MiB, threads=1,
            time=12.5, read=None, write=None),
        row(2, 0, "root", "[kthreadd]", time=0.2, read=None, write=None),
        row(3, 2, "root", "[rcu_gp]", nice=-20, read=None, write=None),
        row(4, 2, "root", "[kworker/0:1-events]", cpu=0.7, state="I", time=3.1,
            read=None, write=None),
        row(5, 2, "root", "[ksoftirqd/0]", cpu=0.3, time=1.0, read=None, write=None),
        row(120, 1, "root", "/lib/systemd/systemd-journald", cpu=0.5, mem=0.9,
            rss=31 * MiB, time=44.0, write=5300.0, read=None),
        row(301, 1, "messagebus", "/usr/bin/dbus-daemon --system", mem=0.2, rss=5 * MiB,
            time=2.2, read=None, write=None),
        row(402, 1, "root", "/usr/sbin/sshd -D", mem=0.4, rss=8 * MiB, time=0.9,
            read=None, write=None),
        row(1001, 402, "root", "sshd: alice [priv]", mem=0.4, rss=9 * MiB, time=0.1,
            read=None, write=None),
        row(1010, 1001, "alice", "sshd: alice@pts/0", mem=0.3, rss=7 * MiB, time=0.4),
        row(1011, 1010, "alice", "-bash", mem=0.2, rss=5 * MiB, time=0.05),
        row(1200, 1011, "alice", "python3 -m worker --queue=high", cpu=97.5, mem=6.2,
            rss=520 * MiB, read=12.3 * MiB, write=300 * 1024, threads=12, state="R",
            time=3723.45),
        row(1201, 1200, "alice", "python3 -m worker --child 1", cpu=55.0, mem=2.1,
            rss=180 * MiB, threads=4, state="R", time=900.5),
        row(1202, 1200, "alice", "python3 -m worker --child 2", cpu=12.0, mem=2.0,
            rss=175 * MiB, threads=4, time=310.0),
        row(1300, 1011, "alice", HOSTILE, cpu=1.0, mem=0.1, rss=3 * MiB, time=0.5),
        row(1301, 1011, "alice", "vim notes.md", mem=0.5, rss=14 * MiB, time=8.0),
        row(1400, 1, "postgres", "/usr/lib/postgresql/16/bin/postgres -D /var/lib/pg",
            cpu=2.0, mem=3.5, rss=300 * MiB, read=1.5 * MiB, write=4 * MiB, threads=1,
            time=7300.0),
        row(1401, 1400, "postgres", "postgres: checkpointer", mem=1.0, rss=80 * MiB,
            write=2 * MiB, time=20.0),
        row(1402, 1400, "postgres", "postgres: background writer", mem=0.6, rss=40 * MiB,
            time=15.0),
        row(1403, 1400, "postgres", "postgres: walwriter", mem=0.5, rss=30 * MiB, time=9.0),
        row(1404, 1400, "postgres", "postgres: app db 10.0.0.5(51234) SELECT", cpu=35.0,
            mem=1.8, rss=120 * MiB, read=40 * MiB, state="D", time=61.0),
        row(1500, 1, "www-data", "nginx: master process /usr/sbin/nginx", mem=0.2,
            rss=6 * MiB, time=1.2, read=None, write=None),
        row(1501, 1500, "www-data", "nginx: worker process", cpu=3.0, mem=0.3, rss=9 * MiB,
            time=40.0, read=None, write=None),
        row(1502, 1500, "www-data", "nginx: worker process", cpu=2.5, mem=0.3, rss=9 * MiB,
            time=38.0, read=None, write=None),
        row(1600, 1, "longusername", "/opt/agent/bin/agent --password=s3cret", cpu=0.2,
            mem=1.1, rss=60 * MiB, threads=20, nice=10, time=400.0),
        row(1700, 1, "root", "/usr/sbin/cron -f", time=0.3, read=None, write=None),
        row(1800, 1, "root", "/usr/bin/containerd", cpu=0.9, mem=1.5, rss=70 * MiB,
            threads=14, time=250.0, read=None, write=None),
        row(1900, 1, "root", "/usr/bin/dockerd -H fd://", cpu=0.4, mem=2.3, rss=110 * MiB,
            threads=22, time=180.0, read=None, write=None),
        row(2000, 1900, "root", "zombie-child", state="Z", read=None, write=None),
        row(2100, 1, "bob", "htop", cpu=4.0, mem=0.1, rss=4 * MiB, time=30.0, nice=0),
    )  # fmt: skip


def process_sample(rows: tuple[ProcessRow, ...] | None = None) -> ProcessSample:
    rows = fixed_rows() if rows is None else rows
    return ProcessSample(
        time=0.0,
        rows=rows,
        running=sum(r.state == "R" for r in rows),
        threads=sum(r.threads for r in rows),
        ncpu=2,
    )


# Fixed samples ------------------------------------------------------------------------------


def cores(n: int) -> tuple[CoreUsage, ...]:
    """`n` cores with distinct, fixed loads; core 2 (if any) is exactly 37.5% busy."""
    usage = [CoreUsage(10.0 + (i * 7) % 60, 5.0 + (i * 3) % 20, 1.0, 0.0) for i in range(n)]
    if n > 2:
        usage[2] = CoreUsage(user=25.0, system=10.0, iowait=4.0, steal=2.5)
    return tuple(usage)


CPU_PSI = Pressure(0.52, 1.25, 0.9)
MEMORY_PSI = Pressure(0.1, 0.2, 0.3, 0.05)


def cpu_sample(n: int = 4, pressure: Pressure | None = CPU_PSI) -> CpuSample:
    return CpuSample(
        time=100.0,
        total=CoreUsage(30.0, 12.0, 2.0, 0.5),
        cores=cores(n),
        load=(1.25, 0.75, 0.5),
        ctx_switches_per_s=12_345.0,
        interrupts_per_s=3_456.0,
        pressure=pressure,
    )


def memory_sample(pressure: Pressure | None = MEMORY_PSI) -> MemorySample:
    return MemorySample(
        time=100.0,
        total=16 * GiB,
        used=4 * GiB,
        buffers=GiB // 2,
        cached=6 * GiB,
        available=11 * GiB,
        swap_total=2 * GiB,
        swap_used=GiB // 8,
        major_faults_per_s=12.0,
        pressure=pressure,
    )


def disk_sample(names: tuple[str, ...] = ("nvme0n1", "sda", "dm-0")) -> DiskSample:
    rates = [(12e6, 3.4e6, 120, 45, 37.0, 0.8), (0.0, 1e3, 0, 1, 0.5, 4.0), (5e5, 0, 10, 0, 91, 15)]
    return DiskSample(
        time=100.0,
        devices=tuple(DiskRate(name, *rate) for name, rate in zip(names, rates, strict=False)),
        pressure=Pressure(0.25, 0.5, 0.1, 0.125),
    )


def nic(name: str, rx: float, errors_per_s: float = 0.0, drops_total: int = 0) -> NicRate:
    return NicRate(
        name, rx, rx / 7, 1200.0, 800.0, errors_per_s, 0.0, 0.0, 0.0, 3, 0, drops_total, 0
    )


def net_sample() -> NetSample:
    return NetSample(time=100.0, nics=(nic("eth0", 1.5e6, drops_total=12), nic("lo", 1e3)))


def filled(ncores: int = 2) -> Store:
    """A store with every dashboard source ok and two minutes of CPU history."""
    store = Store()
    store.put("cpu", cpu_sample(ncores))
    for i in range(120):
        store.extend({"cpu.total": float((i * 37) % 90)})
    store.put("memory", memory_sample())
    store.put("disk", disk_sample())
    store.put("net", net_sample())
    return store


def filled_store() -> Store:
    """`filled()` plus the fixed process table: everything the dashboard shows."""
    store = filled()
    store.put("processes", process_sample())
    return store


# PostgreSQL ---------------------------------------------------------------------------------

import dataclasses  # noqa: E402 - the PostgreSQL builders were added after the rest

from perftop.collectors.postgres.samples import (  # noqa: E402
    ActivitySample,
    Backend,
    ServerInfo,
    StatementKey,
    StatementRate,
    StatementsSample,
)

HOSTILE_SQL = "SELECT '[red]x[/red]' \x1b[31m"


def pg_server(**changes: Any) -> ServerInfo:
    """A PostgreSQL 15 server seen by a pg_monitor role, its DSN already masked."""
    server = ServerInfo(
        version="15.18",
        version_num=150018,
        pgss_version="1.10",
        pgss_preloaded=True,
        user="perftop",
        database="shop",
        can_read_all_stats=True,
        dsn_display="postgresql://perftop:****@db.internal:5432/shop",
    )
    return dataclasses.replace(server, **changes)


def statement(
    queryid: int,
    query: str,
    *,
    user: str = "app",
    database: str = "shop",
    userid: int = 10,
    dbid: int = 5,
    calls: int = 100,
    ms: float = 100.0,
    mean_overall: float = 1.0,
    rows: float = 1.0,
    hit: float | None = 99.0,
    read: float = 0.0,
    temp: float = 0.0,
    wal: float = 0.0,
    plan: float = 0.0,
    seconds: float = 2.0,
    hidden: bool = False,
    share: float = 0.0,
    toplevel: bool = True,
) -> StatementRate:
    """One statement's figures over a `seconds` window (`ms` of execution in it)."""
    return StatementRate(
        key=StatementKey(userid, dbid, queryid, toplevel),
        user=user,
        database=database,
        query=query,
        query_hidden=hidden,
        seconds=seconds,
        calls=calls,
        calls_per_s=calls / seconds,
        total_ms=ms,
        ms_per_s=ms / seconds,
        share=share,
        mean_ms=ms / calls if calls else 0.0,
        mean_ms_overall=mean_overall,
        rows_per_s=rows,
        hit_percent=hit,
        blks_read_per_s=read,
        temp_written_per_s=temp,
        wal_bytes_per_s=wal,
        plan_ms=plan,
    )


def fixed_statements() -> tuple[StatementRate, ...]:
    """Eight statements whose figures each put them in a different order."""
    rates = (
        statement(101, "SELECT * FROM orders WHERE id = $1", calls=4000, ms=800.0,
                  mean_overall=0.3, rows=2000.0, hit=99.9, read=1.0, wal=0.0, plan=12.0),
        statement(102, "UPDATE stock SET qty = qty - $1 WHERE sku = $2", calls=600, ms=1500.0,
                  mean_overall=2.2, rows=300.0, hit=97.5, read=15.0, wal=2_500_000.0),
        statement(103, "SELECT customer_id, sum(total) FROM orders GROUP BY 1 ORDER BY 2 DESC",
                  user="report", userid=11, database="analytics", dbid=6, calls=2, ms=2600.0,
                  mean_overall=1400.0, rows=5.0, hit=62.0, read=900.0, temp=350.0),
        statement(104, HOSTILE_SQL, calls=10, ms=5.0, mean_overall=0.6, rows=40.0, hit=None),
        statement(105, "", user="postgres", userid=12, calls=50, ms=60.0, mean_overall=1.1,
                  rows=25.0, hit=88.0, read=3.0, wal=1000.0, hidden=True),
        statement(106, "INSERT INTO audit (at, who, what)\n  VALUES ($1, $2, $3)", calls=300,
                  ms=90.0, mean_overall=0.25, rows=150.0, hit=99.0, wal=80_000.0, plan=1.5),
        statement(101, "SELECT * FROM orders WHERE id = $1", user="report", userid=11,
                  calls=20, ms=7.0, mean_overall=0.35, rows=10.0, hit=100.0),
        statement(107, "VACUUM ANALYZE orders", database="analytics", dbid=6, calls=0, ms=0.0,
                  mean_overall=5000.0, rows=0.0, hit=None, toplevel=False),
    )  # fmt: skip
    total = sum(r.total_ms for r in rates)
    return tuple(dataclasses.replace(r, share=100.0 * r.total_ms / total) for r in rates)


def statements_sample(
    rates: tuple[StatementRate, ...] | None = None, window: str = "interval", **changes: Any
) -> StatementsSample:
    rates = fixed_statements() if rates is None else rates
    seconds = rates[0].seconds if rates else 2.0
    return StatementsSample(
        time=100.0,
        window=window,
        seconds=seconds,
        statements=rates,
        total_ms_per_s=sum(r.ms_per_s for r in rates),
        **changes,
    )


def backend(
    pid: int,
    state: str = "active",
    query: str = "SELECT 1",
    *,
    user: str = "app",
    database: str = "shop",
    client: str = "10.0.0.5:51234",
    application: str = "web",
    backend_type: str = "client backend",
    query_seconds: float | None = 0.5,
    xact_seconds: float | None = 0.5,
    state_seconds: float | None = 0.5,
    wait: tuple[str, str] = ("", ""),
    blocked_by: tuple[int, ...] = (),
    hidden: bool = False,
) -> Backend:
    return Backend(
        pid=pid,
        database=database,
        user=user,
        client=client,
        application=application,
        backend_type=backend_type,
        state=state,
        query_seconds=query_seconds,
        xact_seconds=xact_seconds,
        state_seconds=state_seconds,
        wait_event_type=wait[0],
        wait_event=wait[1],
        query=query,
        query_hidden=hidden,
        blocked_by=blocked_by,
    )


def fixed_backends() -> tuple[Backend, ...]:
    """A blocking chain 300 ← 301 ← 302, idle-in-transaction backends, two workers."""
    return (
        backend(300, "idle in transaction", "UPDATE stock SET qty = 0 WHERE sku = 'a'",
                query_seconds=95.0, xact_seconds=96.0, state_seconds=90.0),
        backend(301, "active", "UPDATE stock SET qty = 1 WHERE sku = 'a'",
                query_seconds=40.0, xact_seconds=40.0, wait=("Lock", "transactionid"),
                blocked_by=(300,)),
        backend(302, "active", "DELETE FROM stock WHERE sku = 'a'", user="report",
                query_seconds=20.0, xact_seconds=21.0, wait=("Lock", "tuple"),
                blocked_by=(301,)),
        backend(303, "idle in transaction", "SELECT * FROM orders", application="psql",
                client="local", query_seconds=12.0, xact_seconds=15.0, state_seconds=12.0),
        backend(304, "active", HOSTILE_SQL, application="[b]app\x1b]0;t\x07",
                query_seconds=1.5, xact_seconds=1.5),
        backend(305, "idle", "COMMIT", query_seconds=None, xact_seconds=None,
                state_seconds=300.0, wait=("Client", "ClientRead")),
        backend(306, "active", "", user="postgres", hidden=True, query_seconds=3.0),
        backend(400, "active", "autovacuum: VACUUM public.orders", user="postgres",
                client="", application="", backend_type="autovacuum worker",
                query_seconds=30.0, xact_seconds=30.0),
        backend(401, "", "", user="postgres", database="", client="", application="",
                backend_type="logical replication launcher", query_seconds=None,
                xact_seconds=None, state_seconds=None, wait=("Activity", "LogicalLauncherMain")),
    )  # fmt: skip


def activity_sample(backends: tuple[Backend, ...] | None = None, **changes: Any) -> ActivitySample:
    return ActivitySample(
        time=100.0, backends=fixed_backends() if backends is None else backends, **changes
    )


def pg_store(**server_changes: Any) -> Store:
    """A store with the server, statements and activity sources all ok."""
    store = Store()
    store.put("pg.server", pg_server(**server_changes))
    store.put("pg.statements", statements_sample())
    store.put("pg.activity", activity_sample())
    return store


# A real Python process with a known hot function ------------------------------------------

BURN = textwrap.dedent(
    """
    import sys, threading, time

    def sleeper():
        while True:
            time.sleep(0.5)

    def burn_cpu(n):
        x = 0
        for i in range(n):
            x += i * i
        return x

    def main(seconds):
        threading.Thread(target=sleeper, name="sleepy", daemon=True).start()
        end = time.monotonic() + seconds
        print("ready", flush=True)
        while time.monotonic() < end:
            burn_cpu(20000)

    main(float(sys.argv[1]))
    """
)


def start_burner(tmp: Path, seconds: float = 60.0) -> subprocess.Popen[str]:
    script = tmp / "burn.py"
    script.write_text(BURN)
    child = subprocess.Popen(
        [sys.executable, str(script), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return child


# A process that counts the signals it receives ------------------------------------------

COUNTER = """
import os, signal, sys, time
path = sys.argv[1]
count = 0
def write(n):
    # Whole or not at all: a reader never sees the file truncated between two counts.
    with open(path + ".new", "w") as f:
        f.write(str(n))
    os.replace(path + ".new", path)
def counted(signum, frame):
    global count
    count += 1
    write(count)
signal.signal(signal.SIGUSR1, counted)
write(0)
while True:
    time.sleep(0.05)
"""


def start_counter(tmp: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """A real process that counts the SIGUSR1 it receives into a file, started and ready
    (its handler installed, the file holding 0)."""
    import time

    path = tmp / "count"
    proc = subprocess.Popen([sys.executable, "-c", COUNTER, str(path)])
    deadline = time.monotonic() + 10
    while not (path.exists() and path.read_text() == "0"):
        assert time.monotonic() < deadline, "the counter did not start"
        time.sleep(0.02)
    return proc, path


def settled_count(path: Path, quiet: float = 0.5, timeout: float = 5.0) -> int:
    """The counter's value once it has not changed for `quiet` seconds."""
    import time

    deadline = time.monotonic() + timeout
    last, since = int(path.read_text()), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.05)
        now = int(path.read_text())
        if now != last:
            last, since = now, time.monotonic()
    return last


# Waiting for what a test needs -------------------------------------------------------------


async def until(pilot: Any, condition: Callable[[], object], timeout: float = 15.0) -> None:
    """Let the app run until `condition()` holds; fail (with what was awaited) if it does
    not within `timeout` seconds. For what a fixed pause would only hope had happened."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {condition.__doc__ or condition}"
        await pilot.pause(0.05)
