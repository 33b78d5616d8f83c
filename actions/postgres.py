"""Actions on a PostgreSQL server: cancel, terminate, reset statistics, EXPLAIN ANALYZE,
a plan that may run code outside pg_catalog (PlanStatement), create pg_stat_statements.

Each action is handed a `Connect`: an async callable returning a *new* asyncpg connection
that the action owns and closes when it is done (`connection_factory(target)` makes one
from the collectors' `Target`; the app may pass its own). Actions never borrow a
collector's connection: an EXPLAIN ANALYZE may run for many seconds and must not hold up
the live views. `perform` is `async def`, so the gate awaits it on the app's loop, where
asyncpg connections live.

Query texts, user, database and application names are untrusted: descriptions and audit
fields shorten them to one line of about 80 characters and mask secrets (`mask_sql`). No
target or detail ever holds a DSN.

Planning is not harmless: the planner runs IMMUTABLE functions on constants (and STABLE
ones while it estimates), with the planning role's rights, and SET ROLE is no sandbox.
`generic_plan` (collectors/postgres/plans.py) plans unasked only what `plan_safety.assess`
clears; anything else is a
PlanStatement, whose prompt (like EXPLAIN ANALYZE's) names perftop's role and the code
outside pg_catalog that may run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg

from ..collectors.postgres.connect import APPLICATION_NAME, Target, missing_extension
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
from ..collectors.postgres.queries import mask_sql, parse_version
from ..collectors.postgres.samples import Backend, ServerInfo, StatementKey
from ..redact import redact, redact_short
from .gate import Approval

Connect = Callable[[], Awaitable["asyncpg.Connection[Any]"]]

EXPLAIN_TIMEOUT_S = 30.0  # statement_timeout of an EXPLAIN ANALYZE
TERMINATE_WAIT_MS = 5000  # pg_terminate_backend(pid, timeout) waits this long (14+)
SHORT = 80  # characters of untrusted text in a prompt or an audit field


class PostgresActionError(Exception):
    """An action did not do what it was asked; the message is plain words for a person."""


# Untrusted text -------------------------------------------------------------------------


def short(text: str, limit: int = SHORT) -> str:
    """One line of at most `limit` characters, secrets masked first (`mask_sql` masks a
    password cut off by pg_stat_activity's truncation too)."""
    text = mask_sql(text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _free(text: str, limit: int = 40) -> str:
    """A name (user, database, application) on one line: free text, not SQL, so masked as
    a command line is (`psql password=x`), whole, then shortened."""
    return redact_short(" ".join(text.split()), limit)


def _name(text: str) -> str:
    return _free(text) or "?"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60} min"


# Connections ----------------------------------------------------------------------------


def connection_factory(
    target: Target, *, database: str | None = None, connect_timeout: float = 5.0
) -> Connect:
    """A `Connect` opening a fresh connection to `target` (to `database` when given), named
    `perftop` in pg_stat_activity, with a lock_timeout and a 60 s statement_timeout that
    each action narrows further."""
    overrides: dict[str, Any] = dict(target.params)
    if database is not None:
        overrides["database"] = database
    settings = {
        "application_name": APPLICATION_NAME,
        "statement_timeout": "60000",
        "lock_timeout": str(int(LOCK_TIMEOUT_S * 1000)),
    }

    async def connect() -> asyncpg.Connection[Any]:
        conn: asyncpg.Connection[Any] = await asyncpg.connect(
            target.dsn, timeout=connect_timeout, server_settings=settings, **overrides
        )
        return conn

    return connect


@asynccontextmanager
async def _connection(connect: Connect) -> AsyncIterator[asyncpg.Connection[Any]]:
    try:
        conn = await connect()
    except Exception as exc:  # noqa: BLE001 - one plain line, never a DSN
        raise PostgresActionError(f"cannot connect to PostgreSQL: {redact(str(exc))}") from None
    try:
        yield conn
    finally:
        if not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 2.0)
            except Exception:  # noqa: BLE001 - a broken connection: drop it
                conn.terminate()


def _refused(exc: asyncpg.PostgresError, needs: str) -> PostgresActionError:
    return PostgresActionError(f"PostgreSQL refused: {redact(str(exc))} ({needs})")


# Backends -------------------------------------------------------------------------------

# The pid must still belong to the same user and database: a pid reused by a new session
# between the prompt and the approval is not touched.
_SIGNAL_BACKEND = """
SELECT {function} AS done
FROM pg_stat_activity
WHERE pid = $1 AND coalesce(usename, '') = $2 AND coalesce(datname, '') = $3
"""


def _backend_label(b: Backend) -> str:
    parts = [f"{_name(b.user)} on {_name(b.database)}"]
    if b.application:
        parts.append(_name(b.application))
    return f"backend {b.pid} ({', '.join(parts)})"


