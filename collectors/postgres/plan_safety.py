"""Whether planning a statement can run someone else's code with perftop's rights.

The planner folds calls of IMMUTABLE functions on constants while it plans, inlines SQL
functions, expands views, adds row-security policies, reads index expressions, column
defaults, check constraints and extended statistics, and calls the selectivity code of the
operators it meets. Any of these can be a function written by another role, and it then
runs with the rights of the role that plans: perftop's own, a superuser's when perftop
connects as `postgres`. A read-only transaction does not stop it (`pg_read_file`,
`pg_reload_conf`), and neither does `SET ROLE` (the function can undo it with `set_config`).

So perftop plans a statement without asking only when everything it reaches is PostgreSQL's
own, in `pg_catalog`:

- the statement is parsed with PostgreSQL's own parser (pglast, libpg_query); anything that
  does not parse as exactly one SELECT, INSERT, UPDATE, DELETE or MERGE is not planned;
- every function, operator and type it names is looked up the way the planning session
  would find it: a qualified name must be in `pg_catalog`; an unqualified one must have no
  namesake outside `pg_catalog` in any schema of that session's search path
  (`current_schemas(true)`), whatever the argument types, so overload resolution cannot
  pick another role's better match. A field selection `x.name` can be the function
  `name(x)`, so it counts as a function name too;
- every relation it names (all namesakes on the search path) and every type it casts to
  is followed through the catalog: indexes, constraints, defaults, policies, rules (a
  view's definition), extended statistics, inheritance children, column types, domain
  constraints and every cast from or to each type, and from each of these the functions,
  operators, operator classes, types and relations `pg_depend` records. Anything outside
  `pg_catalog` there is named in the verdict with its owner. A view is planned unasked
  when its definition reaches only `pg_catalog` (the catalog records exactly what it
  uses); a foreign table never is (its planning may reach another server).

This holds for every role perftop connects as: nothing is planned unasked unless the check
passed, so a superuser or a member of pg_execute_server_program, pg_read_server_files or
pg_write_server_files (`Rights.powerful`) is no exception.

Anything the check cannot read or does not recognise makes the statement unsafe. The check
never runs the statement and takes no lock on the relations; every query it sends starts
with `MARKER`, as all of perftop's SQL does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .queries import MARKER

if TYPE_CHECKING:
    import asyncpg

QualName = tuple[str | None, str]
"""(schema or None when unqualified, name), as the statement spells it."""

CATALOG = "pg_catalog"
POWERFUL_ROLES = ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files")
"""Predefined roles whose rights reach the server's files and programs."""

MAX_LEVELS = 25  # catalog levels followed from the statement (views of views of ...)
MAX_OBJECTS = 5000  # objects followed in all: beyond this the check gives up (unsafe)

_PLANNABLE = ("SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt")
_BETWEEN = ("AEXPR_BETWEEN", "AEXPR_NOT_BETWEEN", "AEXPR_BETWEEN_SYM", "AEXPR_NOT_BETWEEN_SYM")


class Unparseable(ValueError):
    """The text is not one statement perftop will plan; the message says why."""


@dataclass(frozen=True, slots=True)
class Names:
    """What a statement names, as written (nothing resolved yet)."""

    functions: frozenset[QualName]
    operators: frozenset[QualName]
    types: frozenset[QualName]
    relations: frozenset[QualName]
    fields: frozenset[str]  # `x.name`: a column of x, or the function name(x)


