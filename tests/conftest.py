"""Suite-wide fixtures: the throwaway PostgreSQL clusters (see tests/pg_cluster.py) and a
real Python process whose hot function is known (`burner`).

PostgreSQL: `pg_cluster` is one server (the distribution's, 15) for the session, for
everything whose SQL does not depend on the version. `pg_major_cluster` is the same kind of
server once per supported major (14 to 18): a test that asks for it runs once per major,
ids `[pg14]` … `[pg18]`. Each major's server starts the first time a test asks for it and
stops at the end of the session (15 is `pg_cluster` itself). It is session-scoped, so a
module-scoped fixture may build on it (its objects are then made once per major). To run a
test on some majors only: `@pytest.mark.parametrize("pg_major_cluster", [17, 18],
indirect=True)`."""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from perftop import permits

from .pg_cluster import (
    SUPPORTED_MAJORS,
    BinariesMissing,
    PgCluster,
    find_bindir,
    server_major,
    throwaway_cluster,
)
from .support import start_burner, start_counter


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


class PgMajors:
    """One server per major for the session, each started when a test first needs it."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack
        self._clusters: dict[int, PgCluster] = {}
        self._failed: dict[int, BaseException] = {}

    def get(self, major: int) -> PgCluster:
        """The running server of `major`; a missing major skips, or fails under CI=true."""
        if major in self._failed:
            raise self._failed[major]
        if major not in self._clusters:
            try:
                self._clusters[major] = self._stack.enter_context(throwaway_cluster(major=major))
            except BinariesMissing as exc:
                if _in_ci():
                    pytest.fail(f"CI=true and {exc}", pytrace=False)
                pytest.skip(str(exc))
            except Exception as exc:  # a server that does not start fails every test of it
                self._failed[major] = exc
                raise
        return self._clusters[major]


@pytest.fixture(scope="session")
def pg_majors() -> Iterator[PgMajors]:
    """The servers of every major that tests asked for; all stopped at the session's end."""
    with contextlib.ExitStack() as stack:
        yield PgMajors(stack)


@functools.cache
def _default_major() -> int | None:
    try:
        return server_major(find_bindir())
    except BinariesMissing:
        return None


@pytest.fixture(scope="session", params=SUPPORTED_MAJORS, ids=lambda major: f"pg{major}")
def pg_major_cluster(request: pytest.FixtureRequest, pg_majors: PgMajors) -> PgCluster:
    """A running server of each supported major in turn (see the module docstring)."""
    major: int = request.param
    if major == _default_major():
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        return cluster
    return pg_majors.get(major)


@pytest.fixture
def burner(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """`burn_cpu()` called from `main()` in a loop, and a thread "sleepy" that sleeps."""
    child = start_burner(tmp_path)
    yield child
    child.kill()
    child.wait()


@pytest.fixture
def counter(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A real process that counts the SIGUSR1 it receives into a file."""
    proc, path = start_counter(tmp_path)
    yield proc, path
    proc.kill()
    proc.wait()


@pytest.fixture
def not_python() -> Iterator[subprocess.Popen[bytes]]:
    """A real process that is not Python (`sleep`), once its exec is done."""
    import time

    child = subprocess.Popen(["sleep", "60"])
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child.pid}/exe").resolve().name != "sleep":  # exec done
        assert time.monotonic() < deadline
        time.sleep(0.01)
    yield child
    child.kill()
    child.wait()


@pytest.fixture(autouse=True)
def not_locked_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts unlocked, and a test that locks down (as `--read-only` does) is
    undone afterwards."""
    monkeypatch.setattr(permits, "_locked_down", False)
