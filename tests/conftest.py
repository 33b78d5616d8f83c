"""Suite-wide fixtures: the throwaway PostgreSQL cluster (see tests/pg_cluster.py) and a
real Python process whose hot function is known (`burner`)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .pg_cluster import BinariesMissing, PgCluster, find_bindir, throwaway_cluster
from .support import start_burner


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL server for the whole session, with pg_stat_statements in the test
    database. Under CI=true it never skips: missing binaries fail the tests loudly."""
    try:
        find_bindir()
    except BinariesMissing as exc:
        if _in_ci():
            pytest.fail(f"CI=true and {exc}", pytrace=False)
        pytest.skip(str(exc))
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture
def burner(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """`burn_cpu()` called from `main()` in a loop, and a thread "sleepy" that sleeps."""
    child = start_burner(tmp_path)
    yield child
    child.kill()
    child.wait()
