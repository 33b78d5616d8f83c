"""A throwaway PostgreSQL cluster for the tests and the benchmarks.

`throwaway_cluster()` is a plain context manager: initdb into a fresh temporary directory,
start the server on a free 127.0.0.1 port (and a Unix socket in its own directory) with
pg_stat_statements preloaded, create the test database with the extension, and at the end
stop it with `-m immediate` and delete everything, even when the body failed.

initdb and postgres refuse to run as root; when we are root (here and in CI) every server
binary runs as the unprivileged OS user `postgres` via `runuser`, and the directories are
created owned by it. As any other user they run as that user.

Authentication: `trust` for everything except members of the group role `perftop_pw`, which
must give a scram-sha-256 password over TCP, so tests of wrong passwords and `.pgpass` have a
role that really needs one, while the superuser DSN carries no secret.

Every supported major (`SUPPORTED_MAJORS`): `throwaway_cluster(major=17)` runs that major's
server, the distribution's own (/usr/lib/postgresql/<major>/bin) or the one
scripts/ensure-postgres-majors.py fetched (`make test` runs it); psql comes from the server's
bin directory when it has one, else from the distribution's (the fetched packages have none;
psql talks to every major). `throwaway_cluster()` with no major is the distribution's server,
as before.

`pg_stat_statements.track = all`: statements run inside functions appear as their own
entries with `toplevel = false` next to the top-level ones with the same queryid, which is
the case the collector's key (userid, dbid, queryid, toplevel) and its share-of-time total
(top-level only, or nested time is counted twice) must get right. `top` (the default in
production) would hide that case from the suite.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import glob
import importlib.util
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

DATABASE = "perftop_test"
SUPERUSER = "postgres"
PASSWORD_GROUP = "perftop_pw"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

SUPPORTED_MAJORS = (14, 15, 16, 17, 18)  # README: "Supported: PostgreSQL 14 to 18"
# The pg_stat_statements version CREATE EXTENSION installs on each major; every major also
# ships the scripts of the older versions, back to 1.4.
PGSS_DEFAULT = {14: "1.9", 15: "1.10", 16: "1.10", 17: "1.11", 18: "1.12"}
PGSS_VERSIONS = ("1.4", "1.5", "1.6", "1.7", "1.8", "1.9", "1.10", "1.11", "1.12")
_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "ensure-postgres-majors.py"


class BinariesMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path:
    """`pg_config --bindir` when it has initdb, else the newest /usr/lib/postgresql/*/bin."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        bindir = Path(out.stdout.strip())
        if out.returncode == 0 and (bindir / "initdb").is_file():
            return bindir
    candidates = [Path(d) for d in glob.glob("/usr/lib/postgresql/*/bin")]
    candidates = [d for d in candidates if (d / "initdb").is_file()]

    def major(d: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", d.parent.name))

    if candidates:
        return max(candidates, key=major)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise BinariesMissing(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: run "
        "scripts/ensure-postgres.sh or install your distribution's postgresql package"
    )


def pgss_versions(major: int) -> tuple[str, ...]:
    """Every pg_stat_statements version `CREATE EXTENSION … VERSION` accepts on `major`."""
    return PGSS_VERSIONS[: PGSS_VERSIONS.index(PGSS_DEFAULT[major]) + 1]


@functools.cache
def fetcher_module() -> ModuleType:
    """scripts/ensure-postgres-majors.py as a module: the one place that knows where the
    fetched majors live."""
    spec = importlib.util.spec_from_file_location("ensure_postgres_majors", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def server_major(bindir: Path) -> int:
    """The major of the server in `bindir`, from `postgres --version`."""
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    match = re.search(r"\(PostgreSQL\) (\d+)", out)
    if match is None:
        raise RuntimeError(f"{bindir / 'postgres'} --version said {out.strip()!r}")
    return int(match[1])


def bindir_for(major: int) -> Path:
    """The server binaries of `major`: the distribution's, else the fetched ones."""
    fetcher = fetcher_module()
    own: Path | None = fetcher.distribution_bindir(major)
    if own is not None:
        return own
    if major in fetcher.PINNED and fetcher.is_ready(major):
        fetched: Path = fetcher.bindir(major)
        return fetched
    raise BinariesMissing(
        f"PostgreSQL {major} server binaries not found: run "
        f"scripts/ensure-postgres-majors.py {major} (make test does)"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PgCluster:
    """A running throwaway server. DSNs point at the test database unless told otherwise."""

    bindir: Path
    root: Path  # everything lives under here; deleted at the end
    port: int
    run_as: pwd.struct_passwd | None  # the OS user the server runs as when we are root
    major: int
    client_bindir: Path  # where psql is
    database: str = DATABASE
    _roles: list[str] = field(default_factory=list)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def sockdir(self) -> Path:
        return self.root / "socket"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def dsn(self) -> str:
        """The superuser over TCP, no password (trust)."""
        return self.dsn_for(SUPERUSER)

    def dsn_for(self, user: str, password: str | None = None, database: str | None = None) -> str:
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        return f"postgresql://{auth}@{self.host}:{self.port}/{database or self.database}"

    @property
    def socket_dsn(self) -> str:
        """The superuser over the Unix socket (libpq's `host=` directory form)."""
        return f"postgresql://{SUPERUSER}@/{self.database}?host={self.sockdir}&port={self.port}"

    # Server control ----------------------------------------------------------------------

    def _cmd(self, argv: list[str]) -> list[str]:
        if self.run_as is None:
            return argv
        return ["runuser", "-u", self.run_as.pw_name, "--", *argv]

    def _run(self, argv: list[str], timeout: float = 120.0) -> str:
        proc = subprocess.run(
            self._cmd(argv), capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if proc.returncode != 0:
            log = self.logfile.read_text(errors="replace")[-3000:] if self.logfile.exists() else ""
            raise RuntimeError(
                f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n"
                f"server log tail:\n{log}"
            )
        return proc.stdout

    def pg_ctl(self, *args: str) -> str:
        return self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile),
             *args]
        )  # fmt: skip

    def start(self) -> None:
        self.pg_ctl("-w", "-t", "60", "start")

    def stop(self, mode: str = "immediate") -> None:
        self.pg_ctl("-w", "-t", "60", "-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        """Restart the server mid-test. `fast` keeps pg_stat_statements' entries (they are
        saved at a clean shutdown); `immediate` is a crash and loses them."""
        self.pg_ctl("-w", "-t", "60", "-m", mode, "restart")

    def is_running(self) -> bool:
        proc = subprocess.run(
            self._cmd([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status"]),
            capture_output=True,
            text=True,
        )
        return proc.returncode == 0

    # SQL as the superuser (synchronous: usable from sync fixtures and from async tests) ---

    def psql(self, sql: str, database: str | None = None, user: str = SUPERUSER) -> str:
        """Run `sql` with psql over the socket; return unaligned tuples-only output."""
        argv = [
            str(self.client_bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-h", str(self.sockdir), "-p", str(self.port), "-U", user,
            "-d", database or self.database, "-c", sql,
        ]  # fmt: skip
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, env=_clean_env(), cwd=self.root
        )
        if proc.returncode != 0:
            raise RuntimeError(f"psql failed: {proc.stderr.strip()}\nSQL: {sql}")
        return proc.stdout.strip()

    def create_role(
        self,
        name: str,
        *,
        password: str | None = None,
        read_all_stats: bool = False,
        monitor: bool = False,
        superuser: bool = False,
    ) -> str:
        """Create a login role (dropped first if a previous test left it) and return its DSN.

        With a password the role must authenticate with it over TCP (scram-sha-256)."""
        if not _ROLE_NAME.match(name):
            raise ValueError(f"role name {name!r}: lowercase letters, digits and _ only")
        self.drop_role(name)
        options = ["LOGIN", "SUPERUSER" if superuser else "NOSUPERUSER"]
        if password is not None:
            options.append("PASSWORD " + _literal(password))
        self.psql(f"CREATE ROLE {name} {' '.join(options)}")
        grants = []
        if password is not None:
            grants.append(PASSWORD_GROUP)
        if read_all_stats:
            grants.append("pg_read_all_stats")
        if monitor:
            grants.append("pg_monitor")
        for group in grants:
            self.psql(f"GRANT {group} TO {name}")
        self.psql(f"GRANT CONNECT ON DATABASE {self.database} TO {name}")
        self._roles.append(name)
        return self.dsn_for(name, password)

    def drop_role(self, name: str) -> None:
        exists = self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = {_literal(name)}")
        if not exists:
            return
        for db in self.psql("SELECT datname FROM pg_database WHERE datallowconn").split():
            self.psql(f"REASSIGN OWNED BY {name} TO {SUPERUSER}; DROP OWNED BY {name}", db)
        self.psql(f"DROP ROLE {name}")

    def create_database(self, name: str, *, extension: bool = False) -> str:
        """A fresh database (dropped first if it exists); return the superuser DSN for it."""
        if not _ROLE_NAME.match(name):
            raise ValueError(f"database name {name!r}: lowercase letters, digits and _ only")
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", "postgres")
        self.psql(f"CREATE DATABASE {name}", "postgres")
        if extension:
            self.psql("CREATE EXTENSION pg_stat_statements", name)
        return self.dsn_for(SUPERUSER, database=name)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _clean_env() -> dict[str, str]:
    """The environment without libpq variables a developer may have set."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


_MARK = "\n# perftop test cluster\n"
CONFIG = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockdir}'
unix_socket_permissions = 0777
max_connections = 60
shared_buffers = 32MB
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.max = {pgss_max}
pg_stat_statements.track = all
pg_stat_statements.track_planning = off
track_io_timing = on
compute_query_id = on
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_min_messages = warning
"""

HBA = f"""
local all all trust
host all +{PASSWORD_GROUP} 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""


