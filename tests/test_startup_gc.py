"""Start-up pauses the cyclic garbage collector and always turns it back on.

perftop runs for hours: a collector left off by a failed start-up would let reference
cycles pile up for the whole session. Real `gc` state, restored after each test.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from perftop import startup


@pytest.fixture(autouse=True)
def gc_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    gc.unfreeze()
    if was:
        gc.enable()
    startup._paused = False


def test_pause_then_resume_turns_it_back_on_and_freezes_what_was_loaded() -> None:
    gc.enable()
    startup.pause_gc()
    assert not gc.isenabled()
    startup.resume_gc()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_resume_without_a_pause_changes_nothing() -> None:
    gc.enable()
    gc.unfreeze()
    startup.resume_gc()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    startup.pause_gc()
    startup.resume_gc()
    assert not gc.isenabled()


def test_loading_turns_it_back_on_when_the_import_fails() -> None:
    gc.enable()
    with pytest.raises(ImportError), startup.loading():
        assert not gc.isenabled()
        import perftop_no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert gc.isenabled()