def names_in(query: str) -> Names:
    """Every function, operator, type, relation and field name `query` uses; raises
    `Unparseable` unless it is exactly one SELECT, INSERT, UPDATE, DELETE or MERGE."""
    from pglast import ast, parse_sql
    from pglast.parser import ParseError

    try:
        statements = parse_sql(query)
    except ParseError as exc:
        raise Unparseable(f"PostgreSQL's parser does not accept it ({exc})") from None
    if len(statements) != 1:
        raise Unparseable(f"it holds {len(statements)} statements, not one")
    root = statements[0].stmt
    kind = type(root).__name__
    if kind not in _PLANNABLE:
        raise Unparseable(f"it is a {kind.removesuffix('Stmt')} statement, not a query")
    if isinstance(root, ast.SelectStmt) and root.intoClause is not None:
        raise Unparseable("SELECT INTO creates a table")

    functions: set[QualName] = set()
    operators: set[QualName] = set()
    types: set[QualName] = set()
    relations: set[QualName] = set()
    fields: set[str] = set()
    for node in _walk(root):
        if isinstance(node, ast.FuncCall):
            functions.add(_qualified(node.funcname))
        elif isinstance(node, ast.A_Expr):
            if getattr(node.kind, "name", "") in _BETWEEN:
                operators.update({(None, ">="), (None, "<="), (None, ">"), (None, "<")})
            elif node.name:
                operators.add(_qualified(node.name))
        elif isinstance(node, ast.SubLink):
            if node.operName:
                operators.add(_qualified(node.operName))
            elif (
                getattr(node.subLinkType, "name", "") == "ANY_SUBLINK"
            ):  # `x IN (SELECT ...)` is `= ANY`
                operators.add((None, "="))
        elif isinstance(node, ast.SortBy) and node.useOp:
            operators.add(_qualified(node.useOp))
        elif isinstance(node, ast.TypeName):
            if node.pct_type:
                raise Unparseable("it copies a column's type (%TYPE)")
            types.add(_qualified(node.names))
        elif isinstance(node, ast.RangeVar):
            relations.add((node.schemaname or None, str(node.relname)))
        elif isinstance(node, ast.RangeTableSample):
            functions.add(_qualified(node.method))
        elif isinstance(node, ast.ColumnRef):
            parts = node.fields or ()
            if len(parts) >= 2 and isinstance(parts[-1], ast.String):
                fields.add(str(parts[-1].sval))
        elif isinstance(node, ast.A_Indirection):
            fields.update(str(i.sval) for i in node.indirection or () if isinstance(i, ast.String))
    return Names(
        frozenset(functions),
        frozenset(operators),
        frozenset(types),
        frozenset(relations),
        frozenset(fields),
    )


def _walk(root: Any) -> Iterator[Any]:
    """Every parse node under `root` (itself included), depth first."""
    from pglast import ast

    stack = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple | list):
            stack.extend(item)
        elif isinstance(item, ast.Node):
            yield item
            stack.extend(getattr(item, slot) for slot in item)


def _qualified(parts: Iterable[Any] | None) -> QualName:
    """A parser name list ("schema", "name") or ("name",) as (schema or None, name)."""
    words = [str(getattr(p, "sval", p)) for p in parts or ()]
    if not words:
        raise Unparseable("it uses an object without a name")
    if len(words) > 2:  # database.schema.name: not ours to judge
        raise Unparseable(f"it names {'.'.join(words)} with a database")
    return (words[0], words[1]) if len(words) == 2 else (None, words[0])


# The verdict --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rights:
    """Whose rights a plan runs with: the planning connection's role."""

    role: str
    superuser: bool
    powers: tuple[str, ...]  # the POWERFUL_ROLES it is a member of

    @property
    def powerful(self) -> bool:
        return self.superuser or bool(self.powers)

    def describe(self) -> str:
        """E.g. `postgres (a superuser)`, `perftop (member of pg_read_server_files)`."""
        what = []
        if self.superuser:
            what.append("a superuser")
        if self.powers:
            what.append("member of " + ", ".join(self.powers))
        return f"{self.role} ({'; '.join(what)})" if what else self.role


@dataclass(frozen=True, slots=True, order=True)
class Foreign:
    """Something outside pg_catalog that planning (or executing) may run."""

    kind: str  # "function", "operator", "operator class", "foreign table", ...
    name: str  # schema-qualified, with argument types for functions and operators
    owner: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name} (owner {self.owner})"


@dataclass(frozen=True, slots=True)
class Assessment:
    """The verdict on one statement, on one connection."""

    rights: Rights | None
    foreign: tuple[Foreign, ...] = ()  # what may run, sorted
    problems: tuple[str, ...] = ()  # why the check could not clear it otherwise

    @property
    def safe(self) -> bool:
        """Planning it unasked runs nothing but PostgreSQL's own code."""
        return self.rights is not None and not self.foreign and not self.problems

    def why(self) -> str:
        """Why it is not safe, in one plain sentence ("" when it is)."""
        parts = list(self.problems)
        if self.foreign:
            shown = ", ".join(str(f) for f in self.foreign[:5])
            more = f" and {len(self.foreign) - 5} more" if len(self.foreign) > 5 else ""
            parts.append(f"it may run code outside pg_catalog: {shown}{more}")
        return "; ".join(parts)


_RIGHTS = f"""{MARKER}plan safety: rights
SELECT current_user AS role, r.rolsuper AS superuser,
       ARRAY(SELECT g FROM unnest($1::text[]) AS g
             WHERE NOT r.rolsuper AND pg_has_role(current_user, g, 'MEMBER')) AS powers,
       ARRAY(SELECT nspname::text FROM pg_namespace
             WHERE nspname = ANY (current_schemas(true))) AS path
FROM pg_roles r WHERE r.rolname = current_user
"""

