"""The store: latest samples, bounded histories, series eviction, subscriptions, status."""

from __future__ import annotations

import pytest

from perftop.collectors.samples import CoreUsage, CpuSample, NetSample
from perftop.store import STARTING, Ring, SourceStatus, Store

IDLE = CoreUsage(0.0, 0.0, 0.0, 0.0)


def cpu_sample(t: float) -> CpuSample:
    return CpuSample(t, IDLE, (IDLE,), (0.0, 0.0, 0.0), 0.0, 0.0, None)


def test_latest_is_the_newest_sample_of_the_asked_kind() -> None:
    store = Store()
    assert store.latest("cpu", CpuSample) is None
    store.put("cpu", cpu_sample(1.0))
    store.put("cpu", cpu_sample(2.0))
    latest = store.latest("cpu", CpuSample)
    assert latest is not None and latest.time == 2.0
    assert store.latest("cpu", NetSample) is None  # wrong kind: None, not a wrong object
    assert store.sources() == ("cpu",)


def test_history_is_a_bounded_ring() -> None:
    store = Store(history_len=3)
    for value in range(5):
        store.put("cpu", cpu_sample(value), {"cpu.total": float(value)})
    assert store.history("cpu.total") == (2.0, 3.0, 4.0)
    assert store.history("never.written") == ()


def test_ring_rejects_zero_size() -> None:
    with pytest.raises(ValueError):
        Ring(0)
    ring = Ring(2)
    ring.append(1.0)
    assert (len(ring), ring.size) == (1, 2)


def test_max_series_drops_the_least_recently_written() -> None:
    store = Store(max_series=3)
    store.extend({"a": 1.0, "b": 1.0, "c": 1.0})
    store.extend({"a": 2.0})  # a is fresh again; b is now the stalest
    store.extend({"d": 1.0})
    assert sorted(store.series_names()) == ["a", "c", "d"]
    assert store.history("b") == ()
    assert store.history("a") == (1.0, 2.0)  # kept its history when it was refreshed
    store.extend({"a": 3.0, "e": 1.0})  # order now c d a; e pushes c out
    assert sorted(store.series_names()) == ["a", "d", "e"]


def test_subscribers_hear_which_source_changed_until_unsubscribed() -> None:
    store = Store()
    heard: list[frozenset[str]] = []
    other: list[frozenset[str]] = []
    unsubscribe = store.subscribe(heard.append)
    store.subscribe(other.append)
    store.put("cpu", cpu_sample(1.0))
    store.put("net", NetSample(1.0, ()))
    assert heard == [frozenset({"cpu"}), frozenset({"net"})]
    unsubscribe()
    unsubscribe()  # twice is harmless
    store.put("cpu", cpu_sample(2.0))
    assert len(heard) == 2
    assert len(other) == 3  # the other subscriber still hears


def test_a_listener_may_unsubscribe_while_being_told() -> None:
    store = Store()
    calls: list[str] = []
    unsubscribe_first = None

    def first(_: frozenset[str]) -> None:
        calls.append("first")
        assert unsubscribe_first is not None
        unsubscribe_first()

    unsubscribe_first = store.subscribe(first)
    store.subscribe(lambda _: calls.append("second"))
    store.put("cpu", cpu_sample(1.0))
    store.put("cpu", cpu_sample(2.0))
    assert calls == ["first", "second", "second"]


def test_version_counts_changes() -> None:
    store = Store()
    assert store.version == 0
    store.put("cpu", cpu_sample(1.0))
    store.put("cpu", cpu_sample(2.0), {"cpu.total": 1.0})
    assert store.version == 2
    store.extend({"cpu.total": 2.0})  # a series point alone is not a change to tell about
    assert store.version == 2


def test_status_starts_starting_put_sets_ok_and_set_status_notifies_only_on_change() -> None:
    store = Store()
    heard: list[frozenset[str]] = []
    store.subscribe(heard.append)
    assert store.status("disk") == STARTING
    failing = SourceStatus("failing", "permission denied reading /proc/diskstats", retry_in=2.0)
    store.set_status("disk", failing)
    store.set_status("disk", SourceStatus("failing", failing.message, retry_in=2.0))  # same
    assert store.status("disk") == failing
    assert (store.version, len(heard)) == (1, 1)
    store.set_status("disk", SourceStatus("failing", failing.message, retry_in=4.0))
    assert (store.version, len(heard)) == (2, 2)
    store.put("disk", object())
    assert store.status("disk") == SourceStatus("ok")


def test_forget_drops_sample_and_status() -> None:
    store = Store()
    store.put("detail", cpu_sample(1.0))
    store.forget("detail")
    store.forget("never-there")
    assert store.latest("detail", CpuSample) is None
    assert store.status("detail") == STARTING
