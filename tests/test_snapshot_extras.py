"""`perftop snapshot --json` with its optional parts: the stacks of a real Python process
(py-spy, attached only when approved) and a real PostgreSQL server's statements."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perftop.collectors.postgres.locate import PG_VARIABLES

from .pg_cluster import PgCluster


def snapshot(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`perftop snapshot --json ARGS` with empty config/state dirs and no PG* variables."""
    env = {k: v for k, v in os.environ.items() if k not in PG_VARIABLES}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return subprocess.run(
        [sys.executable, "-m", "perftop", "snapshot", "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def audit(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "state" / "perftop" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_approved_attach_adds_the_hot_function(
    tmp_path: Path, burner: subprocess.Popen[str]
) -> None:
    result = snapshot(tmp_path, "--seconds", "2", "--pid", str(burner.pid), "--approve", "attach")
    assert result.returncode == 0, result.stderr
    stacks = json.loads(result.stdout)["stacks"]
    assert stacks["error"] is None
    assert stacks["pid"] == burner.pid
    top = stacks["top_own"][0]
    assert top["name"] == "burn_cpu"
    assert top["own_percent"] > 60
    assert stacks["samples"] > 50
    # Each approved request: its intent before the act, its outcome after, under one id.
    records = audit(tmp_path)
    assert [(r["action"], r["decision"], r["stage"]) for r in records] == [
        ("attach-py-spy", "approved", "intent"),
        ("attach-py-spy", "approved", "outcome"),
        ("detach-py-spy", "approved", "intent"),
        ("detach-py-spy", "approved", "outcome"),
    ]
    assert records[0]["id"] == records[1]["id"] != records[2]["id"] == records[3]["id"]


def test_without_approval_nothing_attaches_and_the_exit_code_says_so(
    tmp_path: Path, burner: subprocess.Popen[str]
) -> None:
    result = snapshot(tmp_path, "--seconds", "1", "--pid", str(burner.pid))
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["stacks"] == {"pid": burner.pid, "error": "attaching py-spy was declined"}
    assert doc["processes"]  # the rest of the document is there
    assert [(r["action"], r["decision"]) for r in audit(tmp_path)] == [
        ("attach-py-spy", "declined")
    ]


def test_read_only_refuses_even_with_approval(
    tmp_path: Path, burner: subprocess.Popen[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "perftop", "--read-only", "snapshot", "--json",
         "--pid", str(burner.pid), "--approve", "attach"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"),
             "XDG_CONFIG_HOME": str(tmp_path / "config")},
    )  # fmt: skip
    assert result.returncode == 1
    assert "read-only" in json.loads(result.stdout)["stacks"]["error"]
    assert [r["decision"] for r in audit(tmp_path)] == ["refused-read-only"]


def test_approve_without_pid_is_a_usage_error(tmp_path: Path) -> None:
    result = snapshot(tmp_path, "--approve", "attach")
    assert result.returncode == 2
    assert "--approve attach needs --pid" in result.stderr


def test_dsn_adds_statements_with_known_counts(tmp_path: Path, pg_cluster: PgCluster) -> None:
    workload = subprocess.Popen(
        [sys.executable, "-c",
         "import asyncio, asyncpg, sys\n"
         "async def main():\n"
         "    conn = await asyncpg.connect(sys.argv[1])\n"
         "    await asyncio.sleep(2.0)\n"
         "    for _ in range(25):\n"
         "        await conn.fetchval('SELECT $1::int * 3 AS snapshot_marker', 1)\n"
         "    await conn.close()\n"
         "asyncio.run(main())\n",
         pg_cluster.dsn],
    )  # fmt: skip
    # The workload runs 2 s after it starts: after the snapshot's first read, before its last.
    result = snapshot(tmp_path, "--seconds", "5", "--dsn", pg_cluster.dsn)
    assert workload.wait(timeout=30) == 0
    assert result.returncode == 0, result.stderr
    postgres = json.loads(result.stdout)["postgres"]
    assert postgres["errors"] == {}
    assert postgres["server"]["version"].split(".")[0].isdigit()
    ours = [s for s in postgres["statements"] if "snapshot_marker" in s["text"]]
    assert len(ours) == 1
    assert ours[0]["calls"] == 25
    assert ours[0]["calls_per_s"] == pytest.approx(25 / postgres["seconds"])


def test_an_unreachable_server_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    result = snapshot(tmp_path, "--dsn", "postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 1
    errors = json.loads(result.stdout)["postgres"]["errors"]
    assert list(errors) and all("\n" not in line for line in errors.values())
    assert "Traceback" not in result.stderr
