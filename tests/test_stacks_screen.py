"""The Stacks pane fed from a hand-filled store: views, spans, filters, drill, icicle, keys,
messages to the app, faults, pixels.

The windows are built by hand: one window a second for 400 s, each with a main thread
spending 60 samples in main → burn_cpu, 30 in main → helper and 10 in main itself (own),
a sleeping thread idle for 100 samples, and a worker thread whose leaf is a hostile name
(markup and an escape) in a file whose name is hostile too. Newer windows carry more of the
hostile frame, so the span keys change the counts in a way the tests can compute.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from rich.text import Text
from textual.app import App
from textual.widgets import Input, OptionList, RadioButton, Static

from perftop.collectors.stacks.model import Frame, Stack, StackSample, StackTarget, StackWindow
from perftop.collectors.stacks.profile import FunctionStat
from perftop.store import SourceStatus, Store
from perftop.tui.export_dialog import ExportDialog
from perftop.tui.icicle import Icicle
from perftop.tui.stack_views import CallTree, DumpScreen, FunctionTable, ThreadPicker
from perftop.tui.stacks import ENDED, StacksScreen

from .support import run

HOSTILE = "[red]x[/red]\x1b[31m"
HOSTILE_SHOWN = "[red]x[/red]^[[31m"

MODULE = Frame("<module>", "app.py", 40)
MAIN = Frame("main", "app.py", 30)
BURN = Frame("burn_cpu", "app.py", 12)
HELPER = Frame("helper", "lib/helpers.py", 7)
BOOT = Frame("_bootstrap", "/usr/lib/python3.11/threading.py", 995)
SLEEPER = Frame("sleeper", "app.py", 20)
SLEEP = Frame("sleep", "<built-in>", 0)
WORK = Frame("work", "worker.py", 3)
EVIL = Frame(HOSTILE, f"/tmp/{HOSTILE}.py", 1)

MAIN_STACKS = (
    (Stack("MainThread", 100, (MODULE, MAIN, BURN)), 60),
    (Stack("MainThread", 100, (MODULE, MAIN, HELPER)), 30),
    (Stack("MainThread", 100, (MODULE, MAIN)), 10),
    (Stack("sleepy", 101, (BOOT, SLEEPER, SLEEP), idle=True), 100),
)
WINDOWS_KEPT = 400
NOW = 1_700_000_000.0


def evil_count(i: int) -> int:
    """Samples of the hostile frame in window `i`: 1 in old windows, 3 in the last 60."""
    return 3 if i >= WINDOWS_KEPT - 60 else 1


def window(i: int) -> StackWindow:
    evil = (Stack("worker-[b]1[/b]", 102, (BOOT, WORK, EVIL)), evil_count(i))
    stacks = (*MAIN_STACKS, evil)
    return StackWindow(
        started=NOW - WINDOWS_KEPT + i,
        duration=0.98,
        requested_rate=100.0,
        stacks=stacks,
        ticks=97,  # 97 / 0.98 s = 98.98 Hz
    )


WINDOWS = tuple(window(i) for i in range(WINDOWS_KEPT))
TARGET = StackTarget(4242, "python3 app.py --password=hunter2", "py-spy", "3.11.7")


def sample(**changes: Any) -> StackSample:
    fields: dict[str, Any] = {
        "time": 500.0,
        "target": TARGET,
        "windows": WINDOWS,
        "coverage": 0.98,
        "threads": ("MainThread", "sleepy", "worker-[b]1[/b]"),
    }
    fields.update(changes)
    return StackSample(**fields)


def filled(**changes: Any) -> Store:
    store = Store()
    store.put("stacks", sample(**changes))
    return store


def samples_in(last: int, *, idle: bool = True, thread: str | None = None) -> int:
    """What the last `last` windows hold, computed from the construction above."""
    total = 0
    for i in range(WINDOWS_KEPT - last, WINDOWS_KEPT):
        for stack, count in window(i).stacks:
            if (idle or not stack.idle) and thread in (None, stack.thread):
                total += count
    return total


class Host(App[None]):
    """A bare app showing the Stacks screen fed once from `store`; records its messages."""

    def __init__(self, store: Store | None = None, **options: Any) -> None:
        super().__init__()
        self.store = store
        self.options = options
        self.messages: list[Any] = []

    def on_mount(self) -> None:
        screen = StacksScreen(**self.options)
        self.push_screen(screen)
        if self.store is not None:
            screen.show(self.store)

    def on_stacks_screen_options_changed(self, message: StacksScreen.OptionsChanged) -> None:
        self.messages.append(message)

    def on_stacks_screen_dump_requested(self, message: StacksScreen.DumpRequested) -> None:
        self.messages.append(message)

    def on_stacks_screen_export_requested(self, message: StacksScreen.ExportRequested) -> None:
        self.messages.append(message)

    def on_stacks_screen_detach_requested(self, message: StacksScreen.DetachRequested) -> None:
        self.messages.append(message)


def stacks_screen(app: App[Any]) -> StacksScreen:
    screen = app.screen
    assert isinstance(screen, StacksScreen)
    return screen


def screen_text(app: App[Any]) -> str:
    strips = app.screen._compositor.render_strips()  # noqa: SLF001 - what is on screen
    return "\n".join(strip.text for strip in strips)


def names(rows: list[FunctionStat]) -> list[str]:
    return [row.name for row in rows]


def table_lines(table: FunctionTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


# the top table, spans, threads ------------------------------------------------------------------


@run
async def test_top_functions_by_own_then_by_total() -> None:
    app = Host(filled())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = stacks_screen(app)
        table = screen.query_one(FunctionTable)
        assert table.display and table.has_focus
        rows = table.rows_shown
        # Idle threads are off by default: the sleeper's 100 samples a window are left out.
        assert names(rows)[:3] == ["burn_cpu", "helper", "main"]
        burn = rows[0]
        assert burn.own == 60 * 10 and burn.total == 60 * 10
        total = samples_in(10, idle=False)
        assert abs(burn.own_percent - 100 * 600 / total) < 1e-9
        assert "burn_cpu" in table_lines(table)[1] and "app.py" in table_lines(table)[1]
        await pilot.press("s")
        rows = table.rows_shown
        assert screen.sort_by == "total" and table.by == "total"
        # <module> and main are on every main-thread stack (100 samples a window each);
        # the tie goes to main, which also runs on its own 10 a window.
        assert names(rows)[:2] == ["main", "<module>"]
        assert rows[0].total == rows[1].total == 100 * 10
        assert "TOTAL%" in table_lines(table)[0]
        await pilot.press("s")
        assert names(table.rows_shown)[0] == "burn_cpu"


@run
async def test_span_keys_choose_the_windows() -> None:
    app = Host(filled())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = stacks_screen(app)
        assert screen.profile is not None
        assert (screen.profile.windows, screen.profile.samples) == (10, samples_in(10, idle=False))
        await pilot.press("2")
        assert screen.span == 60.0
        assert (screen.profile.windows, screen.profile.samples) == (60, samples_in(60, idle=False))
        await pilot.press("3")
        assert screen.profile.windows == 300
        assert screen.profile.samples == samples_in(300, idle=False)
        evil = next(r for r in screen.query_one(FunctionTable).rows_shown if r.name == HOSTILE)
        assert evil.own == 60 * 3 + 240 * 1  # the last 60 windows hold 3 each, older ones 1
        await pilot.press("1")
        assert screen.profile.samples == samples_in(10, idle=False)
        header = str(screen.query_one("#stacks-header", Static).render())
        assert "span 10 s" in header


@run
async def test_header_rate_coverage_target_and_no_secret() -> None:
    app = Host(filled())
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "PID 4242 python3 app.py --password=****" in text and "hunter2" not in text
        assert "py-spy nonblocking" in text
        assert "99.0 Hz of 100 Hz" in text  # 970 ticks in 9.8 sampled seconds
        # 10 windows of 0.98 s spread over 9.98 s of wall time.
        assert "coverage 98.2%" in text
        assert "thread all" in text and "options: none" in text


@run
async def test_thread_filter_narrows_and_idle_toggle_shows_the_sleeper() -> None:
    app = Host(filled())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = stacks_screen(app)
        table = screen.query_one(FunctionTable)
        await pilot.press("h")
        picker = app.screen
        assert isinstance(picker, ThreadPicker)
        options = picker.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels[0] == "all threads"
        assert labels[2].startswith("sleepy") and labels[2].endswith("idle")
        assert labels[3].startswith("worker-[b]1[/b]")  # literal, not bold "1"
        await pilot.press("down", "down", "down", "enter")
        assert app.screen is screen and screen.thread == "worker-[b]1[/b]"
        assert screen.profile is not None
        assert screen.profile.samples == samples_in(10, thread="worker-[b]1[/b]")
        assert set(names(table.rows_shown)) == {"_bootstrap", "work", HOSTILE}
        assert "thread worker-[b]1[/b]" in screen_text(app)
        # Back to every thread; idle is off, so the sleeping thread is not counted...
        screen.set_thread(None)
        assert "sleep" not in names(table.rows_shown)
        # ...until `i` shows idle samples: the sleeper's 100 samples a window appear. They
        # were always sampled, so nothing is asked of the sampler.
        await pilot.press("i")
        assert screen.idle and screen.profile.samples == samples_in(10)
        assert names(table.rows_shown)[0] == "sleep"
        assert not any(isinstance(m, StacksScreen.OptionsChanged) for m in app.messages)


@run
async def test_idle_is_hidden_at_first_said_in_the_header_and_i_in_the_footer_toggles() -> None:
    """Item 8: idle samples hidden without a word looked like sampling failing."""
    app = Host(filled())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = stacks_screen(app)
        # 100 of the 203 samples a window are the sleeper's: 49%.
        assert 100 * 10 * 100 / samples_in(10) == pytest.approx(49.26, abs=0.01)
        assert not screen.idle and screen.profile is not None
        assert screen.profile.samples == samples_in(10, idle=False)
        text = screen_text(app)
        assert "idle: 49% hidden (i shows)" in text
        assert "99.0 Hz of 100 Hz" in text  # the idle instants are in the rate
        footer = text.splitlines()[-1]
        assert " i " in f" {footer} " and "Idle" in footer, footer
        await pilot.press("i")
        assert screen.idle and screen.profile.samples == samples_in(10)
        assert "idle: 49% shown (i hides)" in screen_text(app)
        await pilot.press("i")
        assert not screen.idle and screen.profile.samples == samples_in(10, idle=False)
        assert "idle: 49% hidden (i shows)" in screen_text(app)


@run
async def test_filter_by_name() -> None:
    app = Host(filled())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        table = stacks_screen(app).query_one(FunctionTable)
        await pilot.press("slash", "h", "e", "l")
        assert names(table.rows_shown) == ["helper"]
        await pilot.press("enter")
        assert table.has_focus and names(table.rows_shown) == ["helper"]
        await pilot.press("slash", "escape")
        assert len(table.rows_shown) > 1
        assert not app.screen.query_one("#stacks-filter-bar").display


# the call tree and drilling ---------------------------------------------------------------------


@run
async def test_tree_labels_literal_hottest_path_expanded_drill_in_and_out() -> None:
    app = Host(filled())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = stacks_screen(app)
        await pilot.press("v")
        tree = screen.query_one(CallTree)
        assert screen.view == "tree" and tree.display and tree.has_focus
        await pilot.pause()
        # The hottest path: <module> (100 a window) over the worker's _bootstrap (1 or 3).
        module = tree.root.children[0]
        assert module.data == (("<module>", "app.py"),) and module.is_expanded
        main = module.children[0]
        assert main.is_expanded and main.children[0].data is not None
        burn = main.children[0]
        assert burn.data == (("<module>", "app.py"), ("main", "app.py"), ("burn_cpu", "app.py"))
        label = burn.label
        assert isinstance(label, Text) and "burn_cpu" in label.plain
        share = f"{100 * 600 / samples_in(10, idle=False):5.1f}%"
        assert label.plain.startswith(f"{share} {share}")
        assert not tree.root.children[1].is_expanded  # the worker is not the hottest path
        # The hostile frame: shown as typed, its escape neutralised.
        screen.set_thread("worker-[b]1[/b]")
        await pilot.pause()
        plain = screen_text(app)
        assert HOSTILE_SHOWN in plain and "\x1b" not in plain
        screen.set_thread(None)
        await pilot.pause()
        # Drill into main: every view shows what is under it.
        tree.move_cursor(tree.root.children[0].children[0])
        await pilot.press("enter")
        assert screen.path == (("<module>", "app.py"), ("main", "app.py"))
        assert tree.root.data == screen.path
        assert tree.root.label.plain.startswith("100.0%  10.0%")
        share = 100 * 1000 / samples_in(10, idle=False)
        assert f"in <module> › main ({share:.1f}%)" in screen_text(app)
        await pilot.press("v")  # the icicle follows the drill: main spans the width
        icicle = screen.query_one(Icicle)
        top = icicle.rows[0]
        assert [c.node.path for c in top] == [screen.path]
        await pilot.press("v")  # so does the top table: only what main calls
        rows = screen.query_one(FunctionTable).rows_shown
        assert names(rows) == ["burn_cpu", "helper", "main"]
        assert rows[2].total_percent == 100.0
        await pilot.press("backspace")
        assert screen.path == (("<module>", "app.py"),)
        await pilot.press("escape")
        assert screen.path == ()
        assert "work" in names(screen.query_one(FunctionTable).rows_shown)


# the icicle -------------------------------------------------------------------------------------


@run
async def test_icicle_zoom_in_and_out() -> None:
    app = Host(filled(), view="icicle")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = stacks_screen(app)
        icicle = screen.query_one(Icicle)
        assert icicle.has_focus
        width = icicle.scrollable_content_region.width
        rows = icicle.rows
        assert [(c.start, c.width) for c in rows[0]] == [(0, width)]  # "all" spans the width
        assert rows[0][0].node.frame is None
        before = [[(c.start, c.width, c.node.path) for c in row] for row in rows]
        # <module> has 100 samples of 103 a window (idle off), the worker's bootstrap 3.
        module = rows[1][0]
        assert module.node.frame == MODULE and module.width == width * 1000 // 1030
        # Down to <module>, down to main, down to burn_cpu, Enter: burn_cpu spans the width.
        await pilot.press("down", "down", "down")
        assert icicle.selected_node is not None and icicle.selected_node.frame == BURN
        assert "burn_cpu (app.py:12)" in str(screen.query_one("#icicle-info", Static).render())
        await pilot.press("enter")
        burn_path = (("<module>", "app.py"), ("main", "app.py"), ("burn_cpu", "app.py"))
        assert screen.path == burn_path
        assert [(c.start, c.width, c.node.path) for c in icicle.rows[0]] == [(0, width, burn_path)]
        assert len(icicle.rows) == 1
        await pilot.press("escape")
        assert screen.path == burn_path[:2]
        await pilot.press("backspace", "backspace")
        assert screen.path == ()
        assert [[(c.start, c.width, c.node.path) for c in row] for row in icicle.rows] == before
        # Left/right walk a row, up goes to the caller.
        await pilot.press("up")
        assert icicle.selected == burn_path[:2]
        await pilot.press("right")
        assert icicle.selected == (
            ("_bootstrap", "/usr/lib/python3.11/threading.py"),
            ("work", "worker.py"),
        )
        await pilot.press("left")
        assert icicle.selected == burn_path[:2]
        # At the root, Escape leaves the screen.
        await pilot.press("escape")
        assert not isinstance(app.screen, StacksScreen)


@run
async def test_icicle_draws_hostile_names_inert() -> None:
    app = Host(filled(), view="icicle")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = stacks_screen(app)
        screen.set_thread("worker-[b]1[/b]")
        await pilot.pause()
        text = screen_text(app)
        assert HOSTILE_SHOWN[:12] in text and "\x1b" not in text


# messages to the app ----------------------------------------------------------------------------


@run
async def test_option_keys_post_what_the_sampler_should_do() -> None:
    app = Host(filled())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        expected = [
            ("c", dict(idle=False, native=True, gil=False, subprocesses=False, blocking=False)),
            ("g", dict(idle=False, native=True, gil=True, subprocesses=False, blocking=False)),
            ("p", dict(idle=False, native=True, gil=True, subprocesses=True, blocking=False)),
            ("b", dict(idle=False, native=True, gil=True, subprocesses=True, blocking=True)),
            ("c", dict(idle=False, native=False, gil=True, subprocesses=True, blocking=True)),
        ]
        for key, values in expected:
            await pilot.press(key)
            message = app.messages[-1]
            assert isinstance(message, StacksScreen.OptionsChanged)
            got = {name: getattr(message, name) for name in values}
            assert got == values, key
        assert len(app.messages) == len(expected)
        assert "options: GIL only, subprocs, blocking" in screen_text(app)


@run
async def test_pyinstrument_has_no_py_spy_options_and_says_main_thread_only() -> None:
    target = StackTarget(77, "python3 job.py", "pyinstrument")
    notice = "pyinstrument profiles the main thread only"
    app = Host(filled(target=target, notice=notice), mode="pyinstrument")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("c", "g", "p", "b", "n")
        assert app.messages == []
        text = screen_text(app)
        assert notice in text and "pyinstrument" in text and "blocking" not in text
        # No sampler options to speak of; what was hidden is said instead (item 8).
        assert "options:" not in text and "idle: 49% hidden (i shows)" in text


@run
async def test_dump_detach_and_export_messages() -> None:
    app = Host(filled())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = stacks_screen(app)
        await pilot.press("n")
        assert isinstance(app.messages[-1], StacksScreen.DumpRequested)
        screen.show_dump(tuple(stack for stack, _ in window(0).stacks))
        await pilot.pause()
        assert isinstance(app.screen, DumpScreen)
        text = screen_text(app)
        assert "Thread 102 (active): worker-[b]1[/b]" in text
        assert "Thread 101 (idle): sleepy" in text
        assert HOSTILE_SHOWN in text and "\x1b" not in text
        lines = text.splitlines()
        first = next(i for i, line in enumerate(lines) if "Thread 100" in line)
        assert "burn_cpu (app.py:12)" in lines[first + 1]  # innermost call first
        assert "<module> (app.py:40)" in lines[first + 3]
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("d")
        assert isinstance(app.messages[-1], StacksScreen.DetachRequested)
        await pilot.press("e")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        box = dialog.query_one("#export-path", Input)
        assert box.value == "perftop-4242.speedscope.json"
        dialog.query_one("#export-collapsed", RadioButton).value = True
        await pilot.pause()
        assert box.value == "perftop-4242.collapsed.txt"
        box.value = "~/out.txt"
        await pilot.press("enter")
        message = app.messages[-1]
        assert isinstance(message, StacksScreen.ExportRequested)
        assert message.fmt == "collapsed" and message.path.endswith("/out.txt")
        assert not message.path.startswith("~")
        assert message.profile is screen.profile
        count = len(app.messages)
        await pilot.press("e", "escape")
        assert len(app.messages) == count and app.screen is screen


# faults -----------------------------------------------------------------------------------------


@run
async def test_failing_status_is_shown_in_place_of_data() -> None:
    store = Store()
    advice = (
        "permission denied: py-spy needs root or CAP_SYS_PTRACE "
        "([b]kernel.yama.ptrace_scope[/b] is 1)"
    )
    store.set_status("stacks", SourceStatus("failing", advice, retry_in=4.0))
    app = Host(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = stacks_screen(app)
        status = screen.query_one("#stacks-status", Static)
        assert status.display and not screen.query_one(FunctionTable).display
        text = screen_text(app)
        assert "CAP_SYS_PTRACE" in text and "[b]kernel.yama.ptrace_scope[/b]" in text
        assert "retrying in 4 s" in text
        # Data arrives: the message goes, the table comes.
        store.put("stacks", sample())
        screen.show(store)
        await pilot.pause()
        assert not status.display and screen.query_one(FunctionTable).display


@run
async def test_waiting_then_ended_keeps_the_last_data() -> None:
    store = Store()
    app = Host(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = stacks_screen(app)
        assert "waiting for the first samples" in screen_text(app)
        store.put("stacks", sample(ended=True))
        screen.show(store)
        await pilot.pause()
        text = screen_text(app)
        assert ENDED in text and "burn_cpu" in text
        # The sampler fails once the process is gone: the last data stays, with the reason.
        store.set_status("stacks", SourceStatus("failing", "py-spy: no process 4242"))
        screen.show(store)
        await pilot.pause()
        text = screen_text(app)
        assert f"{ENDED} · py-spy: no process 4242" in text and "burn_cpu" in text
        assert not screen.query_one("#stacks-status", Static).display


# pixels -----------------------------------------------------------------------------------------


def test_snapshot_top_80x24(snap_compare: Any) -> None:
    assert snap_compare(Host(filled()), terminal_size=(80, 24))


def test_snapshot_top_140x40(snap_compare: Any) -> None:
    assert snap_compare(Host(filled(), idle=True), terminal_size=(140, 40))


def test_snapshot_icicle_80x24(snap_compare: Any) -> None:
    assert snap_compare(Host(filled(), view="icicle"), terminal_size=(80, 24))


def test_snapshot_icicle_140x40(snap_compare: Any) -> None:
    assert snap_compare(Host(filled(), view="icicle", idle=True), terminal_size=(140, 40))


# live refreshes ---------------------------------------------------------------------------------


@run
async def test_a_refresh_keeps_expansions_cursor_and_drill() -> None:
    store = filled()
    app = Host(store, view="tree")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = stacks_screen(app)
        tree = screen.query_one(CallTree)
        worker_root = tree.root.children[1]
        assert worker_root.data == ((BOOT.name, BOOT.file),) and not worker_root.is_expanded
        tree.move_cursor(worker_root)
        await pilot.press("space")  # the person opens the worker's branch
        assert worker_root.is_expanded
        # The cursor on helper, whose line is rebuilt when main gets a new, hotter callee.
        helper = tree.root.children[0].children[0].children[1]
        assert helper.data is not None and helper.data[-1] == ("helper", HELPER.file)
        tree.move_cursor(helper)
        # A new window arrives in which main also calls a new function: main's callees are
        # rebuilt. The worker's branch stays open, the cursor stays on helper.
        new = window(WINDOWS_KEPT)
        fresh = Stack("MainThread", 100, (MODULE, MAIN, Frame("fresh", "app.py", 50)))
        new = dataclasses.replace(new, stacks=(*new.stacks, (fresh, 400)))
        store.put("stacks", sample(windows=(*WINDOWS[1:], new)))
        screen.show(store)
        await pilot.pause()
        assert screen.profile is not None and screen.profile.windows == 10
        assert "fresh" in screen_text(app)
        shown = tree.root.children[1]
        assert shown.data == worker_root.data and shown.is_expanded
        assert [child.data for child in shown.children] == [
            (*worker_root.data, ("work", WORK.file))
        ]
        assert "work  worker.py:3" in screen_text(app)
        assert tree.cursor_node is not None and tree.cursor_node.data == helper.data
        assert tree.root.children[0].children[0].is_expanded  # and the hottest path too
        # Drilled into burn_cpu, then burn_cpu stops running: the drill backs out to main.
        burn = tree.root.children[0].children[0].children[0]
        tree.move_cursor(burn)
        await pilot.press("enter")
        assert screen.path == burn.data
        idle_main = StackWindow(
            NOW + 1, 0.98, 100.0, ((Stack("MainThread", 100, (MODULE, MAIN, HELPER)), 90),), 97
        )
        store.put("stacks", sample(windows=(idle_main,)))
        screen.show(store)
        await pilot.pause()
        assert screen.path == burn.data[:2]
        assert tree.root.data == screen.path
        assert [child.data for child in tree.root.children] == [
            (*burn.data[:2], ("helper", HELPER.file))
        ]


@pytest.mark.parametrize(("count", "title"), [(1, "Now: 1 thread "), (3, "Now: 3 threads ")])
@run
async def test_the_dump_title_counts_threads_in_english(count: int, title: str) -> None:
    app = Host(filled())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        stacks = tuple(stack for stack, _ in window(0).stacks)
        assert len(stacks) >= 3
        stacks_screen(app).show_dump(stacks[:count])
        await pilot.pause()
        assert isinstance(app.screen, DumpScreen)
        assert title in screen_text(app)
