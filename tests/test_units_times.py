"""Times below a millisecond in µs, and zero written one way (pgbench means read 0.0ms)."""

from __future__ import annotations

import pytest

from perftop.tui.pg_tables import figure
from perftop.tui.queries import QueriesScreen
from perftop.tui.units import fmt_time_ms

from .support import pg_store, run, statement, statements_sample
from .test_queries_screen import Host, queries, screen_text, shown


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, ""),
        (float("nan"), ""),
        (0.0, "0"),
        (0.0004, "<1µs"),  # not zero, so not written as zero
        (0.0006, "1µs"),
        (0.001, "1µs"),
        (0.0384, "38µs"),
        (0.412, "412µs"),
        (0.9994, "999µs"),
        (0.9996, "1.0ms"),  # would read 1000µs
        (1.0, "1.0ms"),
        (3.24, "3.2ms"),
        (9.96, "10ms"),
        (12.4, "12ms"),
        (999.4, "999ms"),
        (999.6, "1.00s"),
        (1240.0, "1.24s"),
        (9996.0, "10.0s"),
        (12_345.0, "12.3s"),
        (123_456.0, "123s"),
    ],
)
def test_fmt_time_ms(ms: float | None, text: str) -> None:
    assert fmt_time_ms(ms) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0"), (0.04, "0"), (0.05, "0.1"), (0.4, "0.4"), (9.94, "9.9"), (12.0, "12"),
     (1200.0, "1.2k")],
)  # fmt: skip
def test_figure_writes_zero_one_way(value: float, text: str) -> None:
    assert figure(value) == text


def pgbench_store() -> object:
    """Statements whose means are all under a millisecond, as pgbench's are."""
    rates = (
        statement(201, "UPDATE pgbench_accounts SET abalance = abalance + $1", calls=1000,
                  ms=412.0, read=0.02),
        statement(202, "SELECT abalance FROM pgbench_accounts WHERE aid = $1", calls=1000,
                  ms=38.0, read=0.0),
        statement(203, "UPDATE pgbench_branches SET bbalance = bbalance + $1", calls=1000,
                  ms=3240.0, read=2.0),
    )  # fmt: skip
    store = pg_store()
    store.put("pg.statements", statements_sample(rates))
    return store


@run
async def test_sub_millisecond_means_show_in_microseconds_and_sort_by_value() -> None:
    app = Host(pgbench_store())  # type: ignore[arg-type]
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        screen = queries(app)
        assert isinstance(screen, QueriesScreen)
        table = screen.statements
        table.set_sort("mean_ms", reverse=True)
        await pilot.pause()
        assert [r.key.queryid for r in shown(table)] == [203, 201, 202]
        text = screen_text(app)
        assert "412µs" in text and "38µs" in text and "3.2ms" in text
        assert "0.0ms" not in text
        lines = [line for line in text.splitlines() if "pgbench_" in line]
        assert len(lines) == 3
        # The read/s column: 0.02 and 0.0 both read "0", never "0.0".
        assert not any(" 0.0 " in line for line in lines), lines
