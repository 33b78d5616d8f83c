"""The collector runner: failures become states with backoff, the others carry on."""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Callable, Mapping

from perftop.collectors.base import (
    Collection,
    CollectorError,
    backoff,
    describe_failure,
    tick,
)
from perftop.store import Store

from .support import run


class Counting:
    """A collector that returns 1, 2, 3... or raises while `failing` is set."""

    def __init__(self, source: str, interval: float = 0.01) -> None:
        self.source = source
        self.interval = interval
        self.calls = 0
        self.failing: BaseException | None = None

    def collect(self) -> object:
        self.calls += 1
        if self.failing is not None:
            raise self.failing
        return self.calls

    def series(self, sample: object) -> Mapping[str, float]:
        assert isinstance(sample, int)
        return {f"{self.source}.n": float(sample)}


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> float:
    """Let the loop run until `condition()` holds; the seconds it took (fails on timeout)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "the condition never held"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def test_failures_are_described_in_plain_words() -> None:
    denied = PermissionError(errno.EACCES, "Permission denied", "/proc/1/io")
    assert describe_failure(denied) == (
        "permission denied reading /proc/1/io: needs root or the owner's user"
    )
    missing = FileNotFoundError(errno.ENOENT, "No such file", "/proc/pressure/cpu")
    assert describe_failure(missing) == "not available on this system: /proc/pressure/cpu"
    assert describe_failure(CollectorError("py-spy is not installed")) == (
        "py-spy is not installed"
    )
    assert describe_failure(ValueError("bad line")) == "ValueError: bad line"


def test_backoff_doubles_from_the_interval_and_is_capped() -> None:
    assert [backoff(n, 1.0) for n in (1, 2, 3, 4, 5, 6)] == [1, 2, 4, 8, 16, 30]
    assert backoff(1, 5.0) == 5.0
    assert backoff(3, 0.1) == 4.0  # sub-second intervals back off from a second
    assert backoff(50, 1.0, ceiling=10.0) == 10.0


@run
async def test_tick_writes_the_sample_and_series_or_the_failure() -> None:
    store = Store()
    good = Counting("good")
    assert await tick(good, store)
    assert store.latest("good", int) == 1
    assert store.history("good.n") == (1.0,)
    assert store.status("good").state == "ok"
    good.failing = PermissionError(errno.EACCES, "Permission denied", "/proc/9/io")
    assert not await tick(good, store)
    assert store.latest("good", int) == 1  # the last good sample is kept
    status = store.status("good")
    assert status.state == "failing"
    assert "/proc/9/io" in status.message


@run
async def test_a_failing_collector_backs_off_while_the_others_carry_on() -> None:
    store = Store()
    bad, good = Counting("bad"), Counting("good")
    bad.failing = RuntimeError("boom")
    collection = Collection(store, [bad, good])
    collection.start()
    took = await until(lambda: good.calls > 10 and store.status("bad").state == "failing")
    status = store.status("bad")
    assert status.state == "failing" and status.message == "RuntimeError: boom"
    assert status.retry_in is not None and status.retry_in >= 1.0
    # Backed off to a second and more, not retried every 10 ms as the good one ticks.
    assert bad.calls <= 1 + int(took)
    assert store.status("good").state == "ok"
    await collection.stop()


@run
async def test_a_collector_that_recovers_reports_ok_again() -> None:
    store = Store()
    flaky = Counting("flaky", interval=0.01)
    flaky.failing = OSError(errno.EIO, "I/O error")
    collection = Collection(store, [flaky])
    collection.start()
    await until(lambda: store.status("flaky").state == "failing")
    assert store.status("flaky").message == "EIO: I/O error"
    flaky.failing = None
    took = await until(lambda: store.status("flaky").state == "ok")
    assert took > 0.5  # the retry waited for its backoff (a second from the failure)
    assert store.latest("flaky", int) is not None
    await collection.stop()


@run
async def test_collection_add_replaces_and_remove_stops() -> None:
    store = Store()
    first, second = Counting("detail"), Counting("detail")
    collection = Collection(store, [])
    collection.add(first)
    await until(lambda: first.calls > 2)
    collection.add(second)
    await until(lambda: second.calls > 2)  # a tick of the first one in flight is over
    calls = first.calls
    await until(lambda: second.calls > calls + 5)  # five more ticks of the new one...
    assert first.calls == calls  # ... and none of the old one: replaced
    collection.remove("detail")
    await asyncio.sleep(0.05)  # a tick in flight when it was removed may still finish
    calls = second.calls
    await asyncio.sleep(0.1)  # ten intervals: a running collector would tick meanwhile
    assert second.calls == calls
    assert collection.collectors == []
    await collection.stop()


class AsyncCounting(Counting):
    """The same, as a coroutine: awaited on the loop, never sent to a thread."""

    async def collect(self) -> object:  # type: ignore[override]  # async by design
        await asyncio.sleep(0)
        return super().collect()


@run
async def test_an_async_collector_is_awaited_on_the_loop() -> None:
    store = Store()
    collector = AsyncCounting("pg")
    assert await tick(collector, store)
    assert store.latest("pg", int) == 1
    collector.failing = CollectorError("server closed the connection")
    assert not await tick(collector, store)
    assert store.status("pg").message == "server closed the connection"


@run
async def test_an_inline_collector_runs_on_the_loop_and_the_others_in_a_thread() -> None:
    import threading

    class Where(Counting):
        def __init__(self, source: str, inline: bool) -> None:
            super().__init__(source)
            self.inline = inline
            self.thread: threading.Thread | None = None

        def collect(self) -> object:
            self.thread = threading.current_thread()
            return super().collect()

    store = Store()
    inline, threaded = Where("inline", True), Where("threaded", False)
    assert await tick(inline, store) and await tick(threaded, store)
    assert inline.thread is threading.current_thread()  # the loop's own
    assert threaded.thread is not None and threaded.thread is not threading.current_thread()


def test_the_machine_wide_collectors_are_inline_and_the_process_scan_is_not() -> None:
    from perftop.collectors.cpu import CpuCollector
    from perftop.collectors.disk import DiskCollector
    from perftop.collectors.memory import MemoryCollector
    from perftop.collectors.net import NetCollector
    from perftop.collectors.processes import ProcessCollector

    for cls in (CpuCollector, MemoryCollector, DiskCollector, NetCollector):
        assert cls.inline is True
    assert not getattr(ProcessCollector, "inline", False)  # ms per tick: a worker thread's
