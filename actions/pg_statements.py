"""Actions on a PostgreSQL server's statements: reset pg_stat_statements, EXPLAIN ANALYZE,
a plan that may run code outside pg_catalog (PlanStatement), create the extension. What
they share with the actions on backends (a `Connect`, short untrusted text, refusals in
words) is in postgres.py, whose docstring says how every PostgreSQL action works.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import asyncpg

from ..collectors.postgres.connect import missing_extension
from ..collectors.postgres.plan_safety import Assessment, assess
from ..collectors.postgres.plans import (
    LOCK_TIMEOUT_S,
    PLAN_SQL,
    explain_problem,
    generic_plan,
    rollback,
    scan_sql,
    set_local,
)
from ..collectors.postgres.queries import parse_version
from ..collectors.postgres.samples import ServerInfo, StatementKey
from ..redact import redact
from .gate import Approval
from .postgres import (
    EXPLAIN_TIMEOUT_S,
    Connect,
    PostgresActionError,
    connection,
    duration_text,
    quoted_name,
    refused,
    short,
)

# pg_stat_statements ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResetStatements:
    """pg_stat_statements_reset(): every entry (key None), or one statement's entries.

    One statement is (userid, dbid, queryid): both its top-level and nested entries go.
    """

    key: StatementKey | None
    query: str  # the statement's text, for the prompt ("" when resetting all)
    connect: Connect = field(repr=False, compare=False)
    user: str = ""  # names of key.userid and key.dbid, for the prompt
    database: str = ""

    def __post_init__(self) -> None:
        # 0 means "every" to pg_stat_statements_reset: a key with one would erase far more.
        if self.key is not None and 0 in (self.key.userid, self.key.dbid, self.key.queryid):
            raise ValueError("a statement key with a 0 would reset more than one statement")

    @property
    def kind(self) -> str:
        return "pg-stat-statements-reset"

    @property
    def target(self) -> str:
        if self.key is None:
            return "pg_stat_statements (all statements)"
        return f"pg_stat_statements queryid {self.key.queryid} ({self._who()})"

    @property
    def title(self) -> str:
        return "Reset all statement statistics" if self.key is None else "Reset one statement"

    def _who(self) -> str:
        assert self.key is not None
        user = quoted_name(self.user) if self.user else f"user oid {self.key.userid}"
        database = quoted_name(self.database) if self.database else f"database oid {self.key.dbid}"
        return f"{user} on {database}"

    def describe(self) -> str:
        if self.key is None:
            return (
                "Erase pg_stat_statements' statistics of every statement, user and database on "
                "this server. They are erased for every tool reading them (perftop, "
                "pg_activity, monitoring), which all start again from zero; they cannot be "
                "recovered."
            )
        return (
            f"Erase pg_stat_statements' statistics of one statement ({self._who()}: "
            f"`{short(self.query)}`). They are erased for every tool reading them, and its "
            "figures start again from zero; other statements keep theirs."
        )

    def details(self) -> Mapping[str, object]:
        if self.key is None:
            return {"scope": "all"}
        return {
            "scope": "statement",
            "userid": self.key.userid,
            "dbid": self.key.dbid,
            "queryid": self.key.queryid,
            "query": short(self.query),
        }

    async def perform(self, approval: Approval) -> str:
        approval.check()
        needs = "needs a superuser or EXECUTE on pg_stat_statements_reset"
        async with connection(self.connect) as conn:
            version = await conn.fetchval(
                "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'"
            )
            if version is None:
                database = await conn.fetchval("SELECT current_database()")
                raise PostgresActionError(
                    f'pg_stat_statements is not installed in database "{quoted_name(database)}": '
                    "nothing to reset"
                )
            try:
                if self.key is None:
                    await conn.execute("SELECT pg_stat_statements_reset()")
                    return "pg_stat_statements was reset: every statement starts from zero"
                if parse_version(version) < (1, 7):
                    raise PostgresActionError(
                        f"pg_stat_statements {version} can only reset everything (resetting "
                        "one statement needs 1.7, PostgreSQL 12)"
                    )
                # Named arguments: 1.11 (PostgreSQL 17) adds a 4th, minmax_only, defaulting
                # to false; 1.7 to 1.10 have exactly these three.
                await conn.execute(
                    "SELECT pg_stat_statements_reset(userid => $1, dbid => $2, queryid => $3)",
                    self.key.userid,
                    self.key.dbid,
                    self.key.queryid,
                )
            except asyncpg.InsufficientPrivilegeError as exc:
                raise refused(exc, needs) from None
        return f"statistics of queryid {self.key.queryid} ({self._who()}) were reset"


# EXPLAIN --------------------------------------------------------------------------------


def _rights_line(assessment: Assessment | None) -> str:
    """Whose rights the statement's code gets, and what of it may run, for a prompt."""
    if assessment is None or assessment.rights is None:
        return (
            "perftop could not check which functions it reaches, so any function it calls "
            "may run with the rights of perftop's role. "
        )
    text = f"Code in it runs with the rights of perftop's role {assessment.rights.describe()}. "
    if assessment.foreign:
        shown = "; ".join(short(str(f), 120) for f in assessment.foreign[:8])
        more = f"; and {len(assessment.foreign) - 8} more" if len(assessment.foreign) > 8 else ""
        text += f"Code outside pg_catalog that may run: {shown}{more}. "
    elif not assessment.problems:
        text += "It reaches nothing outside pg_catalog. "
    if assessment.problems:
        text += "Not checked: " + "; ".join(short(p, 160) for p in assessment.problems) + ". "
    return text


