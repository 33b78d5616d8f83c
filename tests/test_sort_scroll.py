"""A new sort shows the new top rows, and Home goes to the first row, in the whole app.

After a sort the table is scrolled to the top; the selection stays on its process when that
process is on the new first screenful, else it moves to the first row. Every test starts
scrolled down (two pages), so a table that keeps its old scroll position shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from perftop.actions.audit import AuditLog
from perftop.actions.gate import Gate
from perftop.collectors.samples import ProcessRow
from perftop.config import SORT_KEYS, Settings
from perftop.themes import load
from perftop.tui.app import PerftopApp
from perftop.tui.pickers import SortPicker
from perftop.tui.process_table import ProcessTable

from .support import MiB, filled, process_sample, row, run

N = 200  # more rows than fit on a 45-line screen, twice over
SIZES = [(80, 24), (160, 45)]


def ranked_rows() -> tuple[ProcessRow, ...]:
    """Row i burns i % CPU; memory and reads fall as CPU rises, so those sorts reverse it."""
    return tuple(
        row(
            100 + i,
            1,
            "tester",
            f"worker-{i}",
            cpu=float(i),
            mem=float(N - i) / 10,
            rss=(N - i) * MiB,
            read=float(N - i) * 1024,
        )
        for i in range(N)
    )


def make_app(tmp_path: Path) -> PerftopApp:
    audit = AuditLog(tmp_path / "audit.jsonl")
    config = Settings(audit_file=audit.path)
    store = filled()
    store.put("processes", process_sample(ranked_rows()))
    app = PerftopApp(config, store, Gate(audit, read_only=False))
    app.register_theme(load("perftop-dark"))
    app.theme = "perftop-dark"
    return app


def page(table: ProcessTable) -> int:
    return table.scrollable_content_region.height - 1  # rows below the header


def cursor_index(table: ProcessTable) -> int:
    selected = table.selected_row
    assert selected is not None
    return [r.pid for r in table.rows_shown].index(selected.pid)


def assert_at_top_with_cursor_on(table: ProcessTable, pid: int) -> None:
    """Scrolled to the top, first line the new top row, the cursor on `pid` and on screen."""
    assert table.scroll_offset.y == 0
    first = table.render_line(1).text.split()
    assert first[0] == str(table.rows_shown[0].pid)
    selected = table.selected_row
    assert selected is not None and selected.pid == pid
    index = cursor_index(table)
    assert 0 <= index < page(table)
    line = table.render_line(index + 1).text.split()
    assert line[0] == str(pid)


async def scrolled_down(pilot: Any) -> ProcessTable:
    """The table sorted by CPU (biggest first), two pages down."""
    await pilot.pause()
    table = pilot.app.query_one(ProcessTable)
    assert table.sort_key == "cpu" and table.reverse
    await pilot.press("pagedown", "pagedown")
    await pilot.pause()
    assert table.scroll_offset.y > 0
    assert cursor_index(table) == 2 * page(table)
    return table


async def near_the_bottom(pilot: Any) -> ProcessTable:
    """The table sorted by CPU, the cursor on the third row from the bottom (CPU 2 %)."""
    await pilot.pause()
    table = pilot.app.query_one(ProcessTable)
    await pilot.press("end", "up", "up")
    await pilot.pause()
    selected = table.selected_row
    assert selected is not None and selected.cpu_percent == 2.0
    assert table.scroll_offset.y > 0
    return table


async def pick_sort(pilot: Any, key: str) -> None:
    """F6, then choose `key` in the sort picker."""
    await pilot.press("f6")
    await pilot.pause()
    assert isinstance(pilot.app.screen, SortPicker)
    await pilot.press("home", *["down"] * SORT_KEYS.index(key), "enter")
    await pilot.pause()


async def click_header(pilot: Any, table: ProcessTable, label: str) -> None:
    header = table.render_line(0).text
    await pilot.click(ProcessTable, offset=(header.index(label) + 1, 0))
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
@run
async def test_f6_sort_goes_to_the_top_and_the_first_row(tmp_path: Path, size: Any) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        table = await scrolled_down(pilot)
        await pick_sort(pilot, "rss")
        assert (table.sort_key, table.reverse) == ("rss", True)
        # The selected process is now far below the first screenful: the first row instead.
        assert_at_top_with_cursor_on(table, table.rows_shown[0].pid)


@pytest.mark.parametrize("size", SIZES)
@run
async def test_f6_sort_keeps_a_selection_that_is_on_the_new_top(tmp_path: Path, size: Any) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        table = await near_the_bottom(pilot)
        pid = table.selected_row.pid  # type: ignore[union-attr]  # checked in near_the_bottom
        await pick_sort(pilot, "rss")
        assert cursor_index(table) == 2
        assert_at_top_with_cursor_on(table, pid)


@pytest.mark.parametrize("size", SIZES)
@run
async def test_invert_goes_to_the_top_and_the_first_row(tmp_path: Path, size: Any) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        table = await scrolled_down(pilot)
        await pilot.press("I")
        await pilot.pause()
        assert (table.sort_key, table.reverse) == ("cpu", False)
        assert table.rows_shown[0].cpu_percent == 0.0
        assert_at_top_with_cursor_on(table, table.rows_shown[0].pid)


@pytest.mark.parametrize("size", SIZES)
@run
async def test_invert_keeps_a_selection_that_is_on_the_new_top(tmp_path: Path, size: Any) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        table = await near_the_bottom(pilot)
        pid = table.selected_row.pid  # type: ignore[union-attr]  # checked in near_the_bottom
        await pilot.press("I")
        await pilot.pause()
        assert cursor_index(table) == 2
        assert_at_top_with_cursor_on(table, pid)


@pytest.mark.parametrize("size", SIZES)
@run
async def test_header_click_goes_to_the_top_and_the_first_row(tmp_path: Path, size: Any) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        table = await scrolled_down(pilot)
        await click_header(pilot, table, "MEM%")
        assert (table.sort_key, table.reverse) == ("mem", True)
        assert_at_top_with_cursor_on(table, table.rows_shown[0].pid)


@pytest.mark.parametrize("size", SIZES)
@run
async def test_header_click_keeps_a_selection_that_is_on_the_new_top(
    tmp_path: Path, size: Any
) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        table = await near_the_bottom(pilot)
        pid = table.selected_row.pid  # type: ignore[union-attr]  # checked in near_the_bottom
        await click_header(pilot, table, "MEM%")
        assert cursor_index(table) == 2
        assert_at_top_with_cursor_on(table, pid)


@pytest.mark.parametrize("size", SIZES)
@run
async def test_home_from_a_scrolled_position_shows_the_first_row(tmp_path: Path, size: Any) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        table = await scrolled_down(pilot)
        await pilot.press("home")
        await pilot.pause()
        assert_at_top_with_cursor_on(table, table.rows_shown[0].pid)
        # Scrolled away from the cursor (the mouse wheel moves the view, not the cursor),
        # Home still goes back to the first row.
        table.scroll_to(y=3 * page(table), animate=False, force=True)
        await pilot.pause()
        assert table.scroll_offset.y > 0 and cursor_index(table) == 0
        await pilot.press("home")
        await pilot.pause()
        assert_at_top_with_cursor_on(table, table.rows_shown[0].pid)