async def _signal_backend(conn: asyncpg.Connection[Any], backend: Backend, function: str) -> bool:
    """Run `function` (pg_cancel_backend or pg_terminate_backend) on the backend if its pid
    still belongs to the same user and database; raise when it does not, or when refused."""
    try:
        row = await conn.fetchrow(
            _SIGNAL_BACKEND.format(function=function), backend.pid, backend.user, backend.database
        )
    except asyncpg.InsufficientPrivilegeError as exc:
        raise _refused(exc, _SIGNAL_NEEDS) from None
    if row is None:
        raise PostgresActionError(
            f"backend {backend.pid} is gone (or its pid now belongs to another session): "
            "nothing was done"
        )
    return bool(row["done"])


_SIGNAL_NEEDS = (
    "needs membership in that role or in pg_signal_backend; a superuser's session needs a superuser"
)


@dataclass(frozen=True, slots=True)
class CancelQuery:
    """pg_cancel_backend: stop a backend's running query; the session stays connected."""

    backend: Backend
    connect: Connect = field(repr=False, compare=False)

    @property
    def kind(self) -> str:
        return "pg-cancel"

    @property
    def target(self) -> str:
        return _backend_label(self.backend)

    @property
    def title(self) -> str:
        return f"Cancel the query of backend {self.backend.pid}"

    def describe(self) -> str:
        b = self.backend
        running = f"running for {_duration(b.query_seconds)}" if b.query_seconds is not None else ""
        query = _query_shown(b)
        what = ", ".join(p for p in (f"{_name(b.user)} on {_name(b.database)}", running) if p)
        text = (
            f"Cancel the running query of backend {b.pid} ({what}: {query}). The query stops "
            "with an error; the session stays connected."
        )
        if b.state and b.state != "active":
            text += f" It is {_name(b.state)} now, so there may be no query to cancel."
        return text

    def details(self) -> Mapping[str, object]:
        return _backend_details(self.backend)

    async def perform(self, approval: Approval) -> str:
        approval.check()
        async with _connection(self.connect) as conn:
            done = await _signal_backend(conn, self.backend, "pg_cancel_backend(pid)")
        if not done:
            raise PostgresActionError(
                f"PostgreSQL reported that it could not cancel backend {self.backend.pid}"
            )
        return f"PostgreSQL cancelled the running query of backend {self.backend.pid}"


@dataclass(frozen=True, slots=True)
class TerminateBackend:
    """pg_terminate_backend: close a backend's connection, rolling back its transaction."""

    backend: Backend
    connect: Connect = field(repr=False, compare=False)

    @property
    def kind(self) -> str:
        return "pg-terminate"

    @property
    def target(self) -> str:
        return _backend_label(self.backend)

    @property
    def title(self) -> str:
        return f"Terminate backend {self.backend.pid}"

    def describe(self) -> str:
        b = self.backend
        since = b.xact_seconds if b.state == "idle in transaction" else b.state_seconds
        state = f"{_name(b.state)} for {_duration(since)}" if b.state and since is not None else ""
        query = _query_shown(b)
        what = ", ".join(p for p in (f"{_name(b.user)} on {_name(b.database)}", state) if p)
        return (
            f"Terminate backend {b.pid} ({what}: {query}). Its connection is closed and any "
            "open transaction is rolled back; the client gets an error and must reconnect."
        )

    def details(self) -> Mapping[str, object]:
        return _backend_details(self.backend)

    async def perform(self, approval: Approval) -> str:
        approval.check()
        pid = self.backend.pid

        async with _connection(self.connect) as conn:
            # 14+: wait until the backend has exited, so "terminated" means gone.
            waits = conn.get_server_version().major >= 14
            function = (
                f"pg_terminate_backend(pid, {TERMINATE_WAIT_MS})"
                if waits
                else "pg_terminate_backend(pid)"
            )
            try:
                done = await _signal_backend(conn, self.backend, function)
            except asyncpg.QueryCanceledError:
                # A factory's own short statement_timeout cut the wait: the signal was sent.
                raise PostgresActionError(
                    f"backend {pid} was told to terminate; perftop stopped waiting for it to "
                    "exit (statement_timeout)"
                ) from None
        if not done:
            if waits:
                raise PostgresActionError(
                    f"backend {pid} was told to terminate but had not exited after "
                    f"{TERMINATE_WAIT_MS // 1000} s"
                )
            raise PostgresActionError(f"PostgreSQL reported that it could not terminate {pid}")
        if waits:
            return f"backend {pid} was terminated: its connection is closed"
        return f"PostgreSQL is terminating backend {pid}: its connection is being closed"


