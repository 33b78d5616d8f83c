"""The PostgreSQL part of `perftop snapshot --json`: statements over N seconds, activity at
the end.

Two reads of pg_stat_statements `seconds` apart (the first is the baseline), so every
figure covers exactly the measured time between them, then one read of pg_stat_activity.
The document:

    {
      "target": "postgresql://app:****@db/shop",   # password masked
      "server": {"version": "15.18", "pg_stat_statements": "1.10", "user": ..., "database": ...,
                 "can_read_all_stats": true} | null,
      "seconds": 5.002,                             # measured
      "own": {"ms_per_s": ..., "calls_per_s": ..., "seconds": ...},  # perftop's own queries
      "statements": [{"queryid": ..., "user": ..., "database": ..., "toplevel": true,
                      "text": "...", "text_hidden": false, "calls": 12, "calls_per_s": ...,
                      "total_ms": ..., "mean_ms": ..., "mean_ms_overall": ..., "share": ...,
                      "rows": ..., "hit_percent": ... | null, "blks_read": ...,
                      "temp_blks_written": ..., "wal_bytes": ..., "plan_ms": ...}, ...],
      "activity": [{"pid": ..., "database": ..., "user": ..., ..., "blocked_by": [...]}, ...],
      "notices": ["..."],
      "errors": {"statements": "one line", "activity": "one line"}   # only what failed
    }

Statements are sorted by total execution time, most first. Texts are normalised SQL with
passwords masked (`mask_sql`). A failure of one part is a line in "errors"; the other part
still reports.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from ..collectors.base import CollectorError
from ..collectors.postgres.activity import ActivityCollector
from ..collectors.postgres.connect import resolve_target
from ..collectors.postgres.samples import ActivitySample, StatementRate, StatementsSample
from ..collectors.postgres.statements import StatementsCollector


def _statement(s: StatementRate) -> dict[str, Any]:
    return {
        "queryid": s.key.queryid,
        "user": s.user,
        "database": s.database,
        "toplevel": s.key.toplevel,
        "text": s.query,
        "text_hidden": s.query_hidden,
        "calls": s.calls,
        "calls_per_s": s.calls_per_s,
        "total_ms": s.total_ms,
        "mean_ms": s.mean_ms,
        "mean_ms_overall": s.mean_ms_overall,
        "share": s.share,
        "rows": round(s.rows_per_s * s.seconds),
        "hit_percent": s.hit_percent,
        "blks_read": round(s.blks_read_per_s * s.seconds),
        "temp_blks_written": round(s.temp_written_per_s * s.seconds),
        "wal_bytes": round(s.wal_bytes_per_s * s.seconds),
        "plan_ms": s.plan_ms,
    }


async def postgres_section(dsn: str | None, seconds: float) -> dict[str, Any]:
    """Statements over `seconds` and the activity at the end, as a JSON-ready dict."""
    doc: dict[str, Any] = {
        "target": None, "server": None, "seconds": None, "own": None, "statements": None,
        "activity": None, "notices": [], "errors": {},
    }  # fmt: skip
    try:
        target = resolve_target(dsn)
    except CollectorError as exc:
        doc["errors"]["connect"] = str(exc)
        return doc
    doc["target"] = target.display
    interval = max(1.0, seconds)
    statements = StatementsCollector(target, interval)
    activity = ActivityCollector(target, interval)
    notices: list[str] = []
    try:
        first: StatementsSample | None = None
        try:
            first = await statements.collect()
        except CollectorError as exc:
            doc["errors"]["statements"] = str(exc)
        await asyncio.sleep(seconds)
        if first is not None:
            try:
                sample = await statements.collect()
                notices += [*first.notices, *sample.notices]
                doc["seconds"] = sample.seconds
                doc["own"] = {
                    "ms_per_s": sample.own_ms_per_s,
                    "calls_per_s": sample.own_calls_per_s,
                    "seconds": sample.own_seconds,
                }
                doc["statements"] = [
                    _statement(s) for s in sorted(sample.statements, key=lambda s: -s.total_ms)
                ]
            except CollectorError as exc:
                doc["errors"]["statements"] = str(exc)
        try:
            now: ActivitySample = await activity.collect()
            notices += now.notices
            doc["activity"] = [dataclasses.asdict(b) for b in now.backends]
            doc["own_backends"] = [b.pid for b in now.own]  # perftop's, not in "activity"
        except CollectorError as exc:
            doc["errors"]["activity"] = str(exc)
        info = statements.info or activity.link.info
        if info is not None:
            doc["server"] = {
                "version": info.version,
                "pg_stat_statements": info.pgss_version,
                "user": info.user,
                "database": info.database,
                "can_read_all_stats": info.can_read_all_stats,
            }
    finally:
        await statements.close()
        await activity.close()
    doc["notices"] = list(dict.fromkeys(notices))
    return doc
