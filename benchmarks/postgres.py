"""`python -m benchmarks.postgres`: what perftop's PostgreSQL views cost.

Starts a throwaway cluster (tests/pg_cluster.py), fills pg_stat_statements with 5,000
distinct statements, then measures:

both on the idle server before the fill (a handful of entries) and with the 5,000:

- one poll (statements + activity, as the app ticks them) over >= 30 polls: median, p90;
  "busy" polls follow a statement from another connection (pg_stat_statements is read),
  "quiet" ones follow nothing (perftop's quiet check only); the statements window is
  "interval" with every entry already known (the steady state), and the first poll with
  all 5,000 texts to fetch is timed apart;
- perftop's own CPU (this process's user+system time) polling at 1 s for ~30 s;
- the load perftop puts on the server: its own rows in pg_stat_statements (calls, total
  ms) over that run, against the server's busiest other statement (the benchmark's own
  reads of pg_stat_statements, before and after), and perftop's own figure
  (`own_ms_per_s`); how many ticks perftop's own view ranked a perftop statement first.

Run from the repository root (it imports `tests.pg_cluster`). Prints a JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from perftop.collectors.postgres.activity import ActivityCollector  # noqa: E402
from perftop.collectors.postgres.connect import resolve_target  # noqa: E402
from perftop.collectors.postgres.queries import is_own  # noqa: E402
from perftop.collectors.postgres.statements import StatementsCollector  # noqa: E402
from tests.pg_cluster import throwaway_cluster  # noqa: E402

OWN = "[perftop] "  # the first characters of the name of perftop's own entries


async def fill(dsn: str, statements: int) -> None:
    """`statements` distinct queryids: one table per 50, 100 query shapes per table."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = statements // 50
        for t in range(tables):
            await conn.execute(f"CREATE TABLE IF NOT EXISTS bench_{t}(a int, b int, c int)")
        for t in range(tables):
            for shape in range(50):
                # A distinct column list per shape gives a distinct queryid.
                cols = ", ".join(["a", "b", "c"][: 1 + shape % 3])
                limit = f" LIMIT {shape}" if shape >= 3 else ""
                where = " AND ".join(f"a <> {i}" for i in range(1 + shape // 3))
                await conn.execute(f"SELECT {cols} FROM bench_{t} WHERE {where}{limit}")
    finally:
        await conn.close()


def cpu() -> float:
    return time.process_time()  # this process's user + system CPU, finer than os.times()


def percentiles(durations: list[float]) -> dict[str, float]:
    durations = sorted(durations)
    return {
        "polls": len(durations),
        "median": statistics.median(durations),
        "p90": durations[int(0.9 * (len(durations) - 1))],
        "max": durations[-1],
    }


async def measure(dsn: str, polls: int, cpu_seconds: float, texts: bool) -> dict[str, object]:
    """One scenario against the server as it is: the poll time (quiet polls, when nothing
    else ran, and busy ones, with one statement from another connection before each), then
    ~`cpu_seconds` at a 1 s refresh on the otherwise idle server: perftop's CPU, its own
    ms/s as it reports it (`own_ms_per_s`) and as pg_stat_statements shows it."""
    target = resolve_target(dsn)
    statements = StatementsCollector(target, 1.0)
    activity = ActivityCollector(target, 1.0)
    other = await asyncpg.connect(dsn, server_settings={"application_name": "bench"})
    result: dict[str, object] = {}
    try:
        await statements.collect()
        await activity.collect()
        if texts:
            statements.window = "reset"  # every entry has calls: all their texts fetched once
            started = time.perf_counter()
            first = await statements.collect()
            result["first_poll_with_all_texts_ms"] = (time.perf_counter() - started) * 1000
            result["statements_in_reset_window"] = len(first.statements)
            statements.window = "interval"
        for kind in ("busy", "quiet"):
            durations = []
            reads = statements.full_reads
            for i in range(polls):
                if kind == "busy":
                    await other.fetch("SELECT count(*) FROM pg_class WHERE relpages <> $1", i)
                started = time.perf_counter()
                await statements.collect()
                await activity.collect()
                durations.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.05)
            result[f"poll_ms_{kind}"] = {
                **percentiles(durations),
                "full_reads": statements.full_reads - reads,
            }
        # 1 s refresh, as the app runs it; the server is otherwise idle.
        before = await own_rows(other)
        cpu_before, wall_before = cpu(), time.monotonic()
        ticks, reads = 0, statements.full_reads
        top_is_perftop = 0
        reported: list[float] = []
        while time.monotonic() - wall_before < cpu_seconds:
            tick_start = time.monotonic()
            sample = await statements.collect()
            await activity.collect()
            ticks += 1
            reported.append(sample.own_ms_per_s)
            ranked = sorted(sample.statements, key=lambda s: -s.ms_per_s)
            top_is_perftop += bool(ranked) and is_own(ranked[0].query)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick_start)))
        wall = time.monotonic() - wall_before
        result["cpu_at_1s_refresh"] = {
            "seconds": wall,
            "ticks": ticks,
            "full_reads": statements.full_reads - reads,
            "percent_of_a_core": 100 * (cpu() - cpu_before) / wall,
        }
        result["server_load"] = load(before, await own_rows(other), wall)
        result["perftop_reported_own_ms_per_s"] = {
            "median": statistics.median(reported),
            "last": reported[-1],
        }
        result["ticks_where_perftops_view_ranks_perftop_top"] = top_is_perftop
        result["text_queries"] = statements.text_queries
    finally:
        await other.close()
        await statements.close()
        await activity.close()
    return result


