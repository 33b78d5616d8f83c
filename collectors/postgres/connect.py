"""Where to connect, how, and what went wrong in one line.

The target comes from `--dsn` (a `postgresql://` URI or a libpq `key=value` string), else
the libpq environment, else a local Unix socket that answers. asyncpg reads PGHOST, PGPORT,
PGUSER, PGPASSWORD, PGDATABASE, PGPASSFILE, ~/.pgpass and `?service=` in a URI itself;
perftop fills the gaps it leaves: PGSERVICE without a DSN, the system-wide pg_service.conf,
`key=value` connection strings, and a display form with the password masked.

Each collector owns one `Link` (one connection): a collector has at most one query in
flight, and `statement_timeout` (80 % of the refresh interval, at least 100 ms) and
`lock_timeout` cut a query before the next tick is due, so perftop's queries never pile up
on a struggling server. A lost connection is dropped and re-opened at the next tick (the
runner retries failing collectors with backoff); `generation` tells the collector that the
connection is new, so it takes no rate across the gap.

perftop's own load is known by the backend pids of its own connections (`own_backends`),
never by `application_name`, which any client may set to "perftop".
"""

from __future__ import annotations

import asyncio
import configparser
import os
import re
import shlex
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg

from ...redact import redact
from ..base import CollectorError
from .locate import local_socket, requested, wanted
from .queries import sql
from .samples import ServerInfo

APPLICATION_NAME = "perftop"
PASSWORD_NOTICE = "a password in --dsn is visible in ps; use ~/.pgpass or PGPASSWORD"
PRELOAD_LINE = "shared_preload_libraries = 'pg_stat_statements'"

# libpq keyword → asyncpg.connect keyword
_KEYWORDS = {
    "host": "host", "hostaddr": "host", "port": "port", "user": "user", "dbname": "database",
    "password": "password", "passfile": "passfile", "sslmode": "ssl",
}  # fmt: skip


@dataclass(frozen=True)
class Target:
    """A resolved connection target. `display` and `where` never hold a password."""

    dsn: str | None  # a URI for asyncpg, or None when `params` say it all
    params: Mapping[str, Any] = field(default_factory=dict)  # explicit asyncpg.connect kwargs
    where: str = ""  # host:port or socket directory:port, for messages
    display: str = ""  # the target as shown, password masked
    password_in_dsn: bool = False

    @property
    def notice(self) -> str | None:
        """The one-time advice when a password was given on the command line."""
        return PASSWORD_NOTICE if self.password_in_dsn else None


def parse_conninfo(text: str) -> dict[str, str]:
    """A libpq `key=value key='quoted value'` connection string as a dict."""
    out: dict[str, str] = {}
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.escape = "\\"
    lexer.quotes = "'"
    # `key = value` with spaces around `=` is valid libpq: glue those back together first.
    tokens = list(lexer)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.endswith("=") and i + 1 < len(tokens):
            token, i = token + tokens[i + 1], i + 1
        elif "=" not in token and i + 2 < len(tokens) and tokens[i + 1] == "=":
            token, i = token + "=" + tokens[i + 2], i + 2
        elif "=" not in token and i + 1 < len(tokens) and tokens[i + 1].startswith("="):
            token, i = token + tokens[i + 1], i + 1
        key, sep, value = token.partition("=")
        if not sep:
            raise CollectorError(f"cannot read the connection string: {key!r} has no value")
        out[key.strip()] = value
        i += 1
    return out


def service_files(env: Mapping[str, str]) -> list[Path]:
    """Where libpq looks for pg_service.conf, in its order: the user's, then the system's."""
    files = []
    if env.get("PGSERVICEFILE"):
        files.append(Path(env["PGSERVICEFILE"]))
    else:
        files.append(Path.home() / ".pg_service.conf")
    if env.get("PGSYSCONFDIR"):
        files.append(Path(env["PGSYSCONFDIR"]) / "pg_service.conf")
    else:
        files += [Path("/etc/postgresql-common/pg_service.conf"), Path("/etc/pg_service.conf")]
    return files


def read_service(name: str, env: Mapping[str, str]) -> dict[str, str]:
    """The settings of service `name` from the first pg_service.conf that defines it."""
    searched = service_files(env)
    for path in searched:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, configparser.Error) as exc:
            raise CollectorError(f"cannot read {path}: {exc}") from None
        if parser.has_section(name):
            return dict(parser.items(name))
    where = ", ".join(str(p) for p in searched)
    raise CollectorError(f'service "{name}" is not defined in {where}')


