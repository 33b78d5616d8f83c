"""Planning other roles' SQL: nothing of theirs runs unless the person said yes.

On the suite's real server (tests/pg_cluster.py) a non-superuser role, `plan_app`, owns
functions that leave a line in the server log when they run (`RAISE LOG`: it works inside a
read-only transaction, and the log is outside perftop). Whether a function ran is read from
that log, after a probe line written later has arrived, so "not there" is never "not yet".

Version-sensitive (run on every major): the generic plan through PREPARE / EXPLAIN EXECUTE,
the catalog walk of `plan_safety.assess` (pg_depend, pg_policy, pg_statistic_ext...) and the
planner's folding of IMMUTABLE calls. The parser table is version-free.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from perftop.actions import gate as gate_module
from perftop.actions.audit import AuditLog
from perftop.actions.gate import Action, Decision, Gate
from perftop.actions.pg_statements import ExplainAnalyze, PlanStatement
from perftop.actions.postgres import connection_factory
from perftop.collectors.postgres.connect import resolve_target
from perftop.collectors.postgres.plan_safety import Unparseable, assess, names_in
from perftop.collectors.postgres.plans import generic_plan

from .pg_cluster import PgCluster
from .support import run

ROLE = "plan_app"
RAN = "perftop-evil-ran"  # what every function of ROLE's logs when it runs
EVIL = "select app.evil()"

SETUP_AS_SUPERUSER = f"""
DROP SCHEMA IF EXISTS app, shadow, plan CASCADE;
CREATE SCHEMA app AUTHORIZATION {ROLE};
CREATE SCHEMA shadow AUTHORIZATION {ROLE};
CREATE SCHEMA plan AUTHORIZATION {ROLE};
GRANT USAGE ON SCHEMA app, shadow, plan TO PUBLIC;
"""

SETUP_AS_ROLE = f"""
CREATE FUNCTION app.evil() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RAISE LOG '{RAN} as % (superuser: %)', current_user, current_setting('is_superuser');
  RETURN 1;
END $$;
CREATE FUNCTION app.evil_eq(int, int) RETURNS bool LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RAISE LOG '{RAN} (operator)'; RETURN $1 = $2; END $$;
CREATE OPERATOR app.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = app.evil_eq);
CREATE OPERATOR shadow.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = app.evil_eq);
CREATE TYPE app.mood AS ENUM ('ok', 'sad');
CREATE TYPE app.color AS ENUM ('red', 'blue');
CREATE FUNCTION app.to_mood(int) RETURNS app.mood LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RAISE LOG '{RAN} (cast)'; RETURN 'ok'; END $$;
CREATE CAST (int AS app.mood) WITH FUNCTION app.to_mood(int);
CREATE FUNCTION shadow.lower(varchar) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RAISE LOG '{RAN} (shadow.lower)'; RETURN $1; END $$;
CREATE TABLE plan.t (id int PRIMARY KEY, name text, color app.color);
INSERT INTO plan.t SELECT g, 'n' || g, 'red' FROM generate_series(1, 2000) g;
ANALYZE plan.t;
CREATE FUNCTION shadow.shadow_field(plan.t) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN 1; END $$;
CREATE VIEW plan.v_safe AS SELECT id, lower(name) AS name FROM plan.t;
CREATE VIEW plan.v_evil AS SELECT id, app.evil() AS e FROM plan.t;
CREATE VIEW plan.v_xml AS SELECT id FROM plan.t
  WHERE name = schema_to_xml('plan', true, true, '')::text;