# Functions and operators: named outside pg_catalog, qualified ($1, $2) or anywhere on the
# path ($3). Types and relations: every namesake on the path, pg_catalog's too.
_NAMED = f"""{MARKER}plan safety: names
WITH q(schema, name) AS (SELECT * FROM unnest($1::text[], $2::text[])),
     path(schema) AS (SELECT unnest($3::text[]))
SELECT 'function' AS kind, n.nspname AS schema,
       n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid)
       || ')' AS name, pg_get_userbyid(p.proowner) AS owner, p.oid
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname <> 'pg_catalog'
  AND ((n.nspname, p.proname) IN (SELECT schema, name FROM q WHERE schema IS NOT NULL)
       OR (p.proname IN (SELECT name FROM q WHERE schema IS NULL)
           AND n.nspname IN (SELECT schema FROM path)))
UNION ALL
SELECT 'operator', n.nspname,
       n.nspname || '.' || o.oprname || '(' || coalesce(format_type(o.oprleft, NULL), 'none')
       || ', ' || coalesce(format_type(o.oprright, NULL), 'none') || ')',
       pg_get_userbyid(o.oprowner), o.oid
FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
WHERE n.nspname <> 'pg_catalog'
  AND ((n.nspname, o.oprname) IN (SELECT schema, name FROM q WHERE schema IS NOT NULL)
       OR (o.oprname IN (SELECT name FROM q WHERE schema IS NULL)
           AND n.nspname IN (SELECT schema FROM path)))
"""

_FOLLOWED = f"""{MARKER}plan safety: follow
SELECT 'type' AS kind, n.nspname AS schema, t.oid
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE (n.nspname, t.typname) IN (SELECT * FROM unnest($1::text[], $2::text[]))
   OR (t.typname = ANY ($3::text[]) AND n.nspname = ANY ($5::text[]))
UNION ALL
SELECT 'relation', n.nspname, c.oid
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))
   OR (c.relname = ANY ($4::text[]) AND n.nspname = ANY ($5::text[]))
"""

