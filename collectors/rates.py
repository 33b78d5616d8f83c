"""Rates from cumulative counters.

Every rate is (counter now - counter before) / (real seconds between the two reads, by the
monotonic clock), never divided by the nominal interval. A counter that went down was reset
(a device re-created, a driver reloaded, a wrap): that interval's rate is unknown and counts
as zero instead of a huge or negative number. A key seen for the first time has no "before":
its rate starts at zero, never its lifetime total. Keys that vanished are forgotten.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


def rate(before: float | None, now: float, elapsed: float) -> float:
    """Per-second rate of one counter; 0 when there is no baseline, no time, or a reset."""
    if before is None or elapsed <= 0.0:
        return 0.0
    delta = now - before
    if delta < 0:
        return 0.0
    return delta / elapsed


class CounterDeltas(Generic[K]):
    """Per-key rates of several counters at once, from one read to the next."""

    def __init__(self) -> None:
        self._before: dict[K, Sequence[float]] = {}
        self._time: float | None = None

    @property
    def elapsed_base(self) -> float | None:
        """The monotonic time of the previous read, if any."""
        return self._time

    def update(
        self, now: float, counters: Mapping[K, Sequence[float]]
    ) -> dict[K, tuple[float, ...]]:
        """Feed the counters read at monotonic time `now`; return each key's rates."""
        elapsed = 0.0 if self._time is None else now - self._time
        rates: dict[K, tuple[float, ...]] = {}
        for key, values in counters.items():
            before = self._before.get(key)
            if before is None or len(before) != len(values):
                rates[key] = (0.0,) * len(values)
            else:
                rates[key] = tuple(rate(b, v, elapsed) for b, v in zip(before, values, strict=True))
        self._before = dict(counters)
        self._time = now
        return rates