CREATE TABLE plan.indexed (id int);
CREATE INDEX ON plan.indexed ((id + app.evil()));
CREATE TABLE plan.guarded (id int);
ALTER TABLE plan.guarded ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON plan.guarded USING (id = app.evil());
CREATE DOMAIN app.checked AS int CHECK (VALUE > app.evil());
CREATE TABLE plan.domained (d app.checked);
CREATE TABLE plan.triggered (id int);
CREATE FUNCTION app.trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER touch BEFORE UPDATE ON plan.triggered FOR EACH ROW EXECUTE FUNCTION app.trg();
"""

SHADOW_PATH = "shadow, public"
READS_VIEW = (
    "SELECT * FROM plan.t WHERE name = table_to_xml('plan.v_evil'::regclass, true, true, '')::text"
)


@pytest.fixture(scope="module")
def plan_objects(pg_major_cluster: PgCluster) -> Iterator[PgCluster]:
    """ROLE's schemas app, shadow and plan in the test database, with the objects above, on
    every supported major: what the planner folds and the catalog holds differ by version."""
    cluster = pg_major_cluster
    cluster.create_role(ROLE)
    cluster.psql(SETUP_AS_SUPERUSER)
    cluster.psql(SETUP_AS_ROLE, user=ROLE)
    yield cluster
    cluster.psql("DROP SCHEMA IF EXISTS app, shadow, plan CASCADE")
    cluster.drop_role(ROLE)


class ServerLog:
    """The server log from now on: what ran, read after a later probe line has arrived."""

    def __init__(self, cluster: PgCluster) -> None:
        self.cluster = cluster
        self.start = cluster.logfile.stat().st_size

    def text(self) -> str:
        with self.cluster.logfile.open("rb") as f:
            f.seek(self.start)
            return f.read().decode(errors="replace")

    def settled(self) -> str:
        """Everything logged since the start, up to a probe written now."""
        probe = f"perftop-probe-{uuid.uuid4().hex}"
        self.cluster.psql(f"DO $$ BEGIN RAISE LOG '{probe}'; END $$")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            text = self.text()
            if probe in text:
                return text
            time.sleep(0.05)
        raise AssertionError("the probe never reached the server log")


@asynccontextmanager
async def superuser(cluster: PgCluster, path: str | None = None) -> AsyncIterator[Any]:
    settings = {"search_path": path} if path else {}
    conn = await asyncpg.connect(cluster.dsn, server_settings=settings)
    try:
        yield conn
    finally:
        await conn.close()


def answer(yes: bool) -> gate_module.Asker:
    async def ask(action: Action) -> bool:
        return yes

    return ask


# The parser, no server ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "functions", "operators", "relations"),
    [
        ("SELECT abalance FROM pgbench_accounts WHERE aid = $1", set(), {"="},
         {"pgbench_accounts"}),
        ("select app.evil()", {"app.evil"}, set(), set()),
        ("SELECT x FROM t WHERE y BETWEEN $1 AND $2 ORDER BY x USING >", set(),
         {"<", "<=", ">", ">="}, {"t"}),
        ("SELECT 1 OPERATOR(app.===) 2", set(), {"app.==="}, set()),
        ("SELECT * FROM t WHERE x IN (SELECT y FROM u) AND q LIKE $1", set(), {"=", "~~"},
         {"t", "u"}),
        ("SELECT t.shadow_field FROM plan.t t", {"shadow_field"}, set(), {"plan.t"}),
        ("SELECT ($1::text).evil", {"evil"}, set(), set()),
        ("UPDATE t SET v = v || $1 WHERE id = ANY ($2)", set(), {"=", "||"}, {"t"}),
        ("SELECT extract(year FROM now()), lower(n) FROM t", {"pg_catalog.extract", "now",
         "lower"}, set(), {"t"}),
        ("SELECT * FROM t TABLESAMPLE system (1)", {"system"}, set(), {"t"}),
    ],
)  # fmt: skip
def test_names_in_finds_every_function_operator_and_relation(
    query: str, functions: set[str], operators: set[str], relations: set[str]
) -> None:
    names = names_in(query)

    def dotted(pairs: frozenset[tuple[str | None, str]]) -> set[str]:
        return {f"{s}.{n}" if s else n for s, n in pairs}

    assert dotted(names.functions) | names.fields == functions
    assert dotted(names.operators) == operators
    assert dotted(names.relations) == relations


def test_names_in_casts_keep_their_schema() -> None:
    names = names_in("SELECT $1::int, x::app.mood, y::text[] FROM t")
    assert names.types == {("pg_catalog", "int4"), ("app", "mood"), (None, "text")}


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("SELEC 1", "parser does not accept it"),
        ("SELECT 1; SELECT 2", "2 statements"),
        ("VACUUM t", "Vacuum statement"),
        ("SELECT 1 INTO new_table", "SELECT INTO"),
        ("", "0 statements"),
    ],
)
def test_names_in_refuses_what_it_cannot_check(query: str, why: str) -> None:
    with pytest.raises(Unparseable, match=why):
        names_in(query)


# The catalog, on the real server ----------------------------------------------------------

SAFE = [
    ("SELECT name FROM plan.t WHERE id = $1 AND lower(name) = $2 AND id + 1 > $3::int "
     "AND now() > now()", None),
    ("SELECT count(*) FROM plan.t", None),
    ("SELECT * FROM plan.v_safe WHERE id = $1", None),
    ("SELECT relname FROM pg_class WHERE oid = $1", None),
    ("UPDATE plan.t SET name = $1 WHERE id = $2", None),
    ("SELECT 'red'::app.color", None),
    ("SELECT 1 OPERATOR(pg_catalog.+) 2", None),
    ("SELECT 1 = 1", SHADOW_PATH),
    ("SELECT lower($1::varchar)", None),  # shadow.lower is not on this path
    ("UPDATE plan.triggered SET id = $1", None),  # triggers do not run while planning
]  # fmt: skip

UNSAFE = [
    (EVIL, None, "function app.evil() (owner plan_app)"),
    ("SELECT 1 OPERATOR(app.===) 2", None, "operator app.===(integer, integer) (owner plan_app)"),
    ("SELECT nowhere.f()", None, "it names nowhere.f, outside pg_catalog"),
    (READS_VIEW, None, "it calls table_to_xml, which runs a query or reads a relation itself"),
    ("SELECT * FROM plan.v_xml", None, "a definition it reaches calls schema_to_xml"),
    ("SELECT 1 === 2", SHADOW_PATH, "operator shadow.===(integer, integer) (owner plan_app)"),
    ("SELECT 1::app.mood", None, "function app.to_mood(integer) (owner plan_app)"),
    ("SELECT lower($1::varchar)", SHADOW_PATH,
     "function shadow.lower(character varying) (owner plan_app)"),
    ("SELECT lower(name) FROM plan.t", SHADOW_PATH, "function shadow.lower("),
    ("SELECT * FROM plan.v_evil", None, "function app.evil() (owner plan_app)"),
    ("SELECT * FROM plan.indexed WHERE id = $1", None, "function app.evil()"),
    ("SELECT * FROM plan.guarded", None, "function app.evil()"),
    ("INSERT INTO plan.domained VALUES ($1)", None, "function app.evil()"),
    ("SELECT x.shadow_field FROM plan.t x", SHADOW_PATH, "function shadow.shadow_field(plan.t)"),
    ("SELEC 1", None, "perftop cannot check it: PostgreSQL's parser does not accept it"),
    ("SELECT 1; SELECT 2", None, "it holds 2 statements"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "path"), SAFE)
@run
async def test_statements_that_reach_only_pg_catalog_are_safe(
    plan_objects: PgCluster, query: str, path: str | None
) -> None:
    async with superuser(plan_objects, path) as conn:
        verdict = await assess(conn, query)
    assert verdict.safe, verdict.why()
    assert verdict.rights is not None and verdict.rights.describe() == "postgres (a superuser)"


@pytest.mark.parametrize(("query", "path", "why"), UNSAFE)
@run
async def test_statements_that_reach_other_code_are_not(
    plan_objects: PgCluster, query: str, path: str | None, why: str
) -> None:
    async with superuser(plan_objects, path) as conn:
        verdict = await assess(conn, query)
    assert not verdict.safe
    assert why in verdict.why()


@run
async def test_executing_counts_triggers_too(plan_objects: PgCluster) -> None:
    async with superuser(plan_objects) as conn:
        verdict = await assess(conn, "UPDATE plan.triggered SET id = $1", executes=True)
    assert [str(f) for f in verdict.foreign] == ["function app.trg() (owner plan_app)"]


@run
async def test_rights_name_the_powerful_roles(plan_objects: PgCluster) -> None:
    plan_objects.create_role("plan_reader")
    plan_objects.psql("GRANT pg_read_server_files TO plan_reader")
    conn = await asyncpg.connect(plan_objects.dsn_for("plan_reader"))
    try:
        verdict = await assess(conn, "SELECT 1")
    finally:
        await conn.close()
        plan_objects.drop_role("plan_reader")
    assert verdict.safe and verdict.rights is not None
    assert verdict.rights.describe() == "plan_reader (member of pg_read_server_files)"


# Planning ------------------------------------------------------------------------------


@run
async def test_planning_someone_elses_function_unasked_runs_nothing(
    plan_objects: PgCluster,
) -> None:
    log = ServerLog(plan_objects)
    async with superuser(plan_objects) as conn:
        version = await conn.fetchval("SELECT current_setting('server_version_num')::int")
        plan, how = await generic_plan(conn, EVIL, version)
        assert plan is None
        assert how == (
            "plan not fetched: it may run code outside pg_catalog: function app.evil() "
            "(owner plan_app)"
        )
        assert RAN not in log.settled()
        # The same statement planned when asked does run it: the log would have shown it.
        plan, how = await generic_plan(conn, EVIL, version, approved=True)
    assert plan is not None and how == "estimated plan (not executed)"
    assert f"{RAN} as postgres (superuser: on)" in log.settled()


@run
async def test_a_catalog_function_that_reads_a_view_is_not_planned_unasked(
    plan_objects: PgCluster,
) -> None:
    """table_to_xml is pg_catalog's and STABLE, and the planner evaluates it while it
    estimates the selectivity of `name = ...`: the view's function would run."""
    query = READS_VIEW
    log = ServerLog(plan_objects)
    async with superuser(plan_objects) as conn:
        version = await conn.fetchval("SELECT current_setting('server_version_num')::int")
        plan, how = await generic_plan(conn, query, version)
        assert plan is None and "table_to_xml" in how
        assert RAN not in log.settled()
        plan, how = await generic_plan(conn, query, version, approved=True)
    assert plan is not None and f"{RAN} as postgres" in log.settled()


