"""PostgreSQL actions through the real gate, on the suite's real server (tests/pg_cluster.py).

Every test that acts does so through `Gate.request` with an asker that answers yes or no,
and an `AuditLog` in tmp_path; what happened is checked on the server itself
(pg_stat_activity, pg_stat_statements, the table's rows), never on the action's own word.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from perftop.actions import gate as gate_module
from perftop.actions import pg_statements
from perftop.actions import postgres as pg_actions
from perftop.actions.audit import AuditLog
from perftop.actions.gate import Action, Decision, Gate, Outcome
from perftop.actions.pg_statements import (
    CreateExtension,
    ExplainAnalyze,
    ResetStatements,
    extension_advice,
)
from perftop.actions.postgres import CancelQuery, TerminateBackend, connection_factory, short
from perftop.collectors.postgres.connect import resolve_target
from perftop.collectors.postgres.plans import explain_problem, generic_plan, scan_sql
from perftop.collectors.postgres.samples import Backend, ServerInfo, StatementKey

from .pg_cluster import PgCluster, throwaway_cluster
from .support import run

SLEEP = "SELECT pg_sleep(60)"
GUARD_S = 30.0  # how long a poll may wait for the server before the test gives up


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit.jsonl")


def answer(yes: bool) -> gate_module.Asker:
    async def ask(action: Action) -> bool:
        return yes

    return ask


def backend(pid: int, user: str = "postgres", database: str = "perftop_test", **kw: Any) -> Backend:
    fields: dict[str, Any] = {
        "client": "127.0.0.1:5555",
        "application": "sleeper",
        "backend_type": "client backend",
        "state": "active",
        "query_seconds": 185.0,
        "xact_seconds": 185.0,
        "state_seconds": 185.0,
        "wait_event_type": "Timeout",
        "wait_event": "PgSleep",
        "query": SLEEP,
        "query_hidden": False,
        "blocked_by": (),
    }
    fields.update(kw)
    return Backend(pid=pid, database=database, user=user, **fields)


def server_info(database: str = "shop", **kw: Any) -> ServerInfo:
    fields: dict[str, Any] = {
        "version": "15.18",
        "version_num": 150018,
        "pgss_version": None,
        "pgss_preloaded": True,
        "user": "postgres",
        "can_read_all_stats": True,
        "dsn_display": "postgresql://postgres@db/shop",
    }
    fields.update(kw)
    return ServerInfo(database=database, **fields)


async def unused() -> asyncpg.Connection[Any]:
    raise AssertionError("a declined or refused action must not even connect")


# Pure parts: descriptions, scanning, secrets ----------------------------------------------


def test_cancel_prompt_names_the_backend_and_the_risk() -> None:
    action = CancelQuery(
        backend(4121, "alice", "shop", query="UPDATE orders SET paid = true WHERE id = 7"),
        unused,
    )
    assert action.describe() == (
        "Cancel the running query of backend 4121 (alice on shop, running for 3 min: "
        "`UPDATE orders SET paid = true WHERE id = 7`). The query stops with an error; "
        "the session stays connected."
    )
    assert action.kind == "pg-cancel"
    assert action.target == "backend 4121 (alice on shop, sleeper)"
    assert action.details()["pid"] == 4121
    idle = CancelQuery(backend(4121, state="idle in transaction"), unused)
    assert "idle in transaction now, so there may be no query to cancel" in idle.describe()


def test_terminate_prompt_says_connection_closed_and_transaction_rolled_back() -> None:
    text = TerminateBackend(backend(77, state="idle in transaction", xact_seconds=7300), unused)
    assert "idle in transaction for 2 h 1 min" in text.describe()
    assert "connection is closed" in text.describe()
    assert "open transaction is rolled back" in text.describe()


def test_long_hostile_query_texts_are_one_short_line_without_secrets() -> None:
    query = "ALTER ROLE app PASSWORD 'hunter2';\n" + "SELECT x\x1b[2J " * 50
    action = CancelQuery(backend(1, query=query, application="psql password=hunter2"), unused)
    for text in (action.describe(), action.target, json.dumps(action.details())):
        assert "hunter2" not in text and "\n" not in text
    shown = short(query)
    assert len(shown) == 80 and shown.endswith("…")
    assert shown.startswith("ALTER ROLE app PASSWORD '****';")
    # pg_stat_activity cuts long texts, sometimes inside the password's quotes
    assert "abc" not in short("CREATE ROLE x PASSWORD 'abc")
    hidden = CancelQuery(backend(1, query="", query_hidden=True), unused)
    assert "hidden from perftop's role" in hidden.describe()


def test_reset_prompts_say_who_loses_what() -> None:
    everything = ResetStatements(None, "", unused)
    assert "every statement, user and database" in everything.describe()
    assert "for every tool reading them" in everything.describe()
    assert everything.details() == {"scope": "all"}
    one = ResetStatements(StatementKey(10, 5, 99), "SELECT * FROM t WHERE a = $1", unused,
                          user="alice", database="shop")  # fmt: skip
    assert "one statement (alice on shop: `SELECT * FROM t WHERE a = $1`)" in one.describe()
    assert "for every tool reading them" in one.describe()
    assert one.target == "pg_stat_statements queryid 99 (alice on shop)"
    # 0 is "every" to pg_stat_statements_reset: such a key would erase far more than one.
    for key in (StatementKey(0, 5, 99), StatementKey(10, 0, 99), StatementKey(10, 5, 0)):
        with pytest.raises(ValueError, match="more than one"):
            ResetStatements(key, "", unused)


def test_explain_prompt_says_it_executes_and_what_a_rollback_does_not_undo() -> None:
    action = ExplainAnalyze("UPDATE orders SET paid = true", "shop", "alice", unused)
    text = action.describe()
    assert text.startswith("EXECUTE `UPDATE orders SET paid = true` in database shop")
    assert "This statement contains UPDATE." in text
    assert "still take their locks and do their work before the rollback" in text
    assert "stopped after 30 s (statement_timeout)" in text
    assert "Statements with $1 parameters cannot be executed" in text
    with_params = ExplainAnalyze("SELECT * FROM t WHERE a = $1", "shop", "alice", unused)
    assert "It will not run: this statement has parameters ($1)" in with_params.describe()
    assert "contains" not in with_params.describe()


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("SELECT * FROM t WHERE a = $1 AND b = $2", "parameters ($1, $2)"),
        ("SELECT 1; DELETE FROM t", "several statements"),
        ("VACUUM t", "VACUUM statements cannot be explained"),
        ("EXPLAIN SELECT 1", "EXPLAIN statements cannot be explained"),
        ("  -- nothing\n", "no statement"),
    ],
)
def test_explain_problems(query: str, problem: str) -> None:
    found = explain_problem(query)
    assert found is not None and problem in found


@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1;",
        "SELECT '$1', \"a$2\", $$ $3 $$, $tag$ ; $4 $tag$, E'\\' $5' -- $6 ;\n",
        "/* $1 /* nested ; */ $2 */ UPDATE t SET v = 1",
        "(SELECT 1) UNION (SELECT 2)",
        "WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone",
    ],
)
def test_explainable(query: str) -> None:
    assert explain_problem(query) is None


def test_scan_finds_modifying_keywords_and_drops_a_trailing_semicolon() -> None:
    shape = scan_sql("WITH gone AS (DELETE FROM t RETURNING *) SELECT 'update' FROM gone;")
    assert shape.modifies == ("DELETE",)  # 'update' is a string, not a keyword
    assert shape.body == "WITH gone AS (DELETE FROM t RETURNING *) SELECT 'update' FROM gone"
    assert scan_sql("SELECT a FROM t FOR UPDATE").modifies == ("UPDATE",)


def test_extension_advice() -> None:
    assert extension_advice(server_info(pgss_version="1.10")) == (
        'pg_stat_statements 1.10 is loaded and installed in database "shop"'
    )
    preloaded = extension_advice(server_info())
    assert "CREATE EXTENSION pg_stat_statements" in preloaded and "restart" not in preloaded
    missing = extension_advice(server_info(pgss_preloaded=False))
    assert "shared_preload_libraries = 'pg_stat_statements'" in missing
    assert "restart" in missing
    keeps = extension_advice(server_info(pgss_preloaded=False), preload="auto_explain")
    assert "shared_preload_libraries = 'auto_explain,pg_stat_statements'" in keeps
    refuses = CreateExtension(server_info(pgss_preloaded=False), unused).describe()
    assert "shared_preload_libraries = 'pg_stat_statements'" in refuses
    assert "will not create" in refuses


# The real server --------------------------------------------------------------------------


@dataclass
class Sleeper:
    conn: asyncpg.Connection[Any]
    task: asyncio.Task[Any]
    pid: int


async def activity(dsn: str, pid: int) -> asyncpg.Record | None:
    mon = await asyncpg.connect(dsn)
    try:
        return await mon.fetchrow(
            "SELECT state, query, usename, datname FROM pg_stat_activity WHERE pid = $1", pid
        )
    finally:
        await mon.close()


@asynccontextmanager
async def sleeping(dsn: str) -> AsyncIterator[Sleeper]:
    """A real backend running `SELECT pg_sleep(60)`, seen active in pg_stat_activity."""
    conn = await asyncpg.connect(dsn, server_settings={"application_name": "sleeper"})
    task = asyncio.create_task(conn.fetchval(SLEEP))
    pid = conn.get_server_pid()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GUARD_S
        while True:
            row = await activity(dsn, pid)
            if row is not None and row["state"] == "active" and row["query"] == SLEEP:
                break
            assert loop.time() < deadline, f"the sleeper never showed up: {row}"
            await asyncio.sleep(0.05)
        yield Sleeper(conn, task, pid)
    finally:
        task.cancel()
        conn.terminate()


async def still_sleeping(pg: PgCluster, s: Sleeper) -> None:
    await asyncio.sleep(0.3)  # room for a wrongly sent signal to land
    assert not s.task.done()
    row = await activity(pg.dsn, s.pid)
    assert row is not None and row["state"] == "active" and row["query"] == SLEEP


def as_superuser(pg: PgCluster, database: str | None = None) -> pg_actions.Connect:
    return connection_factory(resolve_target(pg.dsn), database=database)


@run
async def test_cancel_after_approval_stops_the_query_and_keeps_the_session(
    pg_cluster: PgCluster, audit: AuditLog
) -> None:
    async with sleeping(pg_cluster.dsn) as s:
        action = CancelQuery(backend(s.pid), as_superuser(pg_cluster))
        outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
        assert outcome == Outcome(
            Decision.APPROVED, result=f"PostgreSQL cancelled the running query of backend {s.pid}"
        )
        with pytest.raises(asyncpg.QueryCanceledError, match="canceling statement due to user"):
            await asyncio.wait_for(s.task, GUARD_S)
        assert await s.conn.fetchval("SELECT 41 + 1") == 42
        assert s.conn.get_server_pid() == s.pid
    (record,) = audit.read()
    assert record["action"] == "pg-cancel" and record["decision"] == "approved"
    assert record["details"]["pid"] == s.pid


@run
async def test_declined_cancel_leaves_the_query_running(
    pg_cluster: PgCluster, audit: AuditLog
) -> None:
    async with sleeping(pg_cluster.dsn) as s:
        action = CancelQuery(backend(s.pid), unused)
        outcome = await Gate(audit, read_only=False, ask=answer(False)).request(action)
        assert outcome.decision is Decision.DECLINED
        await still_sleeping(pg_cluster, s)
    assert [r["decision"] for r in audit.read()] == ["declined"]


@run
async def test_read_only_refuses_terminate_and_the_backend_is_untouched(
    pg_cluster: PgCluster, audit: AuditLog
) -> None:
    async with sleeping(pg_cluster.dsn) as s:
        action = TerminateBackend(backend(s.pid), as_superuser(pg_cluster))
        outcome = await Gate(audit, read_only=True, ask=answer(True)).request(action)
        assert outcome.decision is Decision.REFUSED
        await still_sleeping(pg_cluster, s)
        assert not s.conn.is_closed()
    assert [r["decision"] for r in audit.read()] == ["refused-read-only"]


@run
async def test_terminate_after_approval_closes_the_connection(
    pg_cluster: PgCluster, audit: AuditLog
) -> None:
    async with sleeping(pg_cluster.dsn) as s:
        action = TerminateBackend(backend(s.pid), as_superuser(pg_cluster))
        outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
        assert outcome.result == f"backend {s.pid} was terminated: its connection is closed"
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
            await asyncio.wait_for(s.task, GUARD_S)
        assert await activity(pg_cluster.dsn, s.pid) is None
        assert s.conn.is_closed()
    assert audit.read()[0]["outcome"] == outcome.result


@run
async def test_a_pid_now_of_another_user_is_not_touched(
    pg_cluster: PgCluster, audit: AuditLog
) -> None:
    async with sleeping(pg_cluster.dsn) as s:
        stale = backend(s.pid, user="alice")  # what the table showed before the pid was reused
        gate = Gate(audit, read_only=False, ask=answer(True))
        for action in (CancelQuery(stale, as_superuser(pg_cluster)),
                       TerminateBackend(stale, as_superuser(pg_cluster))):  # fmt: skip
            outcome = await gate.request(action)
            assert outcome.error is not None and outcome.error.startswith(
                f"backend {s.pid} is gone (or its pid now belongs to another session)"
            )
        await still_sleeping(pg_cluster, s)


@run
async def test_a_role_without_the_right_is_refused_in_plain_words(
    pg_cluster: PgCluster, audit: AuditLog
) -> None:
    plain = pg_cluster.create_role("actions_plain")
    async with sleeping(pg_cluster.dsn) as s:
        action = TerminateBackend(backend(s.pid), connection_factory(resolve_target(plain)))
        outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
        assert outcome.error is not None
        assert outcome.error.startswith("PostgreSQL refused: ")
        assert "superuser" in outcome.error
        await still_sleeping(pg_cluster, s)


async def statements(dsn: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(
            "SELECT userid, dbid, queryid, query FROM pg_stat_statements "
            "WHERE query NOT LIKE '%pg_stat_statements%'"
        )
    finally:
        await conn.close()


async def run_markers(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(3):
            await conn.fetchval("SELECT 'marker_one'::text || 1")
            await conn.fetchval("SELECT 'marker_two'::text || 2 || 3")
    finally:
        await conn.close()


def marker(rows: list[asyncpg.Record], name: str) -> list[asyncpg.Record]:
    # Constants are normalised to $n: the markers differ by the count of concatenations.
    shapes = {"one": "SELECT $1::text || $2", "two": "SELECT $1::text || $2 || $3"}
    return [r for r in rows if r["query"] == shapes[name]]


@run
async def test_reset_all_empties_pg_stat_statements(pg_cluster: PgCluster, audit: AuditLog) -> None:
    await run_markers(pg_cluster.dsn)
    assert marker(await statements(pg_cluster.dsn), "one")
    action = ResetStatements(None, "", as_superuser(pg_cluster))
    outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
    assert outcome.ok, outcome
    # Only statements about pg_stat_statements itself (the reset, this read) may be left.
    assert await statements(pg_cluster.dsn) == []


@run
async def test_reset_one_removes_only_that_statement(
    pg_cluster: PgCluster, audit: AuditLog
) -> None:
    await run_markers(pg_cluster.dsn)
    rows = await statements(pg_cluster.dsn)
    (one,) = marker(rows, "one")
    assert marker(rows, "two")
    key = StatementKey(one["userid"], one["dbid"], one["queryid"])
    gate = Gate(audit, read_only=False, ask=answer(True))

    declined = ResetStatements(key, one["query"], unused, user="postgres", database="x")
    assert (await Gate(audit, read_only=False, ask=answer(False)).request(declined)).decision is (
        Decision.DECLINED
    )
    assert marker(await statements(pg_cluster.dsn), "one")

    action = ResetStatements(key, one["query"], as_superuser(pg_cluster), user="postgres")
    outcome = await gate.request(action)
    assert outcome.ok, outcome
    after = await statements(pg_cluster.dsn)
    assert marker(after, "one") == []
    assert [r["queryid"] for r in marker(after, "two")] == [
        r["queryid"] for r in marker(rows, "two")
    ]
    assert [r["decision"] for r in audit.read()] == ["declined", "approved"]
    assert audit.read()[1]["details"]["queryid"] == one["queryid"]


@pytest.fixture
def table(pg_cluster: PgCluster) -> Iterator[str]:
    pg_cluster.psql(
        "DROP TABLE IF EXISTS explained; CREATE TABLE explained (id int PRIMARY KEY, v int);"
        "INSERT INTO explained SELECT g, g FROM generate_series(1, 100) g"
    )
    yield "explained"
    pg_cluster.psql("DROP TABLE IF EXISTS explained")


def total(pg: PgCluster) -> str:
    return pg.psql("SELECT count(*) || ':' || sum(v) FROM explained")


@run
async def test_explain_analyze_of_an_update_executes_and_rolls_back(
    pg_cluster: PgCluster, audit: AuditLog, table: str
) -> None:
    before = total(pg_cluster)
    assert before == "100:5050"
    action = ExplainAnalyze(
        "UPDATE explained SET v = v + 1000 WHERE id <= 10;", "perftop_test", "postgres",
        as_superuser(pg_cluster),
    )  # fmt: skip
    outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
    assert outcome.result is not None, outcome
    assert outcome.result.startswith("EXPLAIN ANALYZE as postgres, rolled back:\n")
    assert "Update on explained" in outcome.result
    assert "actual time=" in outcome.result and "Buffers:" in outcome.result
    assert "rows=10 loops=1" in outcome.result  # it really ran on the ten rows
    assert total(pg_cluster) == before
    (record,) = audit.read()
    assert record["action"] == "pg-explain-analyze" and record["decision"] == "approved"


@run
async def test_explain_analyze_runs_as_the_statements_user(
    pg_cluster: PgCluster, audit: AuditLog, table: str
) -> None:
    pg_cluster.create_role("actions_reader")
    pg_cluster.psql("GRANT SELECT ON explained TO actions_reader")
    gate = Gate(audit, read_only=False, ask=answer(True))
    read = ExplainAnalyze("SELECT sum(v) FROM explained", "perftop_test", "actions_reader",
                          as_superuser(pg_cluster))  # fmt: skip
    outcome = await gate.request(read)
    assert outcome.result is not None and "as actions_reader, rolled back" in outcome.result
    write = ExplainAnalyze("DELETE FROM explained", "perftop_test", "actions_reader",
                           as_superuser(pg_cluster))  # fmt: skip
    outcome = await gate.request(write)
    assert outcome.error == ("failed and rolled back: permission denied for table explained"), (
        outcome
    )
    assert total(pg_cluster) == "100:5050"


@run
async def test_explain_analyze_refuses_parameters_and_runs_nothing(
    pg_cluster: PgCluster, audit: AuditLog, table: str
) -> None:
    action = ExplainAnalyze("UPDATE explained SET v = $1 WHERE id = $2", "perftop_test",
                            "postgres", unused)  # fmt: skip
    outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
    assert outcome.error == (
        "not executed: this statement has parameters ($1, $2) whose values pg_stat_statements "
        "does not keep: it cannot be executed as it is, and perftop will not guess values"
    )
    assert total(pg_cluster) == "100:5050"
    assert audit.read()[0]["error"] == outcome.error


@run
async def test_explain_analyze_never_runs_a_second_statement(
    pg_cluster: PgCluster, audit: AuditLog, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even if the scan were fooled, the extended protocol takes one statement only.
    monkeypatch.setattr(pg_statements, "explain_problem", lambda query: None)
    action = ExplainAnalyze("SELECT 1; DELETE FROM explained", "perftop_test", "postgres",
                            as_superuser(pg_cluster))  # fmt: skip
    outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
    assert outcome.error is not None and "multiple commands" in outcome.error
    assert total(pg_cluster) == "100:5050"


@run
async def test_explain_analyze_stops_at_its_timeout_and_in_the_right_database(
    pg_cluster: PgCluster, audit: AuditLog
) -> None:
    gate = Gate(audit, read_only=False, ask=answer(True))
    slow = ExplainAnalyze("SELECT pg_sleep(20)", "perftop_test", "postgres",
                          as_superuser(pg_cluster), timeout_s=0.2)  # fmt: skip
    outcome = await gate.request(slow)
    assert outcome.error == (
        "stopped and rolled back: canceling statement due to statement timeout"
    )
    elsewhere = ExplainAnalyze("SELECT 1", "shop", "postgres", as_superuser(pg_cluster))
    outcome = await gate.request(elsewhere)
    assert outcome.error == (
        'not executed: the statement ran in database "shop" but this connection is to '
        '"perftop_test"'
    )


@run
async def test_generic_plan_does_not_execute(pg_major_cluster: PgCluster) -> None:
    """On every supported major: the generic plan is version-sensitive (GENERIC_PLAN is 16+,
    and asyncpg's extended protocol refuses its parameters; PREPARE works on each)."""
    pg_cluster = pg_major_cluster
    pg_cluster.psql(
        "DROP TABLE IF EXISTS explained; CREATE TABLE explained (id int PRIMARY KEY, v int);"
        "INSERT INTO explained SELECT g, g FROM generate_series(1, 100) g"
    )
    conn = await asyncpg.connect(pg_cluster.dsn)
    try:
        version = await conn.fetchval("SELECT current_setting('server_version_num')::int")
        plan, how = await generic_plan(conn, "UPDATE explained SET v = 0", version)
        assert plan is not None and how == "estimated plan (not executed)"
        assert "Update on explained" in plan and "actual time" not in plan
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SHOW statement_timeout") == "0"  # SET LOCAL only
        plan, how = await generic_plan(conn, "SELECT * FROM explained WHERE id = $1", version)
        assert plan is not None and how == "generic plan (not executed)"  # 12+: PREPARE
        assert "Index Cond: (id = $1)" in plan
        plan, how = await generic_plan(conn, "SELECT * FROM missing_table", version)
        assert plan is None and 'relation "missing_table" does not exist' in how
        plan, how = await generic_plan(conn, "VACUUM explained", version)
        assert plan is None and "cannot be explained" in how
    finally:
        await conn.close()
    assert total(pg_cluster) == "100:5050"
    pg_cluster.psql("DROP TABLE explained")


@run
async def test_create_extension_where_preloaded(pg_cluster: PgCluster, audit: AuditLog) -> None:
    pg_cluster.create_database("actions_noext")
    installed = "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
    info = server_info("actions_noext")
    connect = as_superuser(pg_cluster, database="actions_noext")

    declined = await Gate(audit, read_only=False, ask=answer(False)).request(
        CreateExtension(info, connect)
    )
    assert declined.decision is Decision.DECLINED
    assert pg_cluster.psql(installed, "actions_noext") == "0"

    outcome = await Gate(audit, read_only=False, ask=answer(True)).request(
        CreateExtension(info, connect)
    )
    assert outcome.result is not None and outcome.result.startswith("pg_stat_statements 1.")
    assert pg_cluster.psql(installed, "actions_noext") == "1"
    assert [r["decision"] for r in audit.read()] == ["declined", "approved"]


@run
async def test_create_extension_refuses_where_not_preloaded(audit: AuditLog) -> None:
    with throwaway_cluster(extra_config="shared_preload_libraries = ''\n") as bare:
        bare.create_database("actions_bare")
        info = server_info("actions_bare", pgss_preloaded=False)
        connect = connection_factory(resolve_target(bare.dsn), database="actions_bare")
        outcome = await Gate(audit, read_only=False, ask=answer(True)).request(
            CreateExtension(info, connect)
        )
        assert outcome.error is not None
        assert outcome.error.startswith("nothing was done: pg_stat_statements is not installed")
        assert "add shared_preload_libraries = 'pg_stat_statements'" in outcome.error
        assert "restart the server" in outcome.error
        installed = "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
        assert bare.psql(installed, "actions_bare") == "0"


@run
async def test_no_password_reaches_the_audit_file(pg_cluster: PgCluster, audit: AuditLog) -> None:
    secret = "correct horse 42"
    dsn = pg_cluster.create_role("actions_pw", password=secret, superuser=True)
    gate = Gate(audit, read_only=False, ask=answer(True))
    async with sleeping(pg_cluster.dsn) as s:
        query = f"ALTER ROLE actions_pw PASSWORD '{secret}'"
        ok = await gate.request(CancelQuery(backend(s.pid, query=query),
                                            connection_factory(resolve_target(dsn))))  # fmt: skip
        assert ok.ok, ok
    wrong = connection_factory(resolve_target(pg_cluster.dsn_for("actions_pw", secret + "x")))
    failed = await gate.request(ResetStatements(None, "", wrong))
    assert failed.error is not None and "password authentication failed" in failed.error
    await Gate(audit, read_only=False, ask=answer(False)).request(
        ExplainAnalyze(query, "perftop_test", "actions_pw", wrong)
    )
    text = audit.path.read_text()
    stages = [r["stage"] for r in audit.records()]
    assert stages == ["intent", "outcome", "intent", "outcome", "decision"]
    assert "horse" not in text and "****" in text
    assert [r["decision"] for r in audit.read()] == ["approved", "approved", "declined"]


@run
async def test_terminate_rolls_back_the_open_transaction(
    pg_cluster: PgCluster, audit: AuditLog, table: str
) -> None:
    conn = await asyncpg.connect(pg_cluster.dsn)
    try:
        await conn.execute("BEGIN; INSERT INTO explained VALUES (1000, 1)")
        pid = conn.get_server_pid()
        row = await activity(pg_cluster.dsn, pid)
        assert row is not None and row["state"] == "idle in transaction"
        action = TerminateBackend(backend(pid, state="idle in transaction", application=""),
                                  as_superuser(pg_cluster))  # fmt: skip
        outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
        assert outcome.ok, outcome
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
            await conn.execute("COMMIT")
    finally:
        conn.terminate()
    assert total(pg_cluster) == "100:5050"


@run
async def test_lockdown_stops_every_action_inside_perform(audit: AuditLog) -> None:
    gate_module.lockdown()  # what --read-only does; undone by the autouse fixture
    gate = Gate(audit, read_only=False, ask=answer(True))  # a gate wrongly built
    key = StatementKey(10, 5, 99)
    actions: list[Action] = [
        CancelQuery(backend(1), unused),
        TerminateBackend(backend(1), unused),
        ResetStatements(None, "", unused),
        ResetStatements(key, "SELECT 1", unused),
        ExplainAnalyze("SELECT 1", "perftop_test", "postgres", unused),
        CreateExtension(server_info(), unused),
    ]
    for action in actions:
        outcome = await gate.request(action)
        assert outcome.error == "perftop is read-only: no action runs", action