def _foreign_details(assessment: Assessment | None) -> dict[str, object]:
    if assessment is None or assessment.rights is None:
        return {"rights": "unknown"}
    return {
        "rights": assessment.rights.describe(),
        "may_run": [short(str(f), 120) for f in assessment.foreign[:20]],
    }


@dataclass(frozen=True, slots=True)
class ExplainAnalyze:
    """EXPLAIN (ANALYZE, BUFFERS) of a statement, which executes it, in a transaction that
    is always rolled back. Run in the statement's database (the connection must be to it)
    and, where perftop's role may become the statement's user, as that user.

    `assessment` is `plan_safety.assess(..., executes=True)` on that database, read before
    the prompt, so the prompt can say whose rights the code gets and what code it is."""

    query: str
    database: str
    user: str
    connect: Connect = field(repr=False, compare=False)
    timeout_s: float = EXPLAIN_TIMEOUT_S
    assessment: Assessment | None = None

    @property
    def kind(self) -> str:
        return "pg-explain-analyze"

    @property
    def target(self) -> str:
        return f"`{short(self.query)}` ({quoted_name(self.user)} on {quoted_name(self.database)})"

    @property
    def title(self) -> str:
        return "EXPLAIN ANALYZE: executes the statement"

    def describe(self) -> str:
        shape = scan_sql(self.query)
        modifies = shape.modifies
        text = (
            f"EXECUTE `{short(self.query)}` in database {quoted_name(self.database)} with EXPLAIN "
            "ANALYZE, inside a transaction that is then rolled back. "
        )
        if modifies:
            text += f"This statement contains {'/'.join(modifies)}. "
        text += (
            "It really runs: data-modifying statements (INSERT, UPDATE, DELETE, MERGE, or a "
            "function with side effects) still take their locks and do their work before "
            "the rollback, and sequences stay advanced. "
            f"It runs as {quoted_name(self.user)} where perftop's role may SET ROLE to it, else as "
            "perftop's role; SET ROLE is no sandbox (a function can switch back). "
        )
        text += _rights_line(self.assessment)
        text += (
            f"It is stopped after {duration_text(self.timeout_s)} (statement_timeout) "
            f"and gives up waiting for a lock after {duration_text(LOCK_TIMEOUT_S)} (lock_timeout)."
        )
        problem = explain_problem(self.query)
        if problem is not None:
            text += f" It will not run: {problem}."
        else:
            text += " Statements with $1 parameters cannot be executed as they are."
        return text

    def details(self) -> Mapping[str, object]:
        return {
            "query": short(self.query),
            "database": quoted_name(self.database),
            "as_user": quoted_name(self.user),
            "statement_timeout_s": self.timeout_s,
            "lock_timeout_s": LOCK_TIMEOUT_S,
            **_foreign_details(self.assessment),
        }

    async def perform(self, approval: Approval) -> str:
        approval.check()
        problem = explain_problem(self.query)
        if problem is not None:
            raise PostgresActionError(f"not executed: {problem}")
        body = scan_sql(self.query).body
        async with connection(self.connect) as conn:
            here = await conn.fetchrow(
                "SELECT current_database() AS database, current_user AS me, "
                "(SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles "
                " WHERE rolname = $1) AS may_become",
                self.user,
            )
            assert here is not None
            if here["database"] != self.database:
                raise PostgresActionError(
                    f'not executed: the statement ran in database "{quoted_name(self.database)}" '
                    f'but this connection is to "{quoted_name(here["database"])}"'
                )
            become = bool(self.user) and self.user != here["me"] and bool(here["may_become"])
            # The extended protocol (fetch) takes exactly one statement: a `;` smuggled past
            # the scan is an error, never a second statement outside the EXPLAIN.
            await conn.execute("BEGIN")
            try:
                await set_local(
                    conn,
                    statement_timeout=str(int(self.timeout_s * 1000)),
                    lock_timeout=str(int(LOCK_TIMEOUT_S * 1000)),
                )
                if become:
                    await set_local(conn, role=self.user)
                rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) " + body)
            except asyncpg.QueryCanceledError as exc:
                raise PostgresActionError(f"stopped and rolled back: {exc}") from None
            except asyncpg.PostgresError as exc:
                raise PostgresActionError(f"failed and rolled back: {redact(str(exc))}") from None
            finally:
                await rollback(conn)
        me = here["me"]
        who = (
            quoted_name(self.user)
            if become or self.user == me
            else f"{quoted_name(me)} (perftop's role)"
        )
        plan = "\n".join(str(r[0]) for r in rows)
        return f"EXPLAIN ANALYZE as {who}, rolled back:\n{plan}"