def _query_shown(b: Backend) -> str:
    if b.query_hidden:
        return "its query is hidden from perftop's role"
    return f"`{short(b.query)}`" if b.query.strip() else "no query text"


def _backend_details(b: Backend) -> Mapping[str, object]:
    return {
        "pid": b.pid,
        "backend_user": _name(b.user),
        "database": _name(b.database),
        "application": _free(b.application),
        "state": b.state,
        "query": "" if b.query_hidden else short(b.query),
    }


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
        user = _name(self.user) if self.user else f"user oid {self.key.userid}"
        database = _name(self.database) if self.database else f"database oid {self.key.dbid}"
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
        async with _connection(self.connect) as conn:
            version = await conn.fetchval(
                "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'"
            )
            if version is None:
                database = await conn.fetchval("SELECT current_database()")
                raise PostgresActionError(
                    f'pg_stat_statements is not installed in database "{_name(database)}": '
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
                raise _refused(exc, needs) from None
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
        return f"`{short(self.query)}` ({_name(self.user)} on {_name(self.database)})"

    @property
    def title(self) -> str:
        return "EXPLAIN ANALYZE: executes the statement"

    def describe(self) -> str:
        shape = scan_sql(self.query)
        modifies = shape.modifies
        text = (
            f"EXECUTE `{short(self.query)}` in database {_name(self.database)} with EXPLAIN "
            "ANALYZE, inside a transaction that is then rolled back. "
        )
        if modifies:
            text += f"This statement contains {'/'.join(modifies)}. "
        text += (
            "It really runs: data-modifying statements (INSERT, UPDATE, DELETE, MERGE, or a "
            "function with side effects) still take their locks and do their work before "
            "the rollback, and sequences stay advanced. "
            f"It runs as {_name(self.user)} where perftop's role may SET ROLE to it, else as "
            "perftop's role; SET ROLE is no sandbox (a function can switch back). "
        )
        text += _rights_line(self.assessment)
        text += (
            f"It is stopped after {_duration(self.timeout_s)} (statement_timeout) "
            f"and gives up waiting for a lock after {_duration(LOCK_TIMEOUT_S)} (lock_timeout)."
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
            "database": _name(self.database),
            "as_user": _name(self.user),
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
        async with _connection(self.connect) as conn:
            here = await conn.fetchrow(
                "SELECT current_database() AS database, current_user AS me, "
                "(SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles "
                " WHERE rolname = $1) AS may_become",
                self.user,
            )
            assert here is not None
            if here["database"] != self.database:
                raise PostgresActionError(
                    f'not executed: the statement ran in database "{_name(self.database)}" '
                    f'but this connection is to "{_name(here["database"])}"'
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
        who = _name(self.user) if become or self.user == me else f"{_name(me)} (perftop's role)"
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
        return f"`{short(self.query)}` ({_name(self.user)} on {_name(self.database)})"

    @property
    def title(self) -> str:
        return "EXPLAIN (plan only): may run code while planning"

    def describe(self) -> str:
        return (
            f"Plan `{short(self.query)}` in database {_name(self.database)} with EXPLAIN, "
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
            "database": _name(self.database),
            "user": _name(self.user),
            **_foreign_details(self.assessment),
        }

    async def perform(self, approval: Approval) -> str:
        approval.check()
        async with _connection(self.connect) as conn:
            database = await conn.fetchval(PLAN_SQL + "SELECT current_database()")
            if database != self.database:
                raise PostgresActionError(
                    f'not planned: the statement ran in database "{_name(self.database)}" '
                    f'but this connection is to "{_name(database)}"'
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
            f'database "{_name(server_info.database)}"'
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
        return f"database {_name(self.server_info.database)}"

    @property
    def title(self) -> str:
        return "Create extension pg_stat_statements"

    def describe(self) -> str:
        database = _name(self.server_info.database)
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
        return {"database": _name(self.server_info.database)}

    async def perform(self, approval: Approval) -> str:
        approval.check()
        async with _connection(self.connect) as conn:
            here = await conn.fetchrow(_PRELOAD)
            assert here is not None
            if here["database"] != self.server_info.database:
                raise PostgresActionError(
                    f'nothing was done: this connection is to "{_name(here["database"])}", '
                    f'not "{_name(self.server_info.database)}"'
                )
            if not here["preloaded"]:
                info = replace(self.server_info, pgss_preloaded=False)
                raise PostgresActionError(
                    f"nothing was done: {missing_extension(info, here['preload'])}"
                )
            try:
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            except asyncpg.InsufficientPrivilegeError as exc:
                raise _refused(
                    exc, "CREATE EXTENSION pg_stat_statements needs a superuser"
                ) from None
            version = await conn.fetchval(
                "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'"
            )
        return f'pg_stat_statements {version} is installed in database "{_name(here["database"])}"'
