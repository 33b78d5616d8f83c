"""The store: the one place live data lives.

Collectors write the latest sample per source and append numbers to named series; readers
(panes, the headless snapshot, tests) read the latest sample, a series' bounded history and
each source's health, and subscribe to be told which sources changed. Plain Python: no
Textual, no threads (every write happens on the event loop that runs the collectors).

Memory is bounded whatever the session length: each series is a ring buffer of
`history_len` points, and at most `max_series` series are kept (the least recently written
ones are dropped first, which is how the history of processes that ended goes away). The
limit follows the machine (`series_limit`): one tick writes one series per core, so a fixed
limit below the core count would drop every history on every tick.
"""

from __future__ import annotations

import os
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

T = TypeVar("T")

State = Literal["starting", "ok", "failing"]


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A source's health as a pane shows it."""

    state: State
    message: str = ""  # plain words, e.g. "needs root to read /proc/1/io"
    retry_in: float | None = None  # seconds until the next attempt while failing


STARTING = SourceStatus("starting")

SERIES_PER_CORE = 1
"""cpu.core.N. Disks and NICs are summed into one series each, so they add no more."""

FIXED_SERIES = 32
"""Every other series a tick writes, all collectors together: cpu.total, memory (2), disk
(2), network (2), processes (3), a process detail (2), py-spy (2), PostgreSQL (9) make 23
today; the rest is room for one more collector's."""

PROCESS_SERIES = 2 * 24
"""The kept processes' CPU % and RSS (collectors.processes.HISTORY_KEPT processes)."""

SPARE_SERIES = 64
"""Room for histories no longer written (processes that ended or left the top), the first
ones dropped."""


def series_limit(cpus: int | None = None) -> int:
    """How many series a store keeps on a machine with `cpus` cores (default: this one)."""
    cores = cpus if cpus is not None else os.cpu_count() or 1
    return cores * SERIES_PER_CORE + FIXED_SERIES + PROCESS_SERIES + SPARE_SERIES


Listener = Callable[[frozenset[str]], None]


class Ring:
    """A fixed-size history of floats; the oldest point falls out when it is full."""

    __slots__ = ("_points",)

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a ring holds at least one point")
        self._points: deque[float] = deque(maxlen=size)

    def append(self, value: float) -> None:
        self._points.append(value)

    def values(self) -> tuple[float, ...]:
        return tuple(self._points)

    def __len__(self) -> int:
        return len(self._points)

    @property
    def size(self) -> int:
        maxlen = self._points.maxlen
        assert maxlen is not None
        return maxlen


class Store:
    """Latest sample per source, bounded history per series, change subscriptions."""

    def __init__(self, history_len: int = 600, max_series: int | None = None) -> None:
        self.history_len = history_len
        self.max_series = series_limit() if max_series is None else max_series
        self.version = 0
        self._latest: dict[str, object] = {}
        self._status: dict[str, SourceStatus] = {}
        self._series: OrderedDict[str, Ring] = OrderedDict()
        self._listeners: list[Listener] = []

    # writers (collectors and their runner) -------------------------------------------

    def put(self, source: str, sample: object, series: Mapping[str, float] | None = None) -> None:
        """Record a source's newest sample and its numbers, then tell subscribers."""
        self._latest[source] = sample
        if series:
            self.extend(series)
        self._status[source] = SourceStatus("ok")
        self._changed(frozenset((source,)))

    def extend(self, series: Mapping[str, float]) -> None:
        """Append one point to each named series (creating it if new)."""
        for name, value in series.items():
            ring = self._series.get(name)
            if ring is None:
                ring = self._series[name] = Ring(self.history_len)
                while len(self._series) > self.max_series:
                    self._series.popitem(last=False)
            else:
                self._series.move_to_end(name)
            ring.append(value)

    def set_status(self, source: str, status: SourceStatus) -> None:
        if self._status.get(source) == status:
            return
        self._status[source] = status
        self._changed(frozenset((source,)))

    def forget(self, source: str) -> None:
        """Drop a source's sample and status (e.g. the detail of a closed screen)."""
        self._latest.pop(source, None)
        self._status.pop(source, None)

    # readers ----------------------------------------------------------------------------

    def latest(self, source: str, kind: type[T]) -> T | None:
        """The newest sample of `source` if it is a `kind`, else None."""
        sample = self._latest.get(source)
        return sample if isinstance(sample, kind) else None

    def status(self, source: str) -> SourceStatus:
        return self._status.get(source, STARTING)

    def history(self, name: str) -> tuple[float, ...]:
        ring = self._series.get(name)
        return ring.values() if ring is not None else ()

    def series_names(self) -> Iterable[str]:
        return tuple(self._series)

    def sources(self) -> tuple[str, ...]:
        return tuple(self._latest)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(changed_sources)` after every change; returns the unsubscriber."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _changed(self, sources: frozenset[str]) -> None:
        self.version += 1
        for listener in tuple(self._listeners):
            listener(sources)
