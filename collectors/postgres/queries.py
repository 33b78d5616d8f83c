"""The SQL perftop runs, kept in `sql/*.sql` and chosen by version.

A file is named `<query>.<axis>-<version>.sql`, where the axis is `pgss` (the
pg_stat_statements extension's version, from pg_extension: the columns follow the
extension, not the server) or `server` (the server's major version). A file serves every
version from its own up to the next file's: `statements.pgss-1.9.sql` covers 1.9 and 1.10,
`statements.pgss-1.11.sql` covers 1.11 and later. Supporting a version with new columns is
one new file. A query without an axis (`server.sql`) fits every version.

Every file starts with `MARKER`: pg_stat_statements keeps a statement's leading comment in
its text, which is how perftop tells its own entries from the server's other work.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Literal

from ...redact import redact

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
        raise ValueError(f"sql/{name} must start with {MARKER!r}: it is how perftop knows its own")
    return text


@functools.cache
def joined(title: str, *texts: str) -> str:
    """One statement made of single-row queries side by side (one round trip for several
    files); it starts with the marker like every statement perftop sends."""
    parts = " CROSS JOIN ".join(f"(\n{text.rstrip()}\n) AS q{i}" for i, text in enumerate(texts))
    return f"{MARKER}{title}\nSELECT * FROM {parts}"


def is_own(text: str) -> bool:
    """Whether a statement's text is one perftop sent."""
    return text.startswith(MARKER)


_SQL_PASSWORD = re.compile(
    r"(?P<head>\bPASSWORD\s+)(?:E?'(?:[^']|'')*'|\$\w*\$.*?\$\w*\$)", re.IGNORECASE | re.DOTALL
)


def mask_sql(text: str) -> str:
    """SQL text with secrets masked: pg_stat_statements keeps utility statements verbatim
    (`ALTER ROLE app PASSWORD 'x'`), and activity shows whatever a client sent (dblink
    connection strings, URLs with passwords)."""
    return redact(_SQL_PASSWORD.sub(lambda m: m.group("head") + "'****'", text))
