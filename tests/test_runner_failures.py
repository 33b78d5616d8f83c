"""A collector that dies in `series()` (or while its sample is stored) is failing, shown as
such, and tried again with backoff: the runner's task never ends on its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from perftop.collectors.base import Collection, tick
from perftop.collectors.base import run as run_collector
from perftop.store import Store

from .support import run


class BadSeries:
    """Collects fine; its `series()` raises for the first `failures` samples."""

    def __init__(self, failures: int) -> None:
        self.source = "bad"
        self.interval = 0.01
        self.failures = failures
        self.calls = 0

    def collect(self) -> object:
        self.calls += 1
        return self.calls

    def series(self, sample: object) -> Mapping[str, float]:
        assert isinstance(sample, int)
        if sample <= self.failures:
            raise KeyError("cpu.core.7")
        return {f"{self.source}.n": float(sample)}


@run
async def test_a_tick_whose_series_raises_is_a_failure_not_an_exception() -> None:
    store = Store()
    store.put("bad", 0)  # it was fine before: "ok"
    assert not await tick(BadSeries(failures=1), store)
    status = store.status("bad")
    assert status.state == "failing" and status.message == "KeyError: 'cpu.core.7'"
    assert store.latest("bad", int) == 0  # the sample whose numbers failed is not half-kept


async def wait_for(condition: object, seconds: float = 5.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.01)


@run
async def test_a_collector_that_dies_shows_failing_and_comes_back_after_backoff() -> None:
    store = Store()
    collector = BadSeries(failures=2)
    task = asyncio.create_task(run_collector(collector, store, ceiling=0.3))
    try:
        await wait_for(lambda: store.status("bad").state == "failing")
        status = store.status("bad")
        assert "KeyError" in status.message and status.retry_in is not None
        assert not task.done()
        await wait_for(lambda: store.history("bad.n"))  # the third sample: fine again
        assert store.status("bad").state == "ok" and collector.calls >= 3
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@run
async def test_in_a_collection_the_others_carry_on() -> None:
    store = Store()

    class Fine(BadSeries):
        def __init__(self) -> None:
            super().__init__(failures=0)
            self.source = "fine"

    collection = Collection(store, [BadSeries(failures=10**9), Fine()])
    collection.start()
    try:
        await wait_for(lambda: len(store.history("bad.n")) == 0 and store.history("fine.n"))
        await wait_for(lambda: store.status("bad").state == "failing")
        assert store.status("fine").state == "ok"
    finally:
        await collection.stop()
