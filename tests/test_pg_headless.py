"""`postgres_section`: the snapshot's PostgreSQL part, against the real server."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from perftop.collectors.postgres.connect import PASSWORD_NOTICE
from perftop.sessions.postgres import postgres_section

from .pg_cluster import PgCluster, free_port
from .support import run


@run
async def test_statements_over_the_seconds_and_activity_at_the_end(pg_cluster: PgCluster) -> None:
    pg_cluster.psql("CREATE TABLE IF NOT EXISTS headless_t(n int); TRUNCATE headless_t;"
                    "INSERT INTO headless_t SELECT generate_series(1, 10)")  # fmt: skip
    dsn = pg_cluster.create_role("headless_pw", password="sn4psh0t secret", read_all_stats=True)
    pg_cluster.psql("GRANT SELECT ON headless_t TO headless_pw")
    worker = await asyncpg.connect(pg_cluster.dsn)

    async def workload() -> None:
        await asyncio.sleep(0.3)
        for _ in range(9):
            await worker.fetch("SELECT * FROM headless_t WHERE n > $1", 5)
        await worker.execute("ALTER ROLE headless_pw PASSWORD 'sn4psh0t secret'")

    try:
        doc, _ = await asyncio.gather(postgres_section(dsn, 1.0), workload())
    finally:
        await worker.close()
    text = json.dumps(doc)
    assert "sn4psh0t" not in text  # neither the DSN's password nor the ALTER ROLE's
    assert doc["target"] == dsn.replace("sn4psh0t%20secret", "****")
    assert doc["errors"] == {}
    assert PASSWORD_NOTICE in doc["notices"]
    assert doc["server"]["pg_stat_statements"] == "1.10" and doc["server"]["user"] == "headless_pw"
    assert 1.0 <= doc["seconds"] < 30
    [row] = [s for s in doc["statements"] if "FROM headless_t" in s["text"]]
    assert row["calls"] == 9 and row["rows"] == 45
    assert row["calls_per_s"] == pytest.approx(9 / doc["seconds"])
    assert row["mean_ms"] == pytest.approx(row["total_ms"] / 9)
    assert row["hit_percent"] == 100.0
    [alter] = [s for s in doc["statements"] if s["text"].startswith("ALTER ROLE")]
    assert "PASSWORD '****'" in alter["text"]
    totals = [s["total_ms"] for s in doc["statements"]]
    assert totals == sorted(totals, reverse=True)
    assert any(b["backend_type"] == "checkpointer" for b in doc["activity"])


@run
async def test_unreachable_server_is_one_line_in_errors() -> None:
    port = free_port()
    doc = await postgres_section(f"postgresql://u:pw@127.0.0.1:{port}/x", 0.1)
    assert doc["target"] == f"postgresql://u:****@127.0.0.1:{port}/x"
    assert set(doc["errors"]) == {"statements", "activity"}
    assert all(m.startswith(f"cannot reach PostgreSQL at 127.0.0.1:{port}")
               for m in doc["errors"].values())  # fmt: skip
    assert doc["statements"] is None and doc["activity"] is None
