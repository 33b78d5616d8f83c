"""What the TUI shows as soon as it is up, as the command line asked (no Textual here: the
command line builds it before deciding whether a terminal UI runs at all)."""

from __future__ import annotations

from dataclasses import dataclass

from .collectors.base import Collector
from .collectors.stacks.model import StackSample


@dataclass(frozen=True)
class Startup:
    """`perftop --pid`, `perftop run` or `perftop open`: a profile to show first."""

    pid: int | None = None  # --pid: ask to attach py-spy to it
    launched: Collector | None = None  # `perftop run`: the launched program's collector
    opened: StackSample | None = None  # `perftop open FILE`: a saved profile
    rate: int = 100  # py-spy samples per second
