#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl, postgres) exist for the tests that
# start their own throwaway cluster. Prints the bin directory it found.
set -euo pipefail
find_bindir() {
    if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir; return 0
    fi
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
    return 1
}
if dir=$(find_bindir); then
    echo "PostgreSQL server binaries: $dir"
    exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "PostgreSQL server binaries are missing; installing postgresql" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >&2
    dir=$(find_bindir) && { echo "PostgreSQL server binaries: $dir"; exit 0; }
fi
echo "PostgreSQL server binaries not found and cannot be installed here:" >&2
echo "install your distribution's postgresql package (Debian: apt-get install -y postgresql)" >&2
exit 1
