"""Planning a statement without running it, and what EXPLAIN will accept: read-only work
on a connection, used by the PostgreSQL screen unasked (when `plan_safety` clears the
statement) and by the `PlanStatement` action (actions/postgres.py) once approved.

`scan_sql` reads a statement's shape without a round trip (one statement? parameters? a
kind EXPLAIN takes?); `generic_plan` plans it in a read-only transaction that is rolled
back, with short timeouts, every statement marked as perftop's own.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from typing import Any

import asyncpg

from ...redact import redact
from .plan_safety import CATALOG, assess
from .queries import MARKER

LOCK_TIMEOUT_S = 5.0  # lock_timeout of every action and plan: never queue long behind a lock
GENERIC_PLAN_TIMEOUT_MS = 2000  # statement_timeout of a plain EXPLAIN / GENERIC_PLAN


# SQL shape (what EXPLAIN will accept, without a round trip) -----------------------------


@dataclass(frozen=True, slots=True)
class SqlShape:
    """What a quick scan of a statement found, outside strings, identifiers and comments."""

    first_word: str  # lower case: "select", "with", "update", "(" ...; "" when empty
    parameters: tuple[int, ...]  # $n placeholders, sorted, distinct
    statements: int  # non-empty statements separated by `;`
    words: frozenset[str]  # every bare word, lower case
    body: str  # the text without a trailing `;`

    @property
    def modifies(self) -> tuple[str, ...]:
        """The data-modifying keywords present (also `FOR UPDATE`, which locks rows)."""
        return tuple(w.upper() for w in ("insert", "update", "delete", "merge") if w in self.words)


_WORD = re.compile(r"[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")
_PARAM = re.compile(r"\$(\d+)")


def scan_sql(query: str) -> SqlShape:
    """Scan `query` the way PostgreSQL's lexer splits it, far enough to find `$n`
    parameters, statement boundaries and keywords (not a parser: a guard and a hint)."""
    i, n = 0, len(query)
    words: list[str] = []
    params: set[int] = set()
    segments, current = 0, False  # non-empty statements so far, and whether one is open
    last_semicolon = -1
    first = ""
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
            continue
        if query.startswith("--", i):
            end = query.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if query.startswith("/*", i):  # block comments nest in PostgreSQL
            depth, i = 1, i + 2
            while i < n and depth:
                if query.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif query.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            continue
        if c == ";":
            segments += current
            current, last_semicolon = False, i
            i += 1
            continue
        if not current:
            current = True
            if segments == 0:
                word = _WORD.match(query, i)
                first = word.group().lower() if word else c
        if c in "'\"" or (c in "eE" and query.startswith("'", i + 1)):
            escapes = c in "eE"
            quote = "'" if escapes else c
            i += 2 if escapes else 1
            while i < n:
                if escapes and query[i] == "\\":
                    i += 2
                elif query[i] == quote:
                    if query.startswith(quote, i + 1):  # '' or "" inside
                        i += 2
                    else:
                        i += 1
                        break
                else:
                    i += 1
            continue
        if c == "$":
            param = _PARAM.match(query, i)
            if param:
                params.add(int(param.group(1)))
                i = param.end()
                continue
            tag = _DOLLAR_TAG.match(query, i)
            if tag:
                end = query.find(tag.group(), tag.end())
                i = n if end < 0 else end + len(tag.group())
                continue
        word = _WORD.match(query, i)
        if word:
            words.append(word.group().lower())
            i = word.end()
            continue
        i += 1
    segments += current
    body = query.rstrip()
    if last_semicolon >= 0 and segments <= 1 and not query[last_semicolon + 1 :].strip():
        body = query[:last_semicolon].rstrip()
    return SqlShape(first, tuple(sorted(params)), segments, frozenset(words), body)


_EXPLAINABLE = ("select", "with", "insert", "update", "delete", "merge", "values", "table", "(")


def explain_problem(query: str) -> str | None:
    """Why EXPLAIN ANALYZE cannot run `query` as it is, or None when it can."""
    return _problem(scan_sql(query), parameters_ok=False)


def _problem(shape: SqlShape, *, parameters_ok: bool) -> str | None:
    if shape.statements == 0:
        return "there is no statement to explain"
    if shape.statements > 1:
        return "this text holds several statements: EXPLAIN takes one"
    if shape.first_word not in _EXPLAINABLE:
        return (
            f"{shape.first_word.upper()} statements cannot be explained: EXPLAIN takes SELECT, "
            "INSERT, UPDATE, DELETE, MERGE, VALUES and TABLE"
        )
    if shape.parameters and not parameters_ok:
        first = ", ".join(f"${p}" for p in shape.parameters[:3])
        more = "…" if len(shape.parameters) > 3 else ""
        return (
            f"this statement has parameters ({first}{more}) whose values pg_stat_statements "
            "does not keep: it cannot be executed as it is, and perftop will not guess values"
        )
    return None


# Planning -------------------------------------------------------------------------------

PLAN_SQL = MARKER + "plan\n"  # every statement of a plan is marked as perftop's own
NOT_FETCHED = "plan not fetched: "  # how `generic_plan` starts its reason when the check refused


async def set_local(conn: asyncpg.Connection[Any], **settings: str) -> None:
    for name, value in settings.items():
        await conn.execute(PLAN_SQL + "SELECT set_config($1, $2, true)", name, value)


async def rollback(conn: asyncpg.Connection[Any]) -> None:
    """End the transaction without keeping anything; if even that fails, close the
    connection, which makes the server roll back."""
    if conn.is_closed():
        return
    try:
        await asyncio.wait_for(conn.execute("ROLLBACK"), 5.0)
    except BaseException:
        conn.terminate()
        raise


async def generic_plan(
    conn: asyncpg.Connection[Any],
    query: str,
    server_version_num: int,
    *,
    timeout_ms: int = GENERIC_PLAN_TIMEOUT_MS,
    approved: bool = False,
) -> tuple[str | None, str]:
    """A plan for `query` without executing it: `(plan, how)` or `(None, why not)`.

    Unless `approved`, only a statement `plan_safety.assess` clears (nothing in it reaches
    code outside pg_catalog) is planned; the check runs inside the plan's own transaction.
    A statement with `$n` parameters is prepared and explained as a generic plan
    (`plan_cache_mode = force_generic_plan`, `EXPLAIN EXECUTE name(NULL, …)`), which works
    on every version from 12; one without them gets a plain EXPLAIN. Runs in a read-only
    transaction that is rolled back, with a short statement_timeout and lock_timeout, on
    `conn` as it is (its database and role: the caller picks a connection to the
    statement's database). Nothing the server or the driver says raises: it comes back as
    `(None, reason)`.
    """
    shape = scan_sql(query)
    problem = _problem(shape, parameters_ok=True)
    if problem is not None:
        return None, problem
    if conn.is_in_transaction():
        raise ValueError("generic_plan needs a connection outside any transaction")
    try:
        return await _plan(conn, shape, timeout_ms=timeout_ms, approved=approved)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - server and driver errors alike, in words
        return None, f"EXPLAIN failed: {redact(str(exc)) or type(exc).__name__}"


async def _plan(
    conn: asyncpg.Connection[Any], shape: SqlShape, *, timeout_ms: int, approved: bool
) -> tuple[str | None, str]:
    name = f"perftop_plan_{secrets.token_hex(6)}"
    prepared = False
    await conn.execute(PLAN_SQL + "BEGIN READ ONLY")
    try:
        await set_local(
            conn,
            statement_timeout=str(timeout_ms),
            lock_timeout=str(min(timeout_ms, int(LOCK_TIMEOUT_S * 1000))),
            # The text is parsed (by pglast and by the server) with standard strings, so a
            # backslash cannot make the server see a different statement than the check.
            standard_conforming_strings="on",
        )
        if not approved:
            verdict = await assess(conn, shape.body)
            if not verdict.safe:
                return None, NOT_FETCHED + verdict.why()
        if not shape.parameters:
            rows = await conn.fetch(PLAN_SQL + "EXPLAIN (COSTS) " + shape.body)
            return "\n".join(str(r[0]) for r in rows), "estimated plan (not executed)"
        await set_local(conn, plan_cache_mode="force_generic_plan")
        # fetch, the extended protocol: the server takes exactly one statement.
        await conn.fetch(f"{PLAN_SQL}PREPARE {name} AS {shape.body}")
        prepared = True
        types = await conn.fetch(_PARAMETER_TYPES, name)
        if not approved:
            outside = [f"${r['n']} is {r['type']}" for r in types if r["schema"] != CATALOG]
            if outside:
                return None, (
                    f"{NOT_FETCHED}a parameter's type is outside pg_catalog (its checks would "
                    f"run): {', '.join(outside)}"
                )
        nulls = f"({', '.join('NULL' for _ in types)})" if types else ""
        rows = await conn.fetch(f"{PLAN_SQL}EXPLAIN EXECUTE {name}{nulls}")
        return "\n".join(str(r[0]) for r in rows), "generic plan (not executed)"
    finally:
        await rollback(conn)
        if prepared and not conn.is_closed():
            await conn.execute(f"{PLAN_SQL}DEALLOCATE {name}")  # PREPARE outlives a rollback


_PARAMETER_TYPES = f"""{MARKER}plan: parameter types
SELECT p.n, format_type(p.t, NULL) AS type, n.nspname AS schema
FROM pg_prepared_statements s,
     unnest(s.parameter_types::oid[]) WITH ORDINALITY AS p(t, n)
     JOIN pg_type t ON t.oid = p.t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE s.name = $1
ORDER BY p.n
"""
