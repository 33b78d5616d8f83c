"""Rates from cumulative counters: resets, first sightings, vanished keys, real elapsed time."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perftop.collectors.rates import CounterDeltas, rate


def test_rate_is_delta_over_elapsed() -> None:
    assert rate(100.0, 350.0, 2.5) == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("before", "now", "elapsed"),
    [
        (None, 500.0, 1.0),  # no baseline: never the lifetime total
        (100.0, 500.0, 0.0),  # no time passed
        (100.0, 500.0, -1.0),  # clock went backwards (should not, but never divide by it)
        (500.0, 100.0, 1.0),  # counter reset: unknown, counts as zero
    ],
)
def test_rate_is_zero_when_unknown(before: float | None, now: float, elapsed: float) -> None:
    assert rate(before, now, elapsed) == 0.0


def test_first_update_has_no_baseline() -> None:
    deltas: CounterDeltas[str] = CounterDeltas()
    assert deltas.elapsed_base is None
    assert deltas.update(10.0, {"eth0": (1000.0, 5.0)}) == {"eth0": (0.0, 0.0)}
    assert deltas.elapsed_base == 10.0


def test_rates_use_the_real_elapsed_time() -> None:
    deltas: CounterDeltas[str] = CounterDeltas()
    deltas.update(10.0, {"sda": (0.0,)})
    # A tick that came 0.5 s late: 3000 over 1.5 s is 2000/s, not 3000/s.
    assert deltas.update(11.5, {"sda": (3000.0,)}) == {"sda": (pytest.approx(2000.0),)}
    assert deltas.update(11.75, {"sda": (3500.0,)}) == {"sda": (pytest.approx(2000.0),)}


def test_counter_reset_reads_zero_then_recovers() -> None:
    deltas: CounterDeltas[str] = CounterDeltas()
    deltas.update(0.0, {"eth1": (10_000.0, 50.0)})
    # Driver reloaded: bytes went down, packets too. Zero, never negative.
    assert deltas.update(1.0, {"eth1": (200.0, 2.0)}) == {"eth1": (0.0, 0.0)}
    # The next interval is measured from the reset value.
    assert deltas.update(2.0, {"eth1": (1200.0, 12.0)}) == {"eth1": (1000.0, 10.0)}


def test_one_counter_resetting_leaves_the_others() -> None:
    deltas: CounterDeltas[str] = CounterDeltas()
    deltas.update(0.0, {"k": (10.0, 10.0)})
    assert deltas.update(1.0, {"k": (5.0, 15.0)}) == {"k": (0.0, 5.0)}


def test_new_keys_start_at_zero_and_vanished_keys_are_forgotten() -> None:
    deltas: CounterDeltas[str] = CounterDeltas()
    deltas.update(0.0, {"sda": (100.0,), "sdb": (100.0,)})
    rates = deltas.update(1.0, {"sda": (200.0,), "sdc": (9_999.0,)})
    assert rates == {"sda": (100.0,), "sdc": (0.0,)}  # sdb gone from the answer
    # sdb comes back: forgotten, so its counters are a new baseline, not a delta against
    # the value from two reads ago.
    rates = deltas.update(2.0, {"sda": (300.0,), "sdb": (5_000.0,), "sdc": (10_999.0,)})
    assert rates == {"sda": (100.0,), "sdb": (0.0,), "sdc": (1000.0,)}


def test_a_key_whose_counter_count_changed_restarts() -> None:
    deltas: CounterDeltas[str] = CounterDeltas()
    deltas.update(0.0, {"k": (1.0, 2.0)})
    assert deltas.update(1.0, {"k": (5.0, 6.0, 7.0)}) == {"k": (0.0, 0.0, 0.0)}


counter_reads = st.lists(
    st.tuples(
        st.floats(min_value=1e-6, max_value=1e6, allow_nan=False),  # elapsed since last read
        st.dictionaries(
            st.sampled_from(["a", "b", "c", "d"]),
            st.lists(st.integers(min_value=0, max_value=2**64), min_size=2, max_size=2),
            max_size=4,
        ),
    ),
    min_size=1,
    max_size=30,
)


@given(counter_reads)
def test_rates_are_never_negative(reads: list[tuple[float, dict[str, list[int]]]]) -> None:
    deltas: CounterDeltas[str] = CounterDeltas()
    now = 0.0
    for elapsed, counters in reads:
        now += elapsed
        rates = deltas.update(now, {k: [float(v) for v in vs] for k, vs in counters.items()})
        assert set(rates) == set(counters)
        for key, values in rates.items():
            assert len(values) == len(counters[key])
            assert all(v >= 0.0 for v in values)


@given(
    st.floats(min_value=0, max_value=1e12, allow_nan=False),
    st.floats(min_value=0, max_value=1e12, allow_nan=False),
    st.floats(min_value=1e-9, max_value=1e6, allow_nan=False),
)
def test_rate_times_elapsed_is_the_increase(before: float, now: float, elapsed: float) -> None:
    result = rate(before, now, elapsed)
    assert result >= 0.0
    assert result * elapsed == pytest.approx(max(0.0, now - before), rel=1e-9, abs=1e-6)