@contextlib.contextmanager
def throwaway_cluster(
    *, major: int | None = None, pgss_max: int = 10000, extra_config: str = ""
) -> Iterator[PgCluster]:
    """Start a fresh cluster of `major` (default: the distribution's server); stop it
    (immediate) and delete it when the block ends."""
    bindir = find_bindir() if major is None else bindir_for(major)
    client_bindir = bindir if (bindir / "psql").is_file() else find_bindir()
    actual = server_major(bindir)
    if major is not None and actual != major:
        raise BinariesMissing(f"{bindir} holds PostgreSQL {actual}, not {major}")
    run_as = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="perftop-pg-"))
    cluster: PgCluster | None = None
    started = False

    def cleanup() -> None:
        nonlocal started
        if cluster is not None and started:
            with contextlib.suppress(Exception):
                cluster.stop("immediate")
            started = False
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(cleanup)  # also on an interrupted session
    try:
        os.chmod(root, 0o755)  # socket dir and log readable by root and the test roles
        (root / "socket").mkdir(mode=0o755)
        (root / "data").mkdir(mode=0o700)
        if run_as is not None:
            for path in (root, root / "socket", root / "data"):
                os.chown(path, run_as.pw_uid, run_as.pw_gid)
        cluster = PgCluster(bindir=bindir, root=root, port=free_port(), run_as=run_as,
                            major=actual, client_bindir=client_bindir)  # fmt: skip
        cluster._run(
            [str(bindir / "initdb"), "-D", str(cluster.datadir), "-U", SUPERUSER,
             "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]
        )  # fmt: skip
        for attempt in range(3):
            conf = CONFIG.format(port=cluster.port, sockdir=cluster.sockdir, pgss_max=pgss_max)
            base = (cluster.datadir / "postgresql.conf").read_text().split(_MARK)[0]
            (cluster.datadir / "postgresql.conf").write_text(base + _MARK + conf + extra_config)
            (cluster.datadir / "pg_hba.conf").write_text(HBA)
            try:
                cluster.start()
                started = True
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                cluster.port = free_port()  # another process took the port: try another
                time.sleep(0.2)
        cluster.psql(f"CREATE DATABASE {DATABASE}", "postgres")
        cluster.psql("CREATE EXTENSION pg_stat_statements")
        cluster.psql(f"CREATE ROLE {PASSWORD_GROUP} NOLOGIN")
        yield cluster
    finally:
        cleanup()
        atexit.unregister(cleanup)