# One level of the walk: from relations ($1) and types ($2), what they are made of, and
# what that depends on. $3: include triggers (they run when the statement executes).
_LEVEL = f"""{MARKER}plan safety: level
WITH rels AS (SELECT unnest($1::oid[]) AS oid),
     types AS (SELECT unnest($2::oid[]) AS oid),
     parts(classid, objid) AS (
         SELECT 'pg_class'::regclass::oid, oid FROM rels
         UNION ALL SELECT 'pg_class'::regclass::oid, indexrelid FROM pg_index
                   WHERE indrelid IN (SELECT oid FROM rels)
         UNION ALL SELECT 'pg_constraint'::regclass::oid, oid FROM pg_constraint
                   WHERE conrelid IN (SELECT oid FROM rels)
                      OR contypid IN (SELECT oid FROM types)
         UNION ALL SELECT 'pg_attrdef'::regclass::oid, oid FROM pg_attrdef
                   WHERE adrelid IN (SELECT oid FROM rels)
         UNION ALL SELECT 'pg_policy'::regclass::oid, oid FROM pg_policy
                   WHERE polrelid IN (SELECT oid FROM rels)
         UNION ALL SELECT 'pg_rewrite'::regclass::oid, oid FROM pg_rewrite
                   WHERE ev_class IN (SELECT oid FROM rels)
         UNION ALL SELECT 'pg_statistic_ext'::regclass::oid, oid FROM pg_statistic_ext
                   WHERE stxrelid IN (SELECT oid FROM rels)
         UNION ALL SELECT 'pg_trigger'::regclass::oid, oid FROM pg_trigger
                   WHERE $3 AND tgrelid IN (SELECT oid FROM rels)
         UNION ALL SELECT 'pg_cast'::regclass::oid, oid FROM pg_cast
                   WHERE castsource IN (SELECT oid FROM types)
                      OR casttarget IN (SELECT oid FROM types)
         UNION ALL SELECT 'pg_type'::regclass::oid, oid FROM types),
     refs(classid, objid) AS (
         SELECT d.refclassid, d.refobjid FROM pg_depend d
         JOIN parts p ON p.classid = d.classid AND p.objid = d.objid
         UNION SELECT 'pg_class'::regclass::oid, inhrelid FROM pg_inherits
               WHERE inhparent IN (SELECT oid FROM rels)
         UNION SELECT 'pg_class'::regclass::oid, typrelid FROM pg_type
               WHERE oid IN (SELECT oid FROM types) AND typrelid <> 0
         UNION SELECT 'pg_proc'::regclass::oid, a.amhandler FROM pg_class c
               JOIN pg_am a ON a.oid = c.relam
               WHERE c.oid IN (SELECT objid FROM parts
                               WHERE classid = 'pg_class'::regclass::oid))
SELECT 'function' AS kind, n.nspname AS schema, r.objid AS oid,
       n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid)
       || ')' AS name, pg_get_userbyid(p.proowner) AS owner, NULL::"char" AS relkind
FROM refs r JOIN pg_proc p ON p.oid = r.objid JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE r.classid = 'pg_proc'::regclass::oid
UNION ALL
SELECT 'operator', n.nspname, r.objid,
       n.nspname || '.' || o.oprname || '(' || coalesce(format_type(o.oprleft, NULL), 'none')
       || ', ' || coalesce(format_type(o.oprright, NULL), 'none') || ')',
       pg_get_userbyid(o.oprowner), NULL
FROM refs r JOIN pg_operator o ON o.oid = r.objid
JOIN pg_namespace n ON n.oid = o.oprnamespace
WHERE r.classid = 'pg_operator'::regclass::oid
UNION ALL
SELECT 'operator class', n.nspname, r.objid, n.nspname || '.' || c.opcname,
       pg_get_userbyid(c.opcowner), NULL
FROM refs r JOIN pg_opclass c ON c.oid = r.objid JOIN pg_namespace n ON n.oid = c.opcnamespace
WHERE r.classid = 'pg_opclass'::regclass::oid
UNION ALL
SELECT 'operator family', n.nspname, r.objid, n.nspname || '.' || f.opfname,
       pg_get_userbyid(f.opfowner), NULL
FROM refs r JOIN pg_opfamily f ON f.oid = r.objid
JOIN pg_namespace n ON n.oid = f.opfnamespace
WHERE r.classid = 'pg_opfamily'::regclass::oid
UNION ALL
SELECT 'type', n.nspname, r.objid, n.nspname || '.' || t.typname,
       pg_get_userbyid(t.typowner), NULL
FROM refs r JOIN pg_type t ON t.oid = r.objid JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE r.classid = 'pg_type'::regclass::oid
UNION ALL
SELECT 'relation', n.nspname, r.objid, n.nspname || '.' || c.relname,
       pg_get_userbyid(c.relowner), c.relkind
FROM refs r JOIN pg_class c ON c.oid = r.objid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE r.classid = 'pg_class'::regclass::oid
UNION ALL
SELECT 'relation', n.nspname, c.oid, n.nspname || '.' || c.relname,
       pg_get_userbyid(c.relowner), c.relkind
FROM rels JOIN pg_class c ON c.oid = rels.oid JOIN pg_namespace n ON n.oid = c.relnamespace
"""

# The definitions the walk reaches, as text: pg_depend records no use of a pg_catalog
# function, so the functions in `_RUNS_QUERIES` are looked for by name in them.
_DEFINITIONS = f"""{MARKER}plan safety: definitions
SELECT pg_get_viewdef(oid) FROM pg_class WHERE oid = ANY ($1::oid[]) AND relkind IN ('v', 'm')
UNION ALL SELECT concat(pg_get_expr(polqual, polrelid), ' ', pg_get_expr(polwithcheck, polrelid))
          FROM pg_policy WHERE polrelid = ANY ($1::oid[])
UNION ALL SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = ANY ($1::oid[])
UNION ALL SELECT pg_get_constraintdef(oid) FROM pg_constraint
          WHERE conrelid = ANY ($1::oid[]) OR contypid = ANY ($2::oid[])
UNION ALL SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = ANY ($1::oid[])
"""

_RUNS_CODE = ("function", "operator", "operator class", "operator family")

# pg_catalog functions that read a relation or run a query named by their arguments: the
# planner evaluates STABLE calls on constants while it estimates selectivity (measured:
# `WHERE name = table_to_xml('a_view'::regclass, ...)::text` ran the view's function).
_RUNS_QUERIES = frozenset(
    f"{what}_to_xml{suffix}"
    for what in ("table", "query", "cursor", "schema", "database")
    for suffix in ("", "schema", "_and_xmlschema")
) | {"ts_stat", "ts_rewrite"}


