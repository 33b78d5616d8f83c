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
}


def main(argv: list[str]) -> int:
    if argv and argv[0] in PARTS:
        module = importlib.import_module(f"{__package__}.{PARTS[argv[0]]}")
        return int(module.main(argv[1:]))
    from .cli import main as system

    return system(argv)


raise SystemExit(main(sys.argv[1:]))
