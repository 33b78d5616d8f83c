"""Redrawing only what changed must never leave stale text: after many live refreshes, the
dashboard shows exactly what a fresh app shows for the same store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from perftop.actions.audit import AuditLog
from perftop.actions.gate import Gate
from perftop.collectors.system import default_collectors
from perftop.config import Settings
from perftop.store import Store
from perftop.themes import load
from perftop.tui.app import PerftopApp

from .support import run


def make(store: Store, tmp_path: Path) -> PerftopApp:
    audit = AuditLog(tmp_path / "audit.jsonl")
    app = PerftopApp(Settings(audit_file=audit.path), store, Gate(audit, read_only=True))
    app.register_theme(load("perftop-dark"))
    app.theme = "perftop-dark"
    return app


def text_cells(app: PerftopApp) -> list[str]:
    """The screen's characters, row by row."""
    return ["".join(s.text for s in strip) for strip in app.screen._compositor.render_strips()]


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
@run
async def test_a_long_running_dashboard_equals_a_fresh_one(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    collectors = default_collectors(1.0)
    store = Store()
    live = make(store, tmp_path)
    async with live.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        for tick in range(8):
            for collector in collectors:
                sample: Any = collector.collect()
                store.put(collector.source, sample, collector.series(sample))
            await pilot.pause(0.15)
            if tick == 4:
                await pilot.press("down", "down", "down")
        await pilot.pause(0.3)
        seen = text_cells(live)
        table = live.dashboard.table
        fresh = make(store, tmp_path)
        async with fresh.run_test(size=size) as other:
            await other.pause(0.3)
            # The same view: the cursor on the process the live table followed since tick 4
            # (it may have moved in the order since), the same scroll position.
            other_table = fresh.dashboard.table
            other_table._move_cursor(table.rows_shown.index(table.selected_row))
            other_table.scroll_to(y=table.scroll_offset.y, animate=False, immediate=True)
            await other.pause(0.3)
            assert other_table.selected_row == table.selected_row
            assert other_table.scroll_offset == table.scroll_offset
            expected = text_cells(fresh)
    assert seen == expected
