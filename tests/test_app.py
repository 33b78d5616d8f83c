"""The whole app with a store of fixed samples: keys, the approval flow, layouts, pixels.

The approval tests send real signals to a real child process that counts them, so "yes
runs exactly once" and "no runs nothing" are checked where they matter: in the target.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from textual.binding import Binding

from perftop.actions.audit import AuditLog
from perftop.actions.gate import Gate
from perftop.actions.process import SendSignal, read_start_time
from perftop.collectors.processes import ProcessCollector
from perftop.collectors.samples import ProcessRow, ProcessSample, history_name
from perftop.config import Settings
from perftop.store import Store
from perftop.themes import load
from perftop.tui.app import PerftopApp, _target
from perftop.tui.approve import ApprovalScreen
from perftop.tui.dashboard import Dashboard, TooSmall
from perftop.tui.detail import ProcessDetailScreen
from perftop.tui.help import HelpScreen
from perftop.tui.pickers import SignalPicker, SortPicker
from perftop.tui.process_table import ProcessTable

from .support import filled_store, fixed_rows, process_sample, row, run, settled_count

CLK_TCK = os.sysconf("SC_CLK_TCK")


def counter_row(proc: subprocess.Popen[bytes]) -> ProcessRow:
    """The counter as the table would show it, with its real identity (pid, start time)."""
    base = row(proc.pid, os.getpid(), "tester", "python -c counter", cpu=99.0)
    return dataclasses.replace(base, start_time=read_start_time(proc.pid) / CLK_TCK)


def make_app(
    tmp_path: Path, store: Store | None = None, **settings: Any
) -> tuple[PerftopApp, AuditLog]:
    audit = AuditLog(tmp_path / "audit.jsonl")
    config = Settings(audit_file=audit.path, **settings)
    gate = Gate(audit, read_only=config.read_only)
    app = PerftopApp(config, store if store is not None else filled_store(), gate)
    app.register_theme(load("perftop-dark"))
    app.theme = "perftop-dark"
    return app, audit


def with_rows(*rows: ProcessRow) -> Store:
    store = filled_store()
    store.put("processes", process_sample(rows))
    return store


async def settle(pilot: Any, seconds: float = 0.3) -> None:
    await pilot.pause(seconds)


# the approval flow -------------------------------------------------------------------------


@run
async def test_no_runs_nothing_and_is_audited(tmp_path: Path, counter: Any) -> None:
    proc, path = counter
    app, audit = make_app(tmp_path, with_rows(counter_row(proc)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the first redraw comes after the first refresh
        await pilot.press("k")
        assert isinstance(app.screen, SignalPicker)
        await pilot.press("1", "0")  # USR1 is signal 10 in the picker
        await settle(pilot)
        assert isinstance(app.screen, ApprovalScreen)
        await pilot.press("n")
        await settle(pilot)
        assert not isinstance(app.screen, ApprovalScreen)
    assert settled_count(path) == 0
    assert proc.poll() is None
    records = audit.read()
    assert [(r["action"], r["decision"]) for r in records] == [("signal", "declined")]


@run
async def test_enter_and_escape_decline(tmp_path: Path, counter: Any) -> None:
    proc, path = counter
    app, audit = make_app(tmp_path, with_rows(counter_row(proc)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the first redraw comes after the first refresh
        for key in ("enter", "escape"):
            await pilot.press("k", "1", "0")
            await settle(pilot)
            assert isinstance(app.screen, ApprovalScreen)
            await pilot.press(key)
            await settle(pilot)
    assert settled_count(path) == 0
    assert [r["decision"] for r in audit.read()] == ["declined", "declined"]


@run
async def test_yes_runs_exactly_once(tmp_path: Path, counter: Any) -> None:
    proc, path = counter
    app, audit = make_app(tmp_path, with_rows(counter_row(proc)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the first redraw comes after the first refresh
        await pilot.press("k", "1", "0")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ApprovalScreen)
        await pilot.press("y", "y")  # a second press must not approve twice
        await settle(pilot, 0.5)
    assert settled_count(path) == 1
    records = audit.read()
    assert len(records) == 1
    record = records[0]
    assert record["decision"] == "approved"
    assert record["details"] == {"pid": proc.pid, "signal": "SIGUSR1", "process_user": "tester"}
    assert record["outcome"] == f"sent SIGUSR1 to {proc.pid}"
    assert record["error"] is None
    assert isinstance(record["duration_s"], float)


@run
async def test_renice_asks_and_yes_changes_the_real_nice(tmp_path: Path, counter: Any) -> None:
    proc, _ = counter
    app, audit = make_app(tmp_path, with_rows(counter_row(proc)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the first redraw comes after the first refresh
        await pilot.press("f8")
        await settle(pilot)
        assert isinstance(app.screen, ApprovalScreen)
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == 0
        await pilot.press("y")
        await settle(pilot, 0.5)
    assert os.getpriority(os.PRIO_PROCESS, proc.pid) == 1
    assert [(r["action"], r["decision"]) for r in audit.read()] == [("renice", "approved")]


@run
async def test_read_only_never_prompts_and_never_runs(tmp_path: Path, counter: Any) -> None:
    proc, path = counter
    app, audit = make_app(tmp_path, with_rows(counter_row(proc)), read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the first redraw comes after the first refresh
        for key in ("k", "f9", "f7", "f8", "left_square_bracket"):
            await pilot.press(key)
            await settle(pilot, 0.1)
            assert not isinstance(app.screen, (SignalPicker, ApprovalScreen)), key
        active = {b.binding.id for b in app.active_bindings.values()}
        assert "filter" in active
        assert not active & {"signal", "nice-down", "nice-up"}
        # The actions themselves refuse when called directly.
        app.action_signal()
        app.action_nice(1)
        await settle(pilot, 0.1)
        assert not isinstance(app.screen, (SignalPicker, ApprovalScreen))
        assert audit.read() == []
        # And a request that reaches the gate anyway is refused there, never asked.
        app._request(SendSignal(_target(counter_row(proc)), "USR1"))
        await settle(pilot, 0.3)
        assert not isinstance(app.screen, ApprovalScreen)
    assert settled_count(path) == 0
    assert os.getpriority(os.PRIO_PROCESS, proc.pid) == 0
    assert [r["decision"] for r in audit.read()] == ["refused-read-only"]


# keys ------------------------------------------------------------------------------------


@run
async def test_filter_sort_tree_and_help(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the first redraw comes after the first refresh
        table = app.query_one(ProcessTable)
        assert table.sort_key == "cpu"
        await pilot.press("slash", *"postgres")
        await settle(pilot, 0.1)
        assert table.filter_text == "postgres"
        assert table.rows_shown and all(
            "postgres" in r.cmdline or r.user == "postgres" for r in table.rows_shown
        )
        await pilot.press("escape")
        await settle(pilot, 0.1)
        assert table.filter_text == ""
        await pilot.press("f6")
        await settle(pilot, 0.1)
        assert isinstance(app.screen, SortPicker)
        await pilot.press("home", "enter")  # the first entry: pid
        await settle(pilot, 0.1)
        assert table.sort_key == "pid"
        assert [r.pid for r in table.rows_shown][:3] == [1, 2, 3]
        await pilot.press("t")
        assert table.tree
        await pilot.press("f1")
        await settle(pilot, 0.1)
        assert isinstance(app.screen, HelpScreen)
        listed = {desc for _, rows in app.screen.sections for _, desc in rows}
        every = [b.description for b in PerftopApp.BINDINGS if isinstance(b, Binding)]
        every += [b.description for b in Dashboard.BINDINGS if isinstance(b, Binding)]
        every += [b.description for b in ProcessTable.BINDINGS if isinstance(b, Binding)]
        assert len(every) > 12
        assert set(every) <= listed


@run
async def test_enter_opens_the_detail_of_the_selected_process(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the first redraw comes after the first refresh
        table = app.query_one(ProcessTable)
        selected = table.selected_row
        assert selected is not None
        await pilot.press("enter")
        await settle(pilot, 0.2)
        assert isinstance(app.screen, ProcessDetailScreen)
        assert app.screen.row.pid == selected.pid
        # Dashboard keys do nothing here; help and the process keys work.
        await pilot.press("slash", "t", "f6")
        await settle(pilot, 0.1)
        assert isinstance(app.screen, ProcessDetailScreen)
        await pilot.press("f1")
        await settle(pilot, 0.1)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("k")
        await settle(pilot, 0.1)
        assert isinstance(app.screen, SignalPicker)
        await pilot.press("escape")
        await settle(pilot, 0.1)
        await pilot.press("escape")
        await settle(pilot, 0.2)
        assert isinstance(app.screen, Dashboard)
        assert not app.dashboard.table.tree


@run
async def test_selection_stays_on_the_process_across_refreshes(tmp_path: Path) -> None:
    store = filled_store()
    app, _ = make_app(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the first redraw comes after the first refresh
        table = app.query_one(ProcessTable)
        await pilot.press("down", "down")
        chosen = table.selected_row
        assert chosen is not None
        sample = store.latest("processes", ProcessSample)
        assert sample is not None
        # The chosen process goes quiet and drops down the CPU order.
        rows = tuple(
            dataclasses.replace(r, cpu_percent=0.0) if r.pid == chosen.pid else r
            for r in sample.rows
        )
        store.put("processes", dataclasses.replace(sample, rows=rows))
        await settle(pilot, 0.2)
        assert table.selected_row is not None and table.selected_row.pid == chosen.pid
        assert table.rows_shown.index(table.selected_row) > 2


@run
async def test_a_too_small_terminal_gets_a_message(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(50, 12)) as pilot:
        await pilot.pause()  # the first redraw comes after the first refresh
        await settle(pilot, 0.1)
        message = app.query_one(TooSmall)
        assert message.display
        assert "50×12" in str(message.render())
        assert not app.query_one(ProcessTable).display
        await pilot.resize_terminal(100, 30)
        await settle(pilot, 0.2)
        assert not message.display
        assert app.query_one(ProcessTable).display


# pixels ----------------------------------------------------------------------------------


def _snapshot_app(tmp_path: Path) -> PerftopApp:
    app, _ = make_app(tmp_path)
    return app


def test_snapshot_dashboard_80x24(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(_snapshot_app(tmp_path), terminal_size=(80, 24))


def test_snapshot_dashboard_140x45(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(_snapshot_app(tmp_path), terminal_size=(140, 45))


def _system_view_app(tmp_path: Path) -> PerftopApp:
    """The fixed machine plus a CPU burner and perftop, both run by the same pyenv Python."""
    python = "/root/.pyenv/versions/3.11.7/bin/python3"
    rows = (
        *fixed_rows(),
        row(3000, 1011, "root", f"{python} burner.py --seconds 600", cpu=99.5, mem=0.1,
            rss=12 * 1024 * 1024, state="R", time=610.0),
        row(3001, 1011, "root", f"{python} -m perftop --pid 3000", cpu=4.5, mem=0.4,
            rss=60 * 1024 * 1024, time=21.0),
    )  # fmt: skip
    return make_app(tmp_path, with_rows(*rows))[0]


def test_snapshot_system_view_80x24(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(_system_view_app(tmp_path), terminal_size=(80, 24))


def test_snapshot_system_view_160x45(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(_system_view_app(tmp_path), terminal_size=(160, 45))


def test_snapshot_kill_prompt_80x24(snap_compare: Any, tmp_path: Path) -> None:
    async def ask(pilot: Any) -> None:
        await pilot.press("k")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(_snapshot_app(tmp_path), terminal_size=(80, 24), run_before=ask)


def test_unused_signal_module_guard() -> None:
    # The picker numbers SIGUSR1 by its own number: the tests above press "1", "0" for it.
    from perftop.actions.process import SIGNALS

    assert "USR1" in SIGNALS and signal.SIGUSR1 == 10
    assert signal.SIGUSR1 > 0


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
@run
async def test_the_filter_line_is_labelled_while_it_holds_text(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"postgres", "enter")
        await settle(pilot, 0.1)
        assert app.query_one(ProcessTable).filter_text == "postgres"
        lines = [s.text for s in app.screen._compositor.render_strips()]  # noqa: SLF001
        assert any("Filter: postgres" in line for line in lines), "\n".join(lines)
        await pilot.press("slash", "escape")
        await settle(pilot, 0.1)
        lines = [s.text for s in app.screen._compositor.render_strips()]  # noqa: SLF001
        assert not any("Filter:" in line for line in lines)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
@run
async def test_the_help_lists_perftops_keys_and_not_textuals(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        await settle(pilot, 0.1)
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(s.text for s in app.screen._compositor.render_strips())  # noqa: SLF001
        assert "Help quit" not in text and "Copy selected text" not in text
        assert "Quit" in text


def burner_ticks(burner: subprocess.Popen[str], ticks: int) -> tuple[Store, ProcessRow]:
    """A store fed by the real process collector for `ticks` ticks, its table cut to the
    burner's row."""
    collector = ProcessCollector(interval=0.2)
    store = filled_store()
    try:
        for _ in range(ticks):
            time.sleep(0.2)  # the collector's interval
            sample = collector.collect()
            mine = tuple(r for r in sample.rows if r.pid == burner.pid)
            store.put("processes", dataclasses.replace(sample, rows=mine), collector.series(sample))
    finally:
        collector.close()
    return store, mine[0]


