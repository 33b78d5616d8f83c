"""Actions on a PostgreSQL server's backends (cancel a query, terminate a backend), and
what every PostgreSQL action shares; the actions on statements (reset statistics, EXPLAIN
ANALYZE, a plan that may run code outside pg_catalog, create pg_stat_statements) are in
pg_statements.py.

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
clears; anything else is a PlanStatement (pg_statements.py), whose prompt (like EXPLAIN
ANALYZE's) names perftop's role and the code outside pg_catalog that may run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ..collectors.postgres.connect import APPLICATION_NAME, Target
from ..collectors.postgres.plans import (
    LOCK_TIMEOUT_S,
)
from ..collectors.postgres.queries import mask_sql
from ..collectors.postgres.samples import Backend
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


def free_text(text: str, limit: int = 40) -> str:
    """A name (user, database, application) on one line: free text, not SQL, so masked as
    a command line is (`psql password=x`), whole, then shortened."""
    return redact_short(" ".join(text.split()), limit)


def quoted_name(text: str) -> str:
    return free_text(text) or "?"


def duration_text(seconds: float | None) -> str:
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
async def connection(connect: Connect) -> AsyncIterator[asyncpg.Connection[Any]]:
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


def refused(exc: asyncpg.PostgresError, needs: str) -> PostgresActionError:
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
    parts = [f"{quoted_name(b.user)} on {quoted_name(b.database)}"]
    if b.application:
        parts.append(quoted_name(b.application))
    return f"backend {b.pid} ({', '.join(parts)})"


async def _signal_backend(conn: asyncpg.Connection[Any], backend: Backend, function: str) -> bool:
    """Run `function` (pg_cancel_backend or pg_terminate_backend) on the backend if its pid
    still belongs to the same user and database; raise when it does not, or when refused."""
    try:
        row = await conn.fetchrow(
            _SIGNAL_BACKEND.format(function=function), backend.pid, backend.user, backend.database
        )
    except asyncpg.InsufficientPrivilegeError as exc:
        raise refused(exc, _SIGNAL_NEEDS) from None
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
        running = (
            f"running for {duration_text(b.query_seconds)}" if b.query_seconds is not None else ""
        )
        query = _query_shown(b)
        what = ", ".join(
            p for p in (f"{quoted_name(b.user)} on {quoted_name(b.database)}", running) if p
        )
        text = (
            f"Cancel the running query of backend {b.pid} ({what}: {query}). The query stops "
            "with an error; the session stays connected."
        )
        if b.state and b.state != "active":
            text += f" It is {quoted_name(b.state)} now, so there may be no query to cancel."
        return text

    def details(self) -> Mapping[str, object]:
        return _backend_details(self.backend)

    async def perform(self, approval: Approval) -> str:
        approval.check()
        async with connection(self.connect) as conn:
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
        state = (
            f"{quoted_name(b.state)} for {duration_text(since)}"
            if b.state and since is not None
            else ""
        )
        query = _query_shown(b)
        what = ", ".join(
            p for p in (f"{quoted_name(b.user)} on {quoted_name(b.database)}", state) if p
        )
        return (
            f"Terminate backend {b.pid} ({what}: {query}). Its connection is closed and any "
            "open transaction is rolled back; the client gets an error and must reconnect."
        )

    def details(self) -> Mapping[str, object]:
        return _backend_details(self.backend)

    async def perform(self, approval: Approval) -> str:
        approval.check()
        pid = self.backend.pid

        async with connection(self.connect) as conn:
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
        "backend_user": quoted_name(b.user),
        "database": quoted_name(b.database),
        "application": free_text(b.application),
        "state": b.state,
        "query": "" if b.query_hidden else short(b.query),
    }
