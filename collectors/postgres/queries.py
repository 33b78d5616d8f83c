"""The SQL perftop runs, kept in `sql/*.sql` and chosen by version.

A file is named `<query>.<axis>-<version>.sql`, where the axis is `pgss` (the
pg_stat_statements extension's version, from pg_extension: the columns follow the
extension, not the server) or `server` (the server's major version). A file serves every
version from its own up to the next file's: `statements.pgss-1.9.sql` covers 1.9 and 1.10,
`statements.pgss-1.11.sql` covers 1.11 and later. Supporting a version with new columns is
one new file. A query without an axis (`server.sql`) fits every version.

Every file starts with `MARKER`, a comment that says whose a statement is to a person
reading pg_stat_statements or pg_stat_activity (up to 17; 18 keeps no comment before a
statement). It proves nothing to perftop (any client can start its SQL with it): an entry is
perftop's only when its whole text is one perftop sends (`is_own`), compared the way the
server normalises it (constants become `$n`, lists of constants may be squashed into one).
The statements asyncpg sends on perftop's connections of its own accord (the type
introspection the first time a connection meets an array type, with `jit` switched off
around it) count as perftop's too (`driver_texts`): they carry no marker, and a client using
asyncpg under perftop's own role sends the same texts, which then count as perftop's load.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Literal

from asyncpg import introspection

from ...redact import MASK, redact

MARKER = "-- perftop: "  # the first characters of every statement perftop sends

Axis = Literal["pgss", "server"]
Version = tuple[int, ...]

_NAME = re.compile(
    r"^(?P<query>[a-z_]+)(?:\.(?P<axis>pgss|server)-(?P<version>\d+(?:\.\d+)*))?\.sql$"
)


class NoQueryFor(LookupError):
    """No SQL file serves this version (it is older than every file)."""


def parse_version(text: str) -> Version:
    """`"1.10"` → (1, 10); `"15.18"` → (15, 18); `"17beta1"` → (17,)."""
    parts = re.match(r"^\d+(?:\.\d+)*", text.strip())
    if parts is None:
        raise ValueError(f"not a version: {text!r}")
    return tuple(int(p) for p in parts.group(0).split("."))


@functools.cache
def _catalogue() -> dict[str, dict[Axis | None, dict[Version, str]]]:
    catalogue: dict[str, dict[Axis | None, dict[Version, str]]] = {}
    for entry in resources.files(__package__).joinpath("sql").iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        axis: Axis | None = match["axis"]  # type: ignore[assignment]  # the regex allows only these
        version = parse_version(match["version"]) if match["version"] else ()
        catalogue.setdefault(match["query"], {}).setdefault(axis, {})[version] = entry.name
    return catalogue


def choose(query: str, axis: Axis | None = None, version: Version = ()) -> str:
    """The file name serving `query` at `version` on `axis`: the newest file not newer."""
    by_axis = _catalogue().get(query)
    if by_axis is None:
        raise KeyError(f"no SQL files for {query!r}")
    files = by_axis.get(axis)
    if files is None:
        raise KeyError(f"no {axis or 'unversioned'} SQL files for {query!r}")
    fitting = [v for v in files if v <= version]
    if not fitting:
        oldest = ".".join(map(str, min(files)))
        shown = ".".join(map(str, version))
        raise NoQueryFor(f"{query}: {axis} {shown} is older than the oldest supported ({oldest})")
    return files[max(fitting)]


@functools.cache
def sql(query: str, axis: Axis | None = None, version: Version = ()) -> str:
    """The text of the SQL file serving `query` at `version`."""
    name = choose(query, axis, version)
    text = resources.files(__package__).joinpath("sql", name).read_text(encoding="utf-8")
    if not text.startswith(MARKER):
        raise ValueError(f"sql/{name} must start with {MARKER!r}: it names perftop as its sender")
    return text


@functools.cache
def joined(title: str, *texts: str) -> str:
    """One statement made of single-row queries side by side (one round trip for several
    files); it starts with the marker like every statement perftop sends."""
    parts = " CROSS JOIN ".join(f"(\n{text.rstrip()}\n) AS q{i}" for i, text in enumerate(texts))
    text = f"{MARKER}{title}\nSELECT * FROM {parts}"
    whole = shape(text)
    _JOINED.add(whole)
    _JOINED_HEADS.add(whole[:HEAD])
    _JOINED_ANCHORS.add(_anchor(whole))
    return text


_JOINED: set[tuple[str, ...]] = set()  # the shapes of the `joined` statements made so far
_JOINED_HEADS: set[tuple[str, ...]] = set()
_JOINED_ANCHORS: set[str] = set()
_VALUE = "?"  # what every constant and placeholder becomes in a shape
HEAD = 8  # tokens of a shape compared first (`is_own`): most texts differ within them


def shape(text: str, limit: int | None = None) -> tuple[str, ...]:
    """A statement's tokens with every constant and `$n` replaced by one mark, the way
    pg_stat_statements keeps it: the text perftop sent and the text the server shows for it
    have the same shape. Lists of values count as one (18+ squashes `IN (1, 2, 3)` into
    `IN ($1 /*, ... */)`), a minus before a value goes (`-1` is one constant), and so do
    the comments before the statement (18+ does not keep them: perftop's marker too).

    `limit`: stop after that many tokens (the first `limit - 2` are those of the whole
    shape: what comes later changes at most the last two)."""
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        if limit is not None and len(out) >= limit:
            return tuple(out)
        kind = match.lastgroup or "op"
        if kind == "space":
            continue
        token = match.group(kind)
        value = (
            kind in ("string", "dollar", "number", "param")
            or (kind == "ident" and token.lower() in ("true", "false", "null"))
            # `extract(epoch FROM x)`: the field is a text constant to the server (14+).
            or (kind == "ident" and out[-2:] == ["extract", "("])
        )
        if value:
            if out and out[-1] == "-":
                out.pop()
            if len(out) >= 2 and out[-1] == "," and out[-2] == _VALUE:
                out.pop()
                continue
            out.append(_VALUE)
        elif kind == "comment" and (not out or (out[-1] == _VALUE and token == "/*, ... */")):
            continue  # 18+ keeps no comment before the statement
        else:
            out.append(token)
    while out and out[-1] == ";":
        out.pop()
    return tuple(out)


@functools.cache
def _file_heads() -> frozenset[tuple[str, ...]]:
    return frozenset(s[:HEAD] for s in _file_shapes())


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _anchor(found: tuple[str, ...]) -> str:
    """The longest plain word of a shape: a text without it cannot have that shape."""
    return max((t for t in found if _WORD.match(t)), key=len, default="")


@functools.cache
def _file_anchors() -> frozenset[str]:
    return frozenset(_anchor(s) for s in _file_shapes())


def driver_texts() -> tuple[str, ...]:
    """What asyncpg runs by itself on a connection: the type introspection (its text from
    asyncpg, one per server generation) and the `jit` setting saved, switched off and put
    back around it (the server keeps these with their constants as `$n`)."""
    return (
        introspection.INTRO_LOOKUP_TYPES,
        introspection.INTRO_LOOKUP_TYPES_13,
        introspection.TYPE_BY_NAME,
        "SELECT current_setting('jit') AS cur, set_config('jit', 'off', false) AS new",
        "SELECT set_config('jit', $1, false)",
    )


@functools.cache
def _file_shapes() -> frozenset[tuple[str, ...]]:
    """The shapes of every SQL file perftop has, whichever version it serves, and of what
    its driver sends by itself."""
    folder = resources.files(__package__).joinpath("sql")
    files = (
        folder.joinpath(name).read_text(encoding="utf-8")
        for by_axis in _catalogue().values()
        for files in by_axis.values()
        for name in files.values()
    )
    return frozenset(shape(text) for text in (*files, *driver_texts()))


def is_own(text: str) -> bool:
    """Whether a statement's text (as pg_stat_statements keeps it) is one perftop sends:
    its whole text, not a prefix. `-- perftop: x\nSELECT secret_work()` is not, and the
    marker is not needed either (18+ drops the comment before a statement)."""
    # Cheapest first: substring searches (a text of perftop's holds its longest word), then
    # the first tokens, then the whole shape.
    if not any(a in text for a in _file_anchors()) and not any(a in text for a in _JOINED_ANCHORS):
        return False
    head = shape(text, HEAD + 2)[:HEAD]
    if head not in _file_heads() and head not in _JOINED_HEADS:
        return False
    found = shape(text)
    return found in _file_shapes() or found in _JOINED


# Masking SQL ------------------------------------------------------------------------------
#
# Only literal values are masked: a quoted string or a number after PASSWORD or next to a
# secret-looking key (`token = 'abc'`, `'abc' = api_key`), and inside strings and comments
# whatever `redact` masks in free text (URLs with passwords, `password=...`). Placeholders,
# identifiers, keywords and layout stay exactly as they were: `WHERE token = $1` holds no
# secret and is shown, copied and planned as the server holds it.

# Anything that could be masked contains one of these (lower-cased): the rest is returned
# untouched, after a few substring searches (~1 µs per KB, where tokens cost ~0.7 µs each).
_MAYBE_SECRET = ("passw", "pwd", "secret", "token", "apikey", "api_key", "api-key", "://")
_SECRET_KEY = re.compile(
    r'"?[a-z0-9_]*(?:password|passwd|pwd|secret|token|api_?key)(?:_[a-z0-9]+)*"?\Z',
    re.IGNORECASE,
)
# Between a key and its value: comparison, assignment, named argument, SET ... TO.
_NEXT_TO = frozenset({"=", "<>", "!=", ":=", "=>", "to"})
_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<comment>--[^\n]*|/\*(?:[^*]|\*(?!/))*(?:\*/|\Z))
    |(?P<string>(?:[eE]'(?:[^'\\]|\\.|'')*|(?:[bBxXnN]|[uU]&)?'(?:[^']|'')*)(?:'|\Z))
    |(?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*)?\$.*?(?:\$(?P=tag)\$|\Z))
    |(?P<param>\$\d+)
    |(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<ident>"(?:[^"]|"")*(?:"|\Z)|[A-Za-z_][A-Za-z0-9_$]*)
    |(?P<op>[=<>!:]+|.)""",
    re.VERBOSE | re.DOTALL,
)
_LITERAL = frozenset({"string", "dollar", "number"})


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) for every token of `text`, in order; joined, they give `text` back."""
    return [(m.lastgroup or "op", m.group(m.lastgroup or "op")) for m in _TOKEN.finditer(text)]


def _masked_literal(kind: str, text: str) -> str:
    if kind == "number":
        return MASK
    if kind == "dollar":
        tag = text[: text.index("$", 1) + 1]
        return tag + MASK + tag
    return "'" + MASK + "'"


def _free_text(kind: str, text: str) -> str:
    """A string's or a comment's contents masked as free text (its delimiters kept)."""
    if kind == "comment":
        head = 2
        tail = 2 if text.startswith("/*") and text.endswith("*/") and len(text) >= 4 else 0
    elif kind == "dollar":
        head = text.index("$", 1) + 1
        closed = len(text) >= 2 * head and text.endswith(text[:head])
        tail = head if closed else 0
    else:
        head = text.index("'") + 1
        tail = 1 if len(text) > head and text.endswith("'") else 0
    body = text[head : len(text) - tail]
    # No closing delimiter: the text was cut inside it, so digits may be a cut password.
    masked = redact(body, cut=tail == 0)
    return text if masked == body else text[:head] + masked + text[len(text) - tail :]


def mask_sql(text: str) -> str:
    """SQL text with secret values masked and nothing else changed.

    pg_stat_statements keeps utility statements verbatim (`ALTER ROLE app PASSWORD 'x'`),
    and pg_stat_activity shows whatever a client sent, possibly cut short (dblink connection
    strings, URLs with passwords, a password whose closing quote was cut off). Returns
    `text` itself when nothing was masked."""
    lowered = text.lower()
    if not any(word in lowered for word in _MAYBE_SECRET):
        return text
    tokens = _tokens(text)
    out = [t for _, t in tokens]
    # The significant tokens (no spaces, no comments), by their index in `tokens`.
    seen = [i for i, (kind, _) in enumerate(tokens) if kind not in ("space", "comment")]
    for i, (kind, token) in enumerate(tokens):
        if kind in ("string", "dollar", "comment"):
            out[i] = _free_text(kind, token)
    for n, i in enumerate(seen):
        kind, token = tokens[i]
        if kind not in _LITERAL:
            continue
        before = [tokens[j] for j in seen[max(0, n - 2) : n]]
        after = [tokens[j] for j in seen[n + 1 : n + 3]]
        if before and before[-1][0] == "ident" and before[-1][1].lower() == "password":
            out[i] = _masked_literal(kind, token)
        elif len(before) == 2 and _key_then_op(before[0], before[1]):
            out[i] = _masked_literal(kind, token)
        elif len(after) == 2 and _key_then_op(after[1], after[0]):
            out[i] = _masked_literal(kind, token)
    masked = "".join(out)
    return text if masked == text else masked


def _key_then_op(key: tuple[str, str], op: tuple[str, str]) -> bool:
    """Whether `key` looks like a secret's name and `op` ties it to a value."""
    return key[0] == "ident" and _SECRET_KEY.match(key[1]) is not None and op[1].lower() in _NEXT_TO