async def own_rows(conn: asyncpg.Connection) -> dict[str, tuple[float, float]]:
    """Every entry's (calls, total ms) by its text's first line, perftop's own (by their
    whole text) named with OWN first."""
    rows = await conn.fetch("SELECT query, calls, total_exec_time FROM pg_stat_statements")
    out: dict[str, tuple[float, float]] = {}
    for r in rows:
        name = r["query"].splitlines()[0][:70]
        if is_own(r["query"]):
            name = OWN + name
        calls, ms = out.get(name, (0.0, 0.0))
        out[name] = (calls + r["calls"], ms + r["total_exec_time"])
    return out


def load(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]], wall: float
) -> dict[str, object]:
    """perftop's statements (its SQL files start with a comment; the names lookup) against
    the rest, over the run: the server is otherwise idle."""
    delta = {
        name: (calls - before.get(name, (0, 0))[0], ms - before.get(name, (0, 0))[1])
        for name, (calls, ms) in after.items()
    }
    delta = {k: v for k, v in delta.items() if v[0] > 0}
    ours = {k: v for k, v in delta.items() if k.startswith(OWN)}
    others = {k: v for k, v in delta.items() if k not in ours}
    total_ours = sum(ms for _, ms in ours.values())
    top = max(delta, key=lambda k: delta[k][1]) if delta else None
    return {
        "perftop_calls": sum(c for c, _ in ours.values()),
        "perftop_total_ms": total_ours,
        "perftop_ms_per_s": total_ours / wall,
        "perftop_statements": {k: {"calls": c, "total_ms": ms} for k, (c, ms) in ours.items()},
        "other_statements": {k: {"calls": c, "total_ms": ms} for k, (c, ms) in others.items()},
        "top_statement": top,
        "top_statement_is_perftop": top in ours,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.postgres")
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--polls", type=int, default=30)
    parser.add_argument("--cpu-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    out: dict[str, object] = {}
    with throwaway_cluster(pgss_max=max(10000, args.statements * 2)) as cluster:
        count = "SELECT count(*) FROM pg_stat_statements"
        for name, texts in (("idle", False), (f"with_{args.statements}_statements", True)):
            if texts:
                asyncio.run(fill(cluster.dsn, args.statements))
            entries: dict[str, object] = {"pg_stat_statements_entries": int(cluster.psql(count))}
            result = asyncio.run(measure(cluster.dsn, args.polls, args.cpu_seconds, texts))
            out[name] = {**entries, **result}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
