"""The PostgreSQL screen's own cost with 5,000 statements and 300 backends.

`python -m benchmarks.pg_screen [--ticks 50] [--statements 5000] [--backends 300]`

A headless Textual app (160x45) shows the queries screen; each tick puts a fresh
statements and activity sample in the store (new figures, so the order changes), calls
`show(store)` and waits for the frame. Printed, as median and 95th percentile over the
ticks: the CPU time of one tick (show + the redraw of what is visible) and the time of
`sort_statements` alone over all the statements. Then the CPU time of moving the cursor
down one line (the redraw of two lines). Target: a tick well under 50 ms of CPU, so a 1 s
refresh costs the screen under 5 % of a core.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from textual.app import App

from perftop.collectors.postgres.samples import (
    ActivitySample,
    Backend,
    ServerInfo,
    StatementKey,
    StatementRate,
    StatementsSample,
)
from perftop.store import Store
from perftop.tui.pg_tables import sort_statements
from perftop.tui.queries import QueriesScreen

SIZE = (160, 45)


def statements(n: int, tick: int) -> tuple[StatementRate, ...]:
    out = []
    for i in range(n):
        ms = float((i * 7919 + tick * 104729) % 5000)
        calls = 1 + (i * 37 + tick) % 1000
        out.append(
            StatementRate(
                key=StatementKey(10 + i % 3, 5, 1_000_000 + i),
                user=f"user{i % 3}",
                database=f"db{i % 4}",
                query=f"SELECT a, b, c FROM table_{i % 97} WHERE id = $1 AND k = {i}",
                query_hidden=False,
                seconds=1.0,
                calls=calls,
                calls_per_s=float(calls),
                total_ms=ms,
                ms_per_s=ms,
                share=ms / 50_000,
                mean_ms=ms / calls,
                mean_ms_overall=1.0 + i % 13,
                rows_per_s=float(i % 300),
                hit_percent=90.0 + i % 10,
                blks_read_per_s=float(i % 17),
                temp_written_per_s=float(i % 29 == 0),
                wal_bytes_per_s=float(i % 1000),
                plan_ms=0.0,
            )
        )
    return tuple(out)


def backends(n: int, tick: int) -> tuple[Backend, ...]:
    return tuple(
        Backend(
            pid=1000 + i,
            database=f"db{i % 4}",
            user=f"user{i % 3}",
            client=f"10.0.0.{i % 250}:5{i:04d}",
            application="web",
            backend_type="client backend" if i % 20 else "autovacuum worker",
            state=("active", "idle", "idle in transaction")[i % 3],
            query_seconds=float((i + tick) % 100),
            xact_seconds=float((i + tick) % 120),
            state_seconds=float(i % 90),
            wait_event_type="Lock" if i % 11 == 0 else "",
            wait_event="transactionid" if i % 11 == 0 else "",
            query=f"UPDATE t SET v = v + 1 WHERE id = {i}",
            query_hidden=False,
            blocked_by=(1000 + i - 1,) if i % 11 == 0 and i else (),
        )
        for i in range(n)
    )


SERVER = ServerInfo("15.18", 150018, "1.10", True, "perftop", "db0", True, "postgresql:///db0")


class Host(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.screen_under_test = QueriesScreen()

    def on_mount(self) -> None:
        self.push_screen(self.screen_under_test)


def _ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"median {statistics.median(values) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


async def run(ticks: int, n_statements: int, n_backends: int) -> None:
    store = Store()
    store.put("pg.server", SERVER)
    samples = [(statements(n_statements, t), backends(n_backends, t)) for t in range(ticks + 1)]
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen_under_test
        await pilot.pause()
        tick_cpu: list[float] = []
        sort_cpu: list[float] = []
        for t, (rates, rows) in enumerate(samples):
            total = sum(r.ms_per_s for r in rates)
            store.put("pg.statements", StatementsSample(t, "interval", 1.0, rates, total))
            store.put("pg.activity", ActivitySample(t, rows))
            started = time.process_time()
            screen.show(store)
            await pilot.pause()
            if t:  # the first tick includes the first layout
                tick_cpu.append(time.process_time() - started)
            started = time.process_time()
            sort_statements(rates, "ms_per_s", True)
            sort_cpu.append(time.process_time() - started)
        move_cpu: list[float] = []
        for _ in range(ticks):
            started = time.process_time()
            await pilot.press("down")
            await pilot.pause()
            move_cpu.append(time.process_time() - started)
    print(f"queries screen, {n_statements} statements, {n_backends} backends, {SIZE[0]}x{SIZE[1]}")
    print(f"  tick (show + redraw), CPU:  {_ms(tick_cpu)}")
    print(f"  sort of all statements, CPU: {_ms(sort_cpu)}")
    print(f"  cursor down one line, CPU:  {_ms(move_cpu)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_screen")
    parser.add_argument("--ticks", type=int, default=50)
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--backends", type=int, default=300)
    args = parser.parse_args(argv)
    asyncio.run(run(args.ticks, args.statements, args.backends))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