@run
async def test_the_detail_opens_with_the_history_the_table_kept(
    tmp_path: Path, burner: subprocess.Popen[str]
) -> None:
    """A steady burner: the detail's chart has its past seconds from the first frame, every
    point within what its threads can run, and the figure is the table's."""
    store, burning = burner_ticks(burner, 6)
    kept = store.history(history_name(burning) + ".cpu")
    assert len(kept) >= 5  # kept from its first tick in the top
    app, _ = make_app(tmp_path, store)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot, 0.2)
        screen = app.screen
        assert isinstance(screen, ProcessDetailScreen) and screen.row.pid == burner.pid
        assert screen.cpu_history == kept
        assert all(0 <= p <= 100.0 * burning.threads for p in screen.cpu_history)
        label = str(screen.query_one("#detail-cpu-label").render())
        assert label.startswith(f"CPU {kept[-1]:.1f}%") and f"max {max(kept):.1f}%" in label


def footer_line(app: PerftopApp) -> str:
    return app.screen._compositor.render_strips()[-1].text  # noqa: SLF001 - what is on screen


@pytest.mark.parametrize("width", [60, 64, 72, 80, 90, 100, 120, 140, 160, 200])
@run
async def test_the_footer_keeps_quit_and_help_at_every_width(tmp_path: Path, width: int) -> None:
    app, _ = make_app(tmp_path)
    async with app.run_test(size=(width, 24)) as pilot:
        await pilot.pause()
        line = footer_line(app)
        assert "q Quit" in line, line
        assert "f1 Help" in line, line
        # Keys that are left out go whole: no description is cut short.
        shown = [word for word in ("Filter", "Sort", "Tree", "Kill", "Attach", "Stacks")
                 if word in line]  # fmt: skip
        assert shown == [w for w in ("Filter", "Sort", "Tree", "Kill", "Attach", "Stacks")
                         if w in shown]  # fmt: skip
        for fragment in ("PostgreS ", "Attac ", "Stack ", "Nice ", "palett "):
            assert fragment not in line + " ", line
        if width >= 140:
            assert "f7 Nice-" in line and "^p palette" in line, line
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.pause()
        assert "q Quit" in footer_line(app)


@run
async def test_read_only_help_lists_no_intrusive_key(tmp_path: Path) -> None:
    """Built read-only: the help, like the footer, has no key to signal, renice, attach,
    cancel, terminate, reset or EXPLAIN ANALYZE; built normally, it has them all."""
    from perftop.tui.help import HelpScreen as Help

    for read_only in (True, False):
        app, _ = make_app(tmp_path, read_only=read_only)
        async with app.run_test(size=(120, 60)) as pilot:
            await pilot.pause()
            await pilot.press("f1")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, Help)
            listed = {description for _, rows in screen.sections for _, description in rows}
            intrusive = {"Kill", "Attach", "Cancel query", "Terminate"}
            if read_only:
                assert not listed & intrusive, listed & intrusive
                assert "Quit" in listed  # the rest of the keys are there
            else:
                assert intrusive <= listed, intrusive - listed