def _params(settings: Mapping[str, str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in settings.items():
        if key in _KEYWORDS and value != "":
            params.setdefault(_KEYWORDS[key], int(value) if key == "port" else value)
        elif key == "application_name" or key == "service":
            continue
        elif key not in ("connect_timeout", "options", "target_session_attrs"):
            raise CollectorError(f"connection setting {key!r} is not supported by perftop")
    return params


def _where(host: str | None, port: object) -> str:
    host = host or "localhost"
    return f"{host}:{port or 5432}"


def find_target(dsn: str | None, env: Mapping[str, str] | None = None) -> Target | None:
    """Where the TUI connects: `dsn` or the PG* environment when given, else a local socket
    that answers (the default port's), else None: no PostgreSQL to show. Raises
    CollectorError for an unusable `dsn`."""
    env = os.environ if env is None else env
    if requested(dsn, env):
        return resolve_target(dsn, env)
    return resolve_target(None, env) if wanted(dsn, env) else None


def resolve_target(dsn: str | None = None, env: Mapping[str, str] | None = None) -> Target:
    """Decide where to connect: `dsn`, else PGSERVICE, else the PG* variables, else a local
    socket. Raises CollectorError for a connection string perftop cannot use."""
    env = os.environ if env is None else env
    if dsn and re.match(r"^postgres(?:ql)?://", dsn):
        url = urlparse(dsn)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        password = url.password is not None or "password" in query
        try:
            host = query.get("host") or url.hostname or env.get("PGHOST")
            port = query.get("port") or url.port or env.get("PGPORT")
        except ValueError as exc:
            raise CollectorError(f"cannot read --dsn: {exc}") from None
        return Target(dsn, {}, _where(host, port), redact(dsn), password)
    if dsn:
        settings = parse_conninfo(dsn)
        password = "password" in settings
        service = settings.get("service")
    else:
        settings, password, service = {}, False, env.get("PGSERVICE")
    if service:
        for key, value in read_service(service, env).items():
            settings.setdefault(key, value)
    params = _params(settings)
    host = params.get("host") or env.get("PGHOST")
    port = params.get("port") or env.get("PGPORT") or 5432
    if not host:
        found = local_socket(int(port))
        if found:
            params["host"] = host = found
    display = redact(dsn) if dsn else ("service " + service if service else "local default")
    return Target(None, params, _where(host, port), display, password)


def statement_timeout_ms(interval: float) -> int:
    """80 % of the refresh interval, at least 100 ms: a query ends before the next tick."""
    return max(100, int(interval * 800))


def _explain(exc: BaseException, target: Target, connecting: bool = False) -> CollectorError:
    """One line for a person, from any failure to connect or query."""
    where = target.where
    if isinstance(exc, CollectorError):
        return exc
    if connecting and isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return CollectorError(f"cannot reach PostgreSQL at {where}: {reason}")
    if connecting and isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return CollectorError(f"cannot reach PostgreSQL at {where}: no answer (timed out)")
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return CollectorError(f"{exc} at {where} (check ~/.pgpass or PGPASSWORD)")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return CollectorError(f"{exc} at {where}")
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return CollectorError(f"connection refused by the server at {where}: {exc}")
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return CollectorError(f"permission denied at {where}: {exc}")
    if isinstance(exc, asyncpg.QueryCanceledError):
        return CollectorError(f"the server did not answer in time at {where} ({exc}); retrying")
    if isinstance(exc, asyncpg.CannotConnectNowError):
        return CollectorError(f"the server at {where} is not accepting connections: {exc}")
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.AdminShutdownError):
        return CollectorError(f"connection to {where} lost: {exc}; reconnecting")
    if isinstance(exc, asyncpg.ConnectionDoesNotExistError | ConnectionError):
        return CollectorError(f"connection to {where} lost; reconnecting")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return CollectorError(f"no answer from {where} (network stall?); reconnecting")
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        return CollectorError(f"cannot reach PostgreSQL at {where}: {reason}")
    if isinstance(exc, asyncpg.PostgresError):
        return CollectorError(f"PostgreSQL at {where}: {exc}")
    if isinstance(exc, asyncpg.InterfaceError):
        # e.g. the server asked for a password and none was given
        return CollectorError(f"cannot connect to {where}: {redact(str(exc))}")
    return CollectorError(f"PostgreSQL at {where}: {type(exc).__name__}: {redact(str(exc))}")


def _lost(exc: BaseException) -> bool:
    """Whether `exc` means the connection can no longer be used."""
    return isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.AdminShutdownError
        | asyncpg.CannotConnectNowError
        | asyncpg.ConnectionDoesNotExistError
        | asyncpg.InterfaceError
        | ConnectionError
        | OSError
        | TimeoutError
        | asyncio.TimeoutError,
    )


def missing_extension(info: ServerInfo, preload: str | None) -> str:
    """What to do when pg_stat_statements is not usable in the connected database."""
    if info.pgss_preloaded:
        return (
            f'pg_stat_statements is not installed in database "{info.database}": '
            "run CREATE EXTENSION pg_stat_statements there (as a superuser)"
        )
    line = PRELOAD_LINE
    if preload:
        libraries = [lib.strip() for lib in preload.split(",") if lib.strip()]
        line = f"shared_preload_libraries = '{','.join([*libraries, 'pg_stat_statements'])}'"
    installed = (
        "is installed but not loaded" if info.pgss_version else "is not installed and not loaded"
    )
    then = "" if info.pgss_version else ", then CREATE EXTENSION pg_stat_statements"
    return (
        f'pg_stat_statements {installed} in database "{info.database}": add {line} '
        f"to postgresql.conf and restart the server{then}"
    )