@dataclass(frozen=True, slots=True)
class PlanStatement:
    """EXPLAIN without executing, of a statement that reaches code outside pg_catalog (or
    that perftop could not check): planning may run that code with perftop's rights, so it
    goes through the gate. `assessment` is what the check found, shown in the prompt; the
    plan is refused when, by the time it runs, the statement reaches more than that.

    `perform` returns how the plan was made on the first line, then the plan."""

    query: str
    database: str
    user: str
    server_version_num: int
    assessment: Assessment
    connect: Connect = field(repr=False, compare=False)

    @property
    def kind(self) -> str:
        return "pg-plan"

    @property
    def target(self) -> str:
        return f"`{short(self.query)}` ({quoted_name(self.user)} on {quoted_name(self.database)})"

    @property
    def title(self) -> str:
        return "EXPLAIN (plan only): may run code while planning"

    def describe(self) -> str:
        return (
            f"Plan `{short(self.query)}` in database {quoted_name(self.database)} with EXPLAIN, "
            "without executing it. The planner evaluates calls of IMMUTABLE functions on "
            "constants (and inlines SQL functions), so code may run while planning. "
            + _rights_line(self.assessment)
            + "The plan is made in a read-only transaction that is rolled back, but a "
            "function can still read files or call server functions with those rights, "
            "and SET ROLE would not stop it."
        )

    def details(self) -> Mapping[str, object]:
        return {
            "query": short(self.query),
            "database": quoted_name(self.database),
            "user": quoted_name(self.user),
            **_foreign_details(self.assessment),
        }

    async def perform(self, approval: Approval) -> str:
        approval.check()
        async with connection(self.connect) as conn:
            database = await conn.fetchval(PLAN_SQL + "SELECT current_database()")
            if database != self.database:
                raise PostgresActionError(
                    f'not planned: the statement ran in database "{quoted_name(self.database)}" '
                    f'but this connection is to "{quoted_name(database)}"'
                )
            now = await assess(conn, self.query)
            added = sorted(set(now.foreign) - set(self.assessment.foreign))
            if added:
                raise PostgresActionError(
                    "not planned: since the prompt it reaches more code outside pg_catalog: "
                    + "; ".join(short(str(f), 120) for f in added[:5])
                )
            plan, how = await generic_plan(conn, self.query, self.server_version_num, approved=True)
        if plan is None:
            raise PostgresActionError(how)
        return f"{how}\n{plan}"


