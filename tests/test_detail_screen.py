"""The process detail screen fed from a hand-filled store: literal text, denials, exit, keys."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from textual.app import App
from textual.screen import Screen
from textual.widgets import DataTable, Sparkline, Static

from perftop.collectors.samples import ProcessDetail, ProcessRow, ThreadRow, history_name
from perftop.store import SourceStatus, Store
from perftop.tui.detail import DENIED, ENDED, ProcessDetailScreen

from .support import run

MiB = 1024 * 1024
HOSTILE = ("[red]x[/red]", "\x1b]0;pwned\x07\x1b[2J")

ROW = ProcessRow(
    pid=4242, ppid=1, user="alice", name="worker", cmdline="python3 worker.py", state="S",
    cpu_percent=12.5, mem_percent=3.0, rss=120 * MiB, read_bytes_per_s=0.0,
    write_bytes_per_s=0.0, threads=3, cpu_time=12.0, nice=0, start_time=1000.0,
)  # fmt: skip

DETAIL = ProcessDetail(
    time=50.0,
    pid=4242,
    name="worker",
    cmdline=("python3", "worker.py", "--dsn", "postgresql://app:s3cret@db/x", *HOSTILE),
    exe="/usr/bin/python3.11",
    cwd=None,
    user="alice",
    state="S",
    ppid=1,
    nice=5,
    started=1_700_000_000.0,  # 2023-11-14 22:13:20 UTC
    cpu_percent=37.5,
    rss=150 * MiB,
    vms=900 * MiB,
    threads=(
        ThreadRow(4242, "main", 5.0, 12.0),
        ThreadRow(4243, "[b]io[/b]\x1b[31m", 30.0, 100.0),
        ThreadRow(4244, "gc", 2.5, 1.0),
    ),
    open_files=None,
    connections=None,
    cgroup="/user.slice/user-1000.slice",
    limits=(("Max open files", "1024", "524288"), ("Max processes", "unlimited", "unlimited")),
    io_read_bytes=None,
    io_write_bytes=None,
    io_read_count=None,
    io_write_count=None,
    denied=("cwd", "open_files", "io"),
)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Start times are shown in local time: pin it so text and pixels are the same anywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def filled(detail: ProcessDetail = DETAIL) -> Store:
    store = Store()
    name = history_name(ROW)  # the process table's history of it
    for i in range(30):
        cpu = float((i * 13) % 50) if i < 29 else 37.5  # the last point is the figure shown
        store.extend({name + ".cpu": cpu, name + ".rss": 100e6 + i * 1e6})
    store.put("detail", detail)
    return store


class Host(App[None]):
    """A bare app that opens the detail screen for ROW and feeds it `store` once mounted."""

    def __init__(self, store: Store | None = None) -> None:
        super().__init__()
        self.store = store
        self.closed: list[object] = []

    def on_mount(self) -> None:
        screen = ProcessDetailScreen(ROW, delay=2.0)
        self.push_screen(screen, self.closed.append)
        if self.store is not None:
            screen.show(self.store)


def screen_text(app: App[Any]) -> str:
    strips = app.screen._compositor.render_strips()  # noqa: SLF001 - what is on screen
    return "\n".join(strip.text for strip in strips)


def static_text(screen: Screen[Any], selector: str) -> str:
    content = screen.query_one(selector, Static).render()
    return str(content.plain if hasattr(content, "plain") else content)


@run
async def test_before_the_first_detail_the_row_is_shown() -> None:
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ProcessDetailScreen)
        assert screen.row is ROW and screen.detail is None and not screen.exited
        text = screen_text(app)
        assert "PID 4242 worker" in text and "python3 worker.py" in text
        assert "CPU 12.5%" in text and "RSS 120M" in text
        assert DENIED not in text and "n/a" not in text  # nothing is known yet, so blank


@run
async def test_hostile_command_line_is_literal_and_secrets_masked() -> None:
    app = Host(filled())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ProcessDetailScreen)
        assert screen.detail is DETAIL
        cmdline = static_text(screen, "#detail-cmdline")
        assert "[red]x[/red]" in cmdline  # markup shown as typed, not as red "x"
        assert "^[]0;pwned^G^[[2J" in cmdline  # escapes made visible and inert
        assert "\x1b" not in cmdline and "\x07" not in cmdline
        assert "postgresql://app:****@db/x" in cmdline and "s3cret" not in cmdline
        text = screen_text(app)
        assert "[red]x[/red]" in text and "\x1b" not in text and "s3cret" not in text


@run
async def test_facts_denied_and_missing_fields() -> None:
    app = Host(filled())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        facts = {
            line[:8].strip(): line[8:].strip()
            for line in static_text(app.screen, "#detail-facts").splitlines()
        }
        assert facts["exe"] == "/usr/bin/python3.11"
        assert facts["cwd"] == DENIED
        assert facts["files"] == DENIED
        assert facts["I/O"] == DENIED
        assert facts["conns"] == "n/a"  # None without a denial: unknown, never 0
        assert facts["nice"] == "5" and facts["ppid"] == "1" and facts["user"] == "alice"
        assert facts["started"] == "2023-11-14 22:13:20"
        assert facts["cgroup"] == "/user.slice/user-1000.slice"


@run
async def test_io_totals_and_histories() -> None:
    detail = dataclasses.replace(
        DETAIL,
        io_read_bytes=3 * MiB,
        io_write_bytes=512,
        io_read_count=1500,
        io_write_count=7,
        denied=(),
    )
    store = filled(detail)
    app = Host(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ProcessDetailScreen)
        assert screen.cpu_history == store.history(history_name(ROW) + ".cpu")
        assert screen.query_one("#detail-cpu", Sparkline).data == screen.cpu_history
        assert screen.query_one("#detail-rss", Sparkline).data == screen.rss_history
        facts = static_text(screen, "#detail-facts")
        assert "read 3.0M (1.5k ops)  write 512B (7 ops)" in facts
        cpu = static_text(screen, "#detail-cpu-label")
        assert cpu.startswith("CPU 37.5%") and "max 49.0%" in cpu and cpu.endswith("last 1m")


@run
async def test_threads_sorted_by_cpu_with_literal_names_and_diffed() -> None:
    store = filled()
    app = Host(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ProcessDetailScreen)
        table = screen.query_one("#detail-threads", DataTable)
        order = [table.get_row_at(i)[0] for i in range(table.row_count)]
        assert order == [4243, 4242, 4244]
        assert "[b]io[/b]^[[31m" in screen_text(app)
        # Next tick: gc got busy and main ended.
        threads = (ThreadRow(4243, "io", 1.0, 101.0), ThreadRow(4244, "gc", 90.0, 3.0))
        store.put("detail", dataclasses.replace(DETAIL, threads=threads))
        screen.show(store)
        await pilot.pause()
        order = [table.get_row_at(i)[0] for i in range(table.row_count)]
        assert order == [4244, 4243]
        assert table.get_row_at(0)[1] == "90.0%"
        assert screen.query_one("#detail-threads-box").border_title == "Threads (2)"


@run
async def test_denied_cmdline_cpu_and_memory_say_why_instead_of_zero() -> None:
    detail = dataclasses.replace(
        DETAIL, cmdline=(), cpu_percent=0.0, rss=0, vms=0, denied=("cmdline", "cpu", "memory")
    )
    app = Host(filled(detail))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert static_text(screen, "#detail-cmdline") == DENIED
        assert static_text(screen, "#detail-cpu-label").startswith(f"CPU {DENIED}")
        assert static_text(screen, "#detail-rss-label").startswith(f"RSS {DENIED}")
        assert "0.0%" not in static_text(screen, "#detail-cpu-label")


@run
async def test_denied_threads_and_limits_say_why() -> None:
    detail = dataclasses.replace(DETAIL, threads=None, limits=None, denied=("threads", "limits"))
    app = Host(filled(detail))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert static_text(screen, "#detail-threads-note") == DENIED
        assert static_text(screen, "#detail-limits") == DENIED
        assert screen.query_one("#detail-threads", DataTable).row_count == 0


@run
async def test_exited_process_keeps_its_last_data_under_a_banner() -> None:
    store = filled()
    app = Host(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ProcessDetailScreen)
        banner = screen.query_one("#detail-banner", Static)
        assert not screen.exited and banner.region.height == 0
        ended = dataclasses.replace(DETAIL, exited=True)
        store.put("detail", ended)
        store.set_status("detail", SourceStatus("failing", "no such process"))
        screen.show(store)
        await pilot.pause()
        assert screen.exited and screen.detail is ended
        assert banner.region.height == 1
        text = screen_text(app)
        assert ENDED in text and "[red]x[/red]" in text and "Threads (3)" in text
        # The detail of some other pid (another screen's) never replaces this one.
        store.put("detail", dataclasses.replace(DETAIL, pid=1, name="init"))
        screen.show(store)
        assert screen.detail is ended


@run
async def test_a_failing_collector_shows_its_message() -> None:
    store = Store()
    store.set_status("detail", SourceStatus("failing", "permission denied reading /proc/4242"))
    app = Host(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "detail: permission denied reading /proc/4242" in screen_text(app)


@pytest.mark.parametrize("key", ["escape", "backspace"])
@run
async def test_escape_and_backspace_go_back(key: str) -> None:
    app = Host(filled())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ProcessDetailScreen)
        await pilot.press(key)
        await pilot.pause()
        assert not isinstance(app.screen, ProcessDetailScreen)
        assert len(app.screen_stack) == 1
        # The opener's callback ran (the app stops the detail collector there).
        assert app.closed == [None]


def test_back_bindings_have_ids() -> None:
    ids = {binding.id for binding in ProcessDetailScreen.BINDINGS if hasattr(binding, "id")}
    assert {"detail.back", "detail.back_alt"} <= ids


def test_snapshot_detail_screen_100x30(snap_compare: Any) -> None:
    assert os.environ["TZ"] == "UTC"
    assert snap_compare(
        Host(filled(dataclasses.replace(DETAIL, exited=True))), terminal_size=(100, 30)
    )
