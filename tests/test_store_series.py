"""The store keeps every series a tick writes, however many cores the machine has: at 250
CPUs and more, one series per core used to overflow `max_series` (256) on every tick, and
the oldest-written series (the whole history) were dropped each time."""

from __future__ import annotations

import os

import pytest

from perftop.collectors.system import default_collectors
from perftop.store import Store, series_limit

from .support import cpu_sample, disk_sample, memory_sample, net_sample, process_sample


@pytest.mark.parametrize("cpus", [1, 4, 250, 256, 1024])
def test_every_series_of_a_tick_keeps_its_history(
    cpus: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    collectors = {c.source: c for c in default_collectors(1.0)}  # the real ones' series()
    samples = {
        "cpu": cpu_sample(cpus),
        "memory": memory_sample(),
        "disk": disk_sample(),
        "net": net_sample(),
        "processes": process_sample(),
    }
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    store = Store()  # as the app builds it
    ticks = 5
    for _ in range(ticks):
        for source, sample in samples.items():
            store.put(source, sample, collectors[source].series(sample))
    # A detail screen's and py-spy's series, and PostgreSQL's, on top.
    for _ in range(ticks):
        store.extend({"detail.1.cpu": 1.0, "detail.1.rss": 2.0})
        store.extend({"stacks.rate": 99.0, "stacks.samples": 99.0})
        store.extend({f"pg.{n}": 1.0 for n in range(9)})
    for name in ("cpu.total", f"cpu.core.{cpus - 1}", "mem.used_percent", "proc.count"):
        assert len(store.history(name)) == ticks, name
    assert len(tuple(store.series_names())) <= store.max_series


def test_the_limit_follows_the_cpu_count_with_room_for_the_rest() -> None:
    assert series_limit(1) < series_limit(256) < series_limit(1024)
    assert series_limit(1024) - series_limit(256) == 768  # one series per core
    assert series_limit(1) >= 64  # the fixed series and room for closed details


def test_an_explicit_limit_still_wins() -> None:
    store = Store(max_series=3)
    store.extend({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0})
    assert list(store.series_names()) == ["b", "c", "d"]
