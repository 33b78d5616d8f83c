#!/usr/bin/env bash
# Create the project's virtual environment. Debian and Ubuntu ship python3 without venv
# (ensurepip) unless python3-venv is installed: install it when we can (root + apt-get).
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
if "$python" -m venv "$venv" 2>/dev/null; then
    exit 0
fi
rm -rf "$venv"
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "python3 has no venv module here; installing python3-venv" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv \
        "python3.$("$python" -c 'import sys; print(sys.version_info[1])')-venv" >&2 || \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
    exec "$python" -m venv "$venv"
fi
echo "cannot create $venv: '$python -m venv' failed; install your distribution's python3-venv" >&2
exit 1