_LINKS: weakref.WeakSet[Link] = weakref.WeakSet()  # every Link of this process


def own_backends(target: Target) -> tuple[int, ...]:
    """The backend pids of perftop's open collector connections to `target` (pids are the
    server's: only connections to the same target are compared)."""
    return tuple(
        sorted(
            link.backend_pid
            for link in list(_LINKS)
            if link.backend_pid is not None and link.connected and link.target == target
        )
    )


INFO_RECHECK = 10.0
"""Seconds between two reads of the server info while pg_stat_statements is missing."""


class Link:
    """One connection for one collector, re-opened after it is lost."""

    def __init__(self, target: Target, interval: float, connect_timeout: float = 5.0) -> None:
        self.target = target
        self.interval = interval
        self.connect_timeout = connect_timeout
        self.info: ServerInfo | None = None
        self.info_read_at = 0.0  # monotonic time `info` was read
        self.info_stale = False  # something changed the server since: read it again
        self.preload: str | None = None  # shared_preload_libraries, when the role may read it
        self.generation = 0  # +1 per new connection
        self.lost_at: float | None = None  # monotonic time the last connection was lost
        self.backend_pid: int | None = None  # pg_backend_pid() of the open connection
        self._conn: asyncpg.Connection | None = None
        _LINKS.add(self)

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def _open(self) -> asyncpg.Connection:
        timeout_ms = statement_timeout_ms(self.interval)
        settings = {
            "application_name": APPLICATION_NAME,
            "statement_timeout": str(timeout_ms),
            "lock_timeout": str(timeout_ms),
            "idle_in_transaction_session_timeout": "60000",
        }
        try:
            conn: asyncpg.Connection = await asyncpg.connect(
                self.target.dsn,
                timeout=self.connect_timeout,
                server_settings=settings,
                statement_cache_size=32,
                **self.target.params,
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line
            raise _explain(exc, self.target, connecting=True) from None
        try:
            await self._read_info(conn)
        except Exception as exc:  # noqa: BLE001
            conn.terminate()
            raise _explain(exc, self.target) from None
        self.backend_pid = conn.get_server_pid()  # from the startup packet: no round trip
        self.generation += 1
        return conn

    async def _read_info(self, conn: asyncpg.Connection) -> None:
        row = await conn.fetchrow(sql("server"))
        assert row is not None
        self.info = ServerInfo(
            version=row["version"].split()[0],
            version_num=row["version_num"],
            pgss_version=row["pgss_version"],
            pgss_preloaded=row["pgss_preloaded"],
            user=row["user"],
            database=row["database"],
            can_read_all_stats=bool(row["superuser"] or row["read_all_stats"] or row["monitor"]),
            dsn_display=self.target.display,
        )
        self.preload = row["preload"]
        self.info_read_at = time.monotonic()
        self.info_stale = False

    def info_due(self) -> bool:
        """Whether the server info should be read again: marked stale (an action changed
        the server), or older than `INFO_RECHECK` seconds."""
        return self.info_stale or time.monotonic() - self.info_read_at >= INFO_RECHECK

    async def reread_info(self) -> ServerInfo:
        """Read the server info again on the open connection, without reconnecting: the
        extension may have been created (or its library loaded) since it was read."""
        conn = await self.connect()
        limit = statement_timeout_ms(self.interval) / 1000 + self.connect_timeout
        try:
            await asyncio.wait_for(self._read_info(conn), limit)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line
            if _lost(exc):
                self.drop()
            raise _explain(exc, self.target) from None
        assert self.info is not None
        return self.info

    async def connect(self) -> asyncpg.Connection:
        """The open connection, opening one if there is none."""
        if self._conn is not None and self._conn.is_closed():
            # Closed under us (a restart, a terminate): say so once, reconnect next tick.
            self.drop()
            raise CollectorError(f"connection to {self.target.where} lost; reconnecting")
        if self._conn is None:
            self._conn = await self._open()
        return self._conn

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        """Run one query; on failure raise a CollectorError (and drop a lost connection)."""
        conn = await self.connect()
        # The client-side limit covers a network stall, which statement_timeout cannot.
        limit = statement_timeout_ms(self.interval) / 1000 + self.connect_timeout
        try:
            return await asyncio.wait_for(conn.fetch(query, *args), limit)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line
            if _lost(exc):
                self.drop()
            raise _explain(exc, self.target) from None

    def drop(self) -> None:
        """Forget a connection that is broken (no goodbye: the server may be gone)."""
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None
            self.backend_pid = None
            self.lost_at = time.monotonic()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        self.backend_pid = None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 2.0)
            except Exception:  # noqa: BLE001 - closing a broken connection: nothing to do
                conn.terminate()