@run
async def test_generic_plan_of_parameters_through_prepare(plan_objects: PgCluster) -> None:
    query = SAFE[0][0]
    async with superuser(plan_objects) as conn:
        version = await conn.fetchval("SELECT current_setting('server_version_num')::int")
        plan, how = await generic_plan(conn, query, version)
        assert how == "generic plan (not executed)", how
        assert plan is not None and "Index Cond: (id = $1)" in plan, plan
        assert not conn.is_in_transaction()
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'perftop_plan_%'"
        )
        assert left == 0
        assert await conn.fetchval("SHOW plan_cache_mode") == "auto"  # SET LOCAL only


@pytest.mark.parametrize("query", ["SELECT 1 FROM plan.t", "SELECT 1 FROM plan.t WHERE id = $1"])
@run
async def test_a_dead_connection_is_a_reason_not_an_exception(
    plan_objects: PgCluster, query: str
) -> None:
    async with superuser(plan_objects) as conn:
        version = await conn.fetchval("SELECT current_setting('server_version_num')::int")
        plan_objects.psql(f"SELECT pg_terminate_backend({conn.get_server_pid()})")
        plan, how = await generic_plan(conn, query, version)
    assert plan is None and how.startswith("EXPLAIN failed: "), how


# Through the gate -------------------------------------------------------------------------


