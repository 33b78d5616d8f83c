"""What a collector is, and the loop that runs one on its own cadence.

A collector's `collect()` is either plain blocking code (procfs reads, psutil), which the
runner calls in a worker thread so the event loop never waits on it, or a coroutine
function (asyncpg, subprocesses), which the runner awaits on the loop itself. A blocking
collector that declares `inline = True` is called on the loop directly: for the machine-wide
ones (CPU, memory, disk, network: 50-100 µs of small /proc reads each, measured here) the
hop to a worker thread and back cost more than the reads. Either way the
runner writes the result to the store, and on failure reports the state and retries with
exponential backoff while the other collectors carry on. One tick of a collector is in
flight at a time: the next one is scheduled only after the previous one finished, so slow
ticks never pile up.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import time
from collections.abc import Mapping
from typing import Protocol

from ..store import SourceStatus, Store


class CollectorError(Exception):
    """A failure whose message is already fit for a person ("needs root to read X")."""


class Collector(Protocol):
    """One source of samples."""

    source: str  # the store key, e.g. "cpu"
    interval: float  # seconds between ticks

    def collect(self) -> object:
        """Take one sample: blocking (run in a worker thread), or `async def` (awaited)."""
        ...

    def series(self, sample: object) -> Mapping[str, float]:
        """The numbers from `sample` worth a history (may be empty)."""
        ...


def describe_failure(exc: BaseException) -> str:
    """Plain words for a collector failure, for the pane and the snapshot document."""
    if isinstance(exc, CollectorError):
        return str(exc)
    if isinstance(exc, PermissionError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"permission denied reading{where}: needs root or the owner's user"
    if isinstance(exc, FileNotFoundError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"not available on this system:{where or ' a file is missing'}"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{errno.errorcode.get(exc.errno, 'OSError')}: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"


def backoff(failures: int, interval: float, ceiling: float = 30.0) -> float:
    """Seconds to wait after `failures` consecutive failures: doubling, capped."""
    return float(min(ceiling, max(interval, 1.0) * 2 ** max(0, failures - 1)))


async def tick(collector: Collector, store: Store) -> bool:
    """Run one collection into the store. Returns False (and records why) on failure.

    A failure is anything `collect()` or `series()` raises: a sample whose numbers cannot
    be taken is not stored at all, rather than stored without its history."""
    try:
        if inspect.iscoroutinefunction(collector.collect):
            sample = await collector.collect()
        elif getattr(collector, "inline", False):
            sample = collector.collect()  # a few small procfs reads: cheaper than a thread hop
        else:
            sample = await asyncio.to_thread(collector.collect)
        series = collector.series(sample)
    except Exception as exc:  # noqa: BLE001 - any failure becomes a state, never a crash
        store.set_status(collector.source, SourceStatus("failing", describe_failure(exc)))
        return False
    store.put(collector.source, sample, series)
    return True


async def _tick_guarded(collector: Collector, store: Store) -> bool:
    """`tick`, and whatever else goes wrong while its sample is stored (a subscriber that
    raises) is this collector's failure too, so its task never ends on an exception."""
    try:
        return await tick(collector, store)
    except Exception as exc:  # noqa: BLE001 - the runner outlives every failure
        store.set_status(collector.source, SourceStatus("failing", describe_failure(exc)))
        return False


async def run(collector: Collector, store: Store, ceiling: float = 30.0) -> None:
    """Tick `collector` forever at its interval; back off while it fails (at most
    `ceiling` seconds, or the collector's own `retry_ceiling` where it has a lower one)."""
    ceiling = min(ceiling, getattr(collector, "retry_ceiling", ceiling))
    failures = 0
    while True:
        started = time.monotonic()
        if await _tick_guarded(collector, store):
            failures = 0
            delay = collector.interval - (time.monotonic() - started)
        else:
            failures += 1
            delay = backoff(failures, collector.interval, ceiling)
            status = store.status(collector.source)
            store.set_status(
                collector.source, SourceStatus("failing", status.message, retry_in=delay)
            )
        await asyncio.sleep(max(0.0, delay))


class Collection:
    """A set of collectors run as tasks on the current event loop."""

    def __init__(self, store: Store, collectors: list[Collector]) -> None:
        self.store = store
        self.collectors = list(collectors)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self) -> None:
        for collector in self.collectors:
            self.add(collector)

    def add(self, collector: Collector) -> None:
        """Start (or restart) a collector; replaces one with the same source."""
        self.remove(collector.source)
        if collector not in self.collectors:
            self.collectors.append(collector)
        self._tasks[collector.source] = asyncio.get_running_loop().create_task(
            run(collector, self.store), name=f"collector:{collector.source}"
        )

    def remove(self, source: str) -> None:
        task = self._tasks.pop(source, None)
        if task is not None:
            task.cancel()
        self.collectors = [c for c in self.collectors if c.source != source]

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
