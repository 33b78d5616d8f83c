"""Where perftop keeps its files, by the XDG base directories: a module every layer may use
(it imports nothing of perftop)."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """`$XDG_STATE_HOME/perftop`, by default `~/.local/state/perftop`: the audit file, logs."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "perftop"


def default_audit_path() -> Path:
    return state_dir() / "audit.jsonl"
