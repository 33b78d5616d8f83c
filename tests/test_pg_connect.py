"""Connecting: where to, the one-line failures, privileges, versions and the SQL files."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from perftop.collectors.base import CollectorError
from perftop.collectors.postgres import queries
from perftop.collectors.postgres.activity import ActivityCollector
from perftop.collectors.postgres.connect import (
    PASSWORD_NOTICE,
    Link,
    parse_conninfo,
    resolve_target,
    statement_timeout_ms,
)
from perftop.collectors.postgres.statements import StatementsCollector

from .pg_cluster import (
    PGSS_DEFAULT,
    SUPPORTED_MAJORS,
    PgCluster,
    free_port,
    pgss_versions,
    throwaway_cluster,
)
from .support import run

# The file choice, for every extension version a supported server (14-18) may have --------


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.4", "statements.pgss-1.4.sql"),  # kept through pg_upgrade from 12 or older
        ("1.7", "statements.pgss-1.4.sql"),
        ("1.8", "statements.pgss-1.8.sql"),  # PostgreSQL 13
        ("1.9", "statements.pgss-1.9.sql"),  # 14
        ("1.10", "statements.pgss-1.9.sql"),  # 15, 16
        ("1.11", "statements.pgss-1.11.sql"),  # 17
        ("1.12", "statements.pgss-1.11.sql"),  # 18
    ],
)
def test_statements_file_follows_the_extension_version(version: str, expected: str) -> None:
    assert queries.choose("statements", "pgss", queries.parse_version(version)) == expected


@pytest.mark.parametrize(("version", "expected"), [("1.8", "info.pgss-1.4.sql"),
                                                   ("1.9", "info.pgss-1.9.sql"),
                                                   ("1.12", "info.pgss-1.9.sql")])  # fmt: skip
def test_info_file_follows_the_extension_version(version: str, expected: str) -> None:
    assert queries.choose("info", "pgss", queries.parse_version(version)) == expected


@pytest.mark.parametrize("major", SUPPORTED_MAJORS)
def test_activity_file_for_every_supported_server(major: int) -> None:
    assert queries.choose("activity", "server", (major,)) == "activity.server-14.sql"
    quiet = "quiet.server-14.sql" if major == 14 else "quiet.server-15.sql"
    assert queries.choose("quiet", "server", (major,)) == quiet


def test_too_old_a_version_is_refused_in_words() -> None:
    with pytest.raises(queries.NoQueryFor, match="older than the oldest supported"):
        queries.choose("statements", "pgss", (1, 3))
    assert queries.parse_version("1.10") > queries.parse_version("1.9")
    assert queries.parse_version("17beta1") == (17,)


# Every major installs the old extension versions too (a database upgraded with the server
# keeps its extension's version): each file, and each version where a file starts or its
# columns change, on each major.
COLUMN_SETS = ("1.4", "1.8", "1.9", "1.10", "1.11", "1.12")


@pytest.mark.parametrize(
    ("pg_major_cluster", "version"),
    [(m, v) for m in SUPPORTED_MAJORS for v in COLUMN_SETS if v in pgss_versions(m)],
    ids=lambda p: f"pg{p}" if isinstance(p, int) else p,
    indirect=["pg_major_cluster"],
)
@run
async def test_each_column_set_runs_on_the_real_server(
    pg_major_cluster: PgCluster, version: str
) -> None:
    pg_cluster = pg_major_cluster
    name = "pgss_" + version.replace(".", "_")
    pg_cluster.create_database(name)
    pg_cluster.psql(f"CREATE EXTENSION pg_stat_statements VERSION '{version}'", name)
    pg_cluster.psql("CREATE TABLE t(n int)", name)
    collector = StatementsCollector(resolve_target(pg_cluster.dsn_for("postgres", database=name)))
    conn = await asyncpg.connect(pg_cluster.dsn_for("postgres", database=name))
    try:
        await collector.collect()
        for i in range(6):
            await conn.fetch("SELECT count(*) FROM t WHERE n <> $1", i)
        sample = await collector.collect()
        pg_cluster.psql("SELECT pg_stat_statements_reset()", name)
        after_reset = await collector.collect()
    finally:
        await conn.close()
        await collector.close()
    assert collector.info is not None and collector.info.pgss_version == version
    [rate] = [s for s in sample.statements if "FROM t WHERE" in s.query]
    assert rate.calls == 6
    assert after_reset.reset_seen  # from stats_reset (1.9+) or counters going down (older)
    assert (sample.dealloc is None) == (version in ("1.4", "1.8"))
    assert rate.key.toplevel and rate.total_ms > 0


# Where to connect -----------------------------------------------------------------------------


def test_password_in_dsn_is_masked_and_noticed() -> None:
    target = resolve_target("postgresql://app:s3cr%40t@db.example:6543/shop")
    assert "s3cr" not in target.display and "****" in target.display
    assert target.where == "db.example:6543"
    assert target.notice == PASSWORD_NOTICE
    assert resolve_target("postgresql://app@db/shop").notice is None


def test_conninfo_string_and_service_file(tmp_path: object) -> None:
    assert parse_conninfo("host=db port = 5433 dbname='my db' password=x\\'y") == {
        "host": "db", "port": "5433", "dbname": "my db", "password": "x'y"
    }  # fmt: skip
    target = resolve_target("host=db port=5433 user=u password=pw", env={})
    assert target.params == {"host": "db", "port": 5433, "user": "u", "password": "pw"}
    assert target.password_in_dsn and "pw" not in target.display


def test_pgservice_without_a_dsn(tmp_path) -> None:  # type: ignore[no-untyped-def]
    services = tmp_path / "services.conf"
    services.write_text("[reporting]\nhost=10.1.2.3\nport=6000\ndbname=stats\nuser=rep\n")
    target = resolve_target(None, env={"PGSERVICE": "reporting", "PGSERVICEFILE": str(services),
                                       "PGSYSCONFDIR": str(tmp_path)})  # fmt: skip
    assert target.params == {"host": "10.1.2.3", "port": 6000, "database": "stats", "user": "rep"}
    assert target.where == "10.1.2.3:6000"
    with pytest.raises(CollectorError, match='service "nope" is not defined'):
        resolve_target(None, env={"PGSERVICE": "nope", "PGSERVICEFILE": str(services),
                                  "PGSYSCONFDIR": str(tmp_path)})  # fmt: skip


@run
async def test_pgservice_connects_for_real(pg_cluster: PgCluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    services = tmp_path / "services.conf"
    services.write_text(f"[test]\nhost=127.0.0.1\nport={pg_cluster.port}\n"
                        f"dbname={pg_cluster.database}\nuser=postgres\n")  # fmt: skip
    env = {"PGSERVICE": "test", "PGSERVICEFILE": str(services), "PGSYSCONFDIR": str(tmp_path)}
    link = Link(resolve_target(None, env=env), 1.0)
    try:
        await link.connect()
    finally:
        await link.close()
    assert link.info is not None and link.info.database == pg_cluster.database


def test_default_is_a_local_socket_that_answers(pg_cluster: PgCluster) -> None:
    env = {"PGPORT": str(pg_cluster.port)}
    from perftop.collectors.postgres import connect

    assert connect.local_socket(pg_cluster.port, ("/nonexistent", str(pg_cluster.sockdir))) == str(
        pg_cluster.sockdir
    )
    assert connect.local_socket(pg_cluster.port, ("/nonexistent",)) is None
    assert resolve_target(None, env=env).where.endswith(f":{pg_cluster.port}")


def test_statement_timeout_is_below_the_interval() -> None:
    assert statement_timeout_ms(1.0) == 800
    assert statement_timeout_ms(2.0) == 1600
    assert statement_timeout_ms(0.05) == 100


# The one-line failures --------------------------------------------------------------------


async def failure(dsn: str) -> str:
    link = Link(resolve_target(dsn), 1.0)
    with pytest.raises(CollectorError) as caught:
        await link.connect()
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@run
async def test_wrong_password(pg_cluster: PgCluster) -> None:
    pg_cluster.create_role("pw_user", password="correct horse")
    message = await failure(pg_cluster.dsn_for("pw_user", "wrong horse"))
    assert 'password authentication failed for user "pw_user"' in message
    assert f"127.0.0.1:{pg_cluster.port}" in message and "horse" not in message


@run
async def test_password_from_pgpassword_and_pgpass(
    pg_cluster: PgCluster, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    pg_cluster.create_role("pw_env", password="from env")
    monkeypatch.setenv("PGPASSWORD", "from env")
    link = Link(resolve_target(pg_cluster.dsn_for("pw_env")), 1.0)
    await link.connect()
    await link.close()
    monkeypatch.delenv("PGPASSWORD")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{pg_cluster.port}:*:pw_env:from env\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    link = Link(resolve_target(pg_cluster.dsn_for("pw_env")), 1.0)
    await link.connect()
    await link.close()
    assert link.info is not None and link.info.user == "pw_env"


@run
async def test_unreachable_port() -> None:
    port = free_port()
    message = await failure(f"postgresql://postgres@127.0.0.1:{port}/x")
    assert message.startswith(f"cannot reach PostgreSQL at 127.0.0.1:{port}: ")
    assert "refused" in message.lower()


@run
async def test_database_does_not_exist(pg_cluster: PgCluster) -> None:
    message = await failure(pg_cluster.dsn_for("postgres", database="no_such_db"))
    assert 'database "no_such_db" does not exist' in message


@run
async def test_role_does_not_exist(pg_cluster: PgCluster) -> None:
    message = await failure(pg_cluster.dsn_for("nobody_here"))
    assert 'role "nobody_here" does not exist' in message


@run
async def test_extension_not_installed_in_the_database(pg_major_cluster: PgCluster) -> None:
    dsn = pg_major_cluster.create_database("no_pgss")
    collector = StatementsCollector(resolve_target(dsn))
    activity = ActivityCollector(resolve_target(dsn))
    try:
        with pytest.raises(CollectorError) as caught:
            await collector.collect()
        assert (await activity.collect()).backends  # the rest keeps working
    finally:
        await collector.close()
        await activity.close()
    assert str(caught.value) == (
        'pg_stat_statements is not installed in database "no_pgss": '
        "run CREATE EXTENSION pg_stat_statements there (as a superuser)"
    )


@run
async def test_extension_not_preloaded(pg_major_cluster: PgCluster) -> None:
    """A server of its own, of each major (pg_major_cluster: that major's binaries exist)."""
    with throwaway_cluster(
        major=pg_major_cluster.major, extra_config="shared_preload_libraries = ''\n"
    ) as cluster:
        for dsn in (cluster.dsn, cluster.create_database("bare")):
            collector = StatementsCollector(resolve_target(dsn))
            try:
                with pytest.raises(CollectorError) as caught:
                    await collector.collect()
            finally:
                await collector.close()
            message = str(caught.value)
            assert (
                "add shared_preload_libraries = 'pg_stat_statements' to postgresql.conf" in message
            )
            assert "restart the server" in message


@run
async def test_application_name_and_timeouts(pg_cluster: PgCluster) -> None:
    link = Link(resolve_target(pg_cluster.dsn), 0.5)
    try:
        conn = await link.connect()
        assert await conn.fetchval("SHOW statement_timeout") == "400ms"
        assert await conn.fetchval("SHOW lock_timeout") == "400ms"
        pid = conn.get_server_pid()
    finally:
        await link.close()
    collector = StatementsCollector(resolve_target(pg_cluster.dsn))
    try:
        await collector.collect()
        assert (
            pg_cluster.psql(
                "SELECT application_name FROM pg_stat_activity WHERE pid = "
                "(SELECT pid FROM pg_stat_activity WHERE application_name = 'perftop' LIMIT 1)"
            )
            == "perftop"
        )
    finally:
        await collector.close()
    assert pid > 0


@run
async def test_a_slow_query_is_cut_by_statement_timeout(pg_cluster: PgCluster) -> None:
    link = Link(resolve_target(pg_cluster.dsn), 0.2)  # 160 ms
    try:
        with pytest.raises(CollectorError, match="did not answer in time"):
            await link.fetch("SELECT pg_sleep(5)")
        assert (await link.fetch("SELECT 1"))[0][0] == 1  # the connection stays usable
    finally:
        await link.close()


@run
async def test_privileges_detected(pg_major_cluster: PgCluster) -> None:
    pg_cluster = pg_major_cluster
    major = pg_cluster.major
    expected = {
        pg_cluster.create_role("priv_plain"): False,
        pg_cluster.create_role("priv_stats", read_all_stats=True): True,
        pg_cluster.create_role("priv_monitor", monitor=True): True,
        pg_cluster.dsn: True,
    }
    for dsn, can in expected.items():
        link = Link(resolve_target(dsn), 1.0)
        try:
            await link.connect()
        finally:
            await link.close()
        assert link.info is not None and link.info.can_read_all_stats is can, dsn
        assert link.info.pgss_preloaded and link.info.pgss_version == PGSS_DEFAULT[major]
        assert link.info.version.startswith(f"{major}.") and link.info.version_num // 10000 == major


# A network stall: a real TCP proxy that stops forwarding --------------------------------------


class StallingProxy:
    """Forwards 127.0.0.1:<port> to the cluster; `stall()` stops moving bytes both ways (the
    connections stay open, nothing answers: a cable pulled, a firewall dropping packets)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> StallingProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.flowing.set()
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    def stall(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.flowing.wait()  # a new connection during the stall gets no answer either
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers += [writer, up_writer]
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


@run
async def test_a_network_stall_times_out_in_one_line_and_recovers_with_a_gap(
    pg_cluster: PgCluster,
) -> None:
    async with StallingProxy(pg_cluster.port) as proxy:
        dsn = f"postgresql://postgres@127.0.0.1:{proxy.port}/{pg_cluster.database}"
        collector = StatementsCollector(resolve_target(dsn), interval=0.2)  # 160 ms server limit
        collector.link.connect_timeout = 0.5  # the client-side limit: 160 ms + 0.5 s
        direct = await asyncpg.connect(pg_cluster.dsn)
        try:
            await collector.collect()
            await direct.fetch("SELECT count(*) FROM pg_class WHERE relpages > $1", 1)
            before = await collector.collect()
            assert any("relpages" in s.query for s in before.statements)

            proxy.stall()
            await direct.fetch("SELECT count(*) FROM pg_class WHERE relpages > $1", 2)
            # The outer 30 s is a guard so a missing client-side limit fails, not hangs.
            with pytest.raises(CollectorError) as stalled:
                await asyncio.wait_for(collector.collect(), 30)
            with pytest.raises(CollectorError) as still:
                # reconnecting into the stall: no answer either
                await asyncio.wait_for(collector.collect(), 30)

            proxy.resume()
            back = await collector.collect()
            for _ in range(3):
                await direct.fetch("SELECT count(*) FROM pg_class WHERE relpages > $1", 3)
            after = await collector.collect()
        finally:
            await direct.close()
            await collector.close()
    where = f"127.0.0.1:{proxy.port}"
    assert str(stalled.value) == f"no answer from {where} (network stall?); reconnecting"
    assert str(still.value) == f"cannot reach PostgreSQL at {where}: no answer (timed out)"
    # No rate across the gap: the first read after it is a baseline, and a notice says so.
    assert any("reconnected after" in n and "no rates across the gap" in n for n in back.notices)
    assert back.statements == () and collector.series(back) == {}
    [rate] = [s for s in after.statements if "relpages" in s.query]
    assert rate.calls == 3  # the call made during the stall is before the new baseline
    assert rate.seconds == pytest.approx(after.time - back.time)
