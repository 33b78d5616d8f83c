"""`python -m benchmarks [PART] [ARGS...]`: one entry to every benchmark.

    python -m benchmarks [ARGS]           the system view: perftop's CPU, RSS, first frame,
                                          collection tick, beside htop, glances and top
    python -m benchmarks stacks [ARGS]    py-spy attach: target slowdown, coverage, rate
    python -m benchmarks launch [ARGS]    perftop run: the program's slowdown under pyinstrument
    python -m benchmarks postgres [ARGS]  one poll with 5,000 statements, perftop's own load
    python -m benchmarks pg-screen [ARGS] the queries screen's CPU per tick
    python -m benchmarks stacks-pane [ARGS] the Stacks screen's CPU per refresh
    python -m benchmarks profile-tui [ARGS] where the dashboard's CPU per refresh goes
    python -m benchmarks first-frame [ARGS] launch to a drawn CPU and memory pane, in tmux,
                                          perftop beside glances, htop and top
    python -m benchmarks pg-peer [ARGS]   the PostgreSQL part's CPU beside pg_activity's
    python -m benchmarks stacks-peer [ARGS] the stacks part's CPU beside py-spy top's

Each part has its own `--help` and `--quick`.
"""

from __future__ import annotations

import importlib
import sys

PARTS = {
    "stacks": "stacks",
    "launch": "launch",
    "postgres": "postgres",
    "pg-screen": "pg_screen",
    "stacks-pane": "stacks_pane",
    "profile-tui": "profile_tui",
    "first-frame": "first_frame",
    "pg-peer": "peers:pg_main",
    "stacks-peer": "peers:stacks_main",
}


def main(argv: list[str]) -> int:
    if argv and argv[0] in PARTS:
        name, _, function = PARTS[argv[0]].partition(":")
        module = importlib.import_module(f"{__package__}.{name}")
        return int(getattr(module, function or "main")(argv[1:]))
    from .cli import main as system

    return system(argv)


raise SystemExit(main(sys.argv[1:]))