@run
async def test_planning_when_asked_goes_through_the_gate_and_is_audited(
    plan_objects: PgCluster, tmp_path: Path
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    async with superuser(plan_objects) as conn:
        verdict = await assess(conn, EVIL)
        version = await conn.fetchval("SELECT current_setting('server_version_num')::int")
    connect = connection_factory(resolve_target(plan_objects.dsn))
    action = PlanStatement(EVIL, plan_objects.database, ROLE, version, verdict, connect)
    prompt = action.describe()
    assert "perftop's role postgres (a superuser)" in prompt
    assert "function app.evil() (owner plan_app)" in prompt

    log = ServerLog(plan_objects)
    declined = await Gate(audit, read_only=False, ask=answer(False)).request(action)
    assert declined.decision is Decision.DECLINED
    assert RAN not in log.settled()
    outcome = await Gate(audit, read_only=False, ask=answer(True)).request(action)
    assert outcome.error is None and outcome.result is not None
    assert outcome.result.splitlines()[0] == "estimated plan (not executed)"
    assert RAN in log.settled()
    records = [r for r in audit.records() if r["action"] == "pg-plan"]
    assert [(r["stage"], r["decision"]) for r in records] == [
        ("decision", "declined"),
        ("intent", "approved"),
        ("outcome", "approved"),
    ]
    details = records[1]["details"]
    assert isinstance(details, dict)
    assert details["may_run"] == ["function app.evil() (owner plan_app)"]
    assert details["rights"] == "postgres (a superuser)"


def test_explain_analyze_prompt_says_whose_rights_and_what_may_run() -> None:
    from perftop.collectors.postgres.plan_safety import Assessment, Foreign, Rights

    verdict = Assessment(
        Rights("postgres", True, ("pg_read_server_files",)),
        (Foreign("function", "app.evil()", "plan_app"),),
    )
    action = ExplainAnalyze(
        EVIL,
        "perftop_test",
        ROLE,
        connection_factory(resolve_target("postgresql://postgres@127.0.0.1:1/perftop_test")),
        assessment=verdict,
    )
    prompt = action.describe()
    assert (
        "rights of perftop's role postgres (a superuser; member of pg_read_server_files)" in prompt
    )
    assert "function app.evil() (owner plan_app)" in prompt
    assert "SET ROLE is no sandbox" in prompt
    assert action.details()["may_run"] == ["function app.evil() (owner plan_app)"]
    unchecked = ExplainAnalyze(EVIL, "perftop_test", ROLE, action.connect).describe()
    assert "could not check which functions it reaches" in unchecked
