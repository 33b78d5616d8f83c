"""Whether there is a PostgreSQL server to watch, decided without importing asyncpg (the
TUI asks at start-up, and its first frame must not wait for a database driver)."""

from __future__ import annotations

import os
from collections.abc import Mapping

SOCKET_DIRS = ("/var/run/postgresql", "/run/postgresql", "/tmp")
"""Where servers put their Unix sockets (Debian's, other distributions', the default)."""

PG_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE", "PGPASSWORD")
"""The libpq variables that, when set, say the person means a PostgreSQL server."""


def requested(dsn: str | None, env: Mapping[str, str] | None = None) -> bool:
    """Whether the person pointed perftop at PostgreSQL: a dsn, or any PG* variable."""
    env = os.environ if env is None else env
    return bool(dsn) or any(env.get(name) for name in PG_VARIABLES)


def local_socket(port: int, dirs: tuple[str, ...] = SOCKET_DIRS) -> str | None:
    """The first directory holding a PostgreSQL socket for `port`."""
    for directory in dirs:
        if os.path.exists(os.path.join(directory, f".s.PGSQL.{port}")):
            return directory
    return None


def wanted(dsn: str | None, env: Mapping[str, str] | None = None) -> bool:
    """`requested`, or a local server's socket on the default (or PGPORT's) port."""
    env = os.environ if env is None else env
    return requested(dsn, env) or local_socket(int(env.get("PGPORT") or 5432)) is not None