# The extension --------------------------------------------------------------------------

_PRELOAD = """
SELECT current_database() AS database,
       EXISTS (SELECT 1 FROM pg_settings WHERE name = 'pg_stat_statements.max') AS preloaded,
       CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                 OR pg_has_role('pg_read_all_settings', 'USAGE')
            THEN current_setting('shared_preload_libraries') END AS preload
"""


def extension_advice(server_info: ServerInfo, preload: str | None = None) -> str:
    """What to do about pg_stat_statements on this server, in one line. `preload` is the
    current shared_preload_libraries when known, so the line to add keeps what is there."""
    if server_info.pgss_version is not None and server_info.pgss_preloaded:
        return (
            f"pg_stat_statements {server_info.pgss_version} is loaded and installed in "
            f'database "{quoted_name(server_info.database)}"'
        )
    return missing_extension(server_info, preload)


@dataclass(frozen=True, slots=True)
class CreateExtension:
    """CREATE EXTENSION IF NOT EXISTS pg_stat_statements, only where it is preloaded."""

    server_info: ServerInfo
    connect: Connect = field(repr=False, compare=False)

    @property
    def kind(self) -> str:
        return "pg-create-extension"

    @property
    def target(self) -> str:
        return f"database {quoted_name(self.server_info.database)}"

    @property
    def title(self) -> str:
        return "Create extension pg_stat_statements"

    def describe(self) -> str:
        database = quoted_name(self.server_info.database)
        if not self.server_info.pgss_preloaded:
            return (
                f"{extension_advice(self.server_info)}. Until then perftop will not create "
                "the extension: it would not work."
            )
        return (
            f"Run CREATE EXTENSION IF NOT EXISTS pg_stat_statements in database {database}. "
            "The module is already loaded (shared_preload_libraries) and counting; this adds "
            "its view and functions to that database, where every role may then read "
            "statement statistics. It needs a superuser."
        )

    def details(self) -> Mapping[str, object]:
        return {"database": quoted_name(self.server_info.database)}

    async def perform(self, approval: Approval) -> str:
        approval.check()
        async with connection(self.connect) as conn:
            here = await conn.fetchrow(_PRELOAD)
            assert here is not None
            if here["database"] != self.server_info.database:
                raise PostgresActionError(
                    f'nothing was done: this connection is to "{quoted_name(here["database"])}", '
                    f'not "{quoted_name(self.server_info.database)}"'
                )
            if not here["preloaded"]:
                info = replace(self.server_info, pgss_preloaded=False)
                raise PostgresActionError(
                    f"nothing was done: {missing_extension(info, here['preload'])}"
                )
            try:
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            except asyncpg.InsufficientPrivilegeError as exc:
                raise refused(
                    exc, "CREATE EXTENSION pg_stat_statements needs a superuser"
                ) from None
            version = await conn.fetchval(
                "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'"
            )
        where = quoted_name(here["database"])
        return f'pg_stat_statements {version} is installed in database "{where}"'
