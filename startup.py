"""What the TUI shows as soon as it is up, as the command line asked (no Textual here: the
command line builds it before deciding whether a terminal UI runs at all)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the stacks model is not needed for the first frame
    from .collectors.base import Collector
    from .collectors.stacks.model import StackSample


@dataclass(frozen=True)
class Startup:
    """`perftop --pid`, `perftop run` or `perftop open`: a profile to show first."""

    pid: int | None = None  # --pid: ask to attach py-spy to it
    launched: Collector | None = None  # `perftop run`: the launched program's collector
    opened: StackSample | None = None  # `perftop open FILE`: a saved profile
    rate: int = 100  # py-spy samples per second


_paused = False  # the collector is off for start-up (and was on before)


def pause_gc() -> None:
    """Start-up without the cyclic garbage collector, until `resume_gc()`.

    Start-up (importing Textual and perftop, composing and drawing the first frame)
    allocates a few hundred thousand objects that live as long as perftop does; the
    collector, run every 700 allocations, walks them over and over and finds nothing to
    free: about a tenth of the time to the first frame.
    """
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_gc() -> None:
    """The collector on again, as before `pause_gc()`; what start-up allocated is moved out
    of its sight (`gc.freeze`), so later collections do not walk it either. Does nothing
    unless paused."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


@contextlib.contextmanager
def loading() -> Iterator[None]:
    """Import the TUI's modules without the cyclic garbage collector (see `pause_gc`)."""
    pause_gc()
    try:
        yield
    finally:
        resume_gc()