async def rights(conn: asyncpg.Connection[Any]) -> tuple[Rights, tuple[str, ...]]:
    """The connection's role and its search path (`current_schemas(true)`)."""
    row = await conn.fetchrow(_RIGHTS, list(POWERFUL_ROLES))
    if row is None:  # a role dropped while connected
        raise LookupError("perftop's role is not in pg_roles")
    return Rights(row["role"], bool(row["superuser"]), tuple(row["powers"])), tuple(row["path"])


async def assess(
    conn: asyncpg.Connection[Any], query: str, *, executes: bool = False
) -> Assessment:
    """The verdict on planning `query` on `conn` (with `executes`, on running it: triggers
    count too). Reads the catalog only; never raises for what the server or the text says."""
    try:
        mine, path = await rights(conn)
    except Exception as exc:  # noqa: BLE001 - unsafe, in words
        return Assessment(None, problems=(f"perftop could not read its own role ({exc})",))
    try:
        names = names_in(query)
    except Unparseable as exc:
        return Assessment(mine, problems=(f"perftop cannot check it: {exc}",))
    try:
        foreign, problems = await _resolve(conn, names, path, executes=executes)
    except Exception as exc:  # noqa: BLE001 - unsafe, in words
        return Assessment(mine, problems=(f"perftop could not read the catalog ({exc})",))
    return Assessment(mine, tuple(sorted(foreign)), tuple(dict.fromkeys(problems)))


async def _resolve(
    conn: asyncpg.Connection[Any], names: Names, path: tuple[str, ...], *, executes: bool
) -> tuple[set[Foreign], list[str]]:
    problems: list[str] = []
    foreign: set[Foreign] = set()
    callable_names = names.functions | {(None, f) for f in names.fields}
    for kind, qualnames in (("function", callable_names), ("operator", names.operators)):
        rows = await conn.fetch(_NAMED, *_arrays(qualnames), list(path))
        foreign.update(Foreign(r["kind"], r["name"], r["owner"]) for r in rows if r["kind"] == kind)
    for schema, name in sorted(names.functions, key=str):
        if schema in (None, CATALOG) and name.lower() in _RUNS_QUERIES:
            problems.append(f"it calls {name}, which runs a query or reads a relation itself")
    for schema, name in sorted(callable_names | names.operators, key=str):
        found = any(f.name.startswith(f"{schema}.{name}(") for f in foreign)
        if schema is not None and schema != CATALOG and not found:
            problems.append(f"it names {schema}.{name}, outside pg_catalog")

    qualified = [(s, n) for s, n in names.types | names.relations if s is not None]
    roots = await conn.fetch(
        _FOLLOWED,
        [s for s, _ in qualified],
        [n for _, n in qualified],
        [n for s, n in names.types if s is None],
        [n for s, n in names.relations if s is None],
        list(path),
    )
    rels = {r["oid"] for r in roots if r["kind"] == "relation" and r["schema"] != CATALOG}
    types = {r["oid"] for r in roots if r["kind"] == "type" and r["schema"] != CATALOG}
    seen: set[tuple[str, int]] = set()
    for _ in range(MAX_LEVELS):
        if not rels and not types:
            return foreign, problems
        seen.update(("relation", o) for o in rels)
        seen.update(("type", o) for o in types)
        if len(seen) > MAX_OBJECTS:
            break
        for (text,) in await conn.fetch(_DEFINITIONS, sorted(rels), sorted(types)):
            words = set(re.findall(r"[a-z_][a-z0-9_]*", (text or "").lower()))
            for name in sorted(words & _RUNS_QUERIES):
                problems.append(
                    f"a definition it reaches calls {name}, which runs a query or reads a "
                    "relation itself"
                )
        rows = await conn.fetch(_LEVEL, sorted(rels), sorted(types), executes)
        rels, types = set(), set()
        for r in rows:
            kind, schema = r["kind"], r["schema"]
            if kind in _RUNS_CODE and schema != CATALOG:
                foreign.add(Foreign(kind, r["name"], r["owner"]))
            if kind == "relation" and r["relkind"] == "f":
                foreign.add(Foreign("foreign table", r["name"], r["owner"]))
            if schema == CATALOG or (kind, r["oid"]) in seen:
                continue
            if kind == "relation":
                rels.add(r["oid"])
            elif kind == "type":
                types.add(r["oid"])
    problems.append("it reaches more objects than perftop follows")
    return foreign, problems


def _arrays(names: Iterable[QualName]) -> tuple[list[str | None], list[str]]:
    pairs = sorted(names, key=str)
    return [s for s, _ in pairs], [n for _, n in pairs]
