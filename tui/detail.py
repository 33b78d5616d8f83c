"""The process detail screen: everything about the one process a person selected.

The app opens it with the table's `ProcessRow`, starts the detail collector for that pid and
calls `show(store)` on every store change while the screen is up. Until the first detail
arrives the screen shows what the row already knew. What could not be read says why
("denied (needs root or the owner's user)") instead of a number; when the process ends the
last data stays on screen under a "process ended" banner.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Sparkline, Static

from ..collectors.samples import ProcessDetail, ProcessRow, ThreadRow, history_name
from ..redact import redact
from ..store import STARTING, SourceStatus, Store
from .text import literal
from .units import fmt_bytes, fmt_count, fmt_duration, fmt_percent

DENIED = "denied (needs root or the owner's user)"
NOT_AVAILABLE = "n/a"
ENDED = "process ended: showing the last data read"

# The names a collector may put in `ProcessDetail.denied` for each part of the screen.
_DENIED_NAMES: dict[str, tuple[str, ...]] = {
    "exe": ("exe",),
    "cwd": ("cwd",),
    "threads": ("threads",),
    "open_files": ("open_files", "files"),
    "connections": ("connections", "net_connections"),
    "cgroup": ("cgroup",),
    "limits": ("limits", "rlimit"),
    "io": ("io", "io_counters", "io_read_bytes", "io_write_bytes"),
}


def is_denied(detail: ProcessDetail | None, part: str) -> bool:
    """Whether the collector was refused `part` (a key of the screen's sections)."""
    if detail is None:
        return False
    return any(name in detail.denied for name in _DENIED_NAMES.get(part, (part,)))


def command_line(args: tuple[str, ...] | str) -> Text:
    """The command line, secrets masked, shown literally and wrapped at any width."""
    joined = args if isinstance(args, str) else " ".join(args)
    text = literal(redact(joined))
    text.no_wrap = False
    text.overflow = "fold"  # a long path with no spaces still wraps instead of vanishing
    return text


def started_at(started: float) -> str:
    """A process start time in local time, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))


class ProcessDetailScreen(Screen[None]):
    """One process in full: command line, identity, CPU and RSS history, threads, limits.

    `row` is the process as the table showed it; app-level actions (signal, renice) act on
    it while this screen is up. Escape or Backspace goes back to the dashboard.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="detail.back"),
        Binding("backspace", "back", "Back", show=False, id="detail.back_alt"),
    ]
    DEFAULT_CSS = """
    ProcessDetailScreen #detail-banner {
        display: none;
        width: 1fr;
        background: $error;
        color: $text;
        text-style: bold;
        content-align: center middle;
    }
    ProcessDetailScreen.-exited #detail-banner { display: block; }
    ProcessDetailScreen #detail-status { height: auto; color: $error; }
    ProcessDetailScreen #detail-cmdline {
        height: auto;
        max-height: 6;
        border: round $panel;
        border-title-color: $foreground-muted;
        padding: 0 1;
    }
    ProcessDetailScreen #detail-top { height: auto; }
    ProcessDetailScreen #detail-facts { width: 3fr; height: auto; padding: 0 1; }
    ProcessDetailScreen #detail-usage { width: 2fr; height: auto; padding: 0 1; }
    ProcessDetailScreen #detail-usage Static { text-wrap: nowrap; text-overflow: ellipsis; }
    ProcessDetailScreen #detail-usage Sparkline { height: 2; margin-bottom: 1; }
    ProcessDetailScreen #detail-bottom { height: 1fr; }
    ProcessDetailScreen .detail-box {
        border: round $panel;
        border-title-color: $foreground-muted;
    }
    ProcessDetailScreen #detail-threads-box { width: 3fr; }
    ProcessDetailScreen #detail-threads { height: 1fr; }
    ProcessDetailScreen #detail-threads-note { height: auto; color: $warning; }
    ProcessDetailScreen #detail-limits-box { width: 2fr; }
    ProcessDetailScreen .detail-denied { color: $warning; }
    """

    def __init__(self, row: ProcessRow, delay: float = 1.0) -> None:
        super().__init__()
        self.row = row
        """The process as the table showed it: what app-level actions act on."""
        self.delay = delay
        """Seconds between detail samples, to say how long the histories span."""
        self.detail: ProcessDetail | None = None
        """The newest detail of this pid (kept after the process ended)."""
        self.status: SourceStatus = STARTING
        """The detail source's status at the last `show`."""
        self.cpu_history: tuple[float, ...] = ()
        self.rss_history: tuple[float, ...] = ()
        self._thread_cpu: dict[int, float] = {}
        self._composed = False  # `is_mounted` is still False inside on_mount

    @property
    def exited(self) -> bool:
        """Whether the process is known to have ended."""
        return self.detail is not None and self.detail.exited

    def compose(self) -> ComposeResult:
        yield Static(ENDED, id="detail-banner")
        yield Static("", id="detail-status")
        yield Static("", id="detail-cmdline")
        with Horizontal(id="detail-top"):
            yield Static("", id="detail-facts")
            with Vertical(id="detail-usage"):
                yield Static("", id="detail-cpu-label")
                yield Sparkline((), id="detail-cpu")
                yield Static("", id="detail-rss-label")
                yield Sparkline((), id="detail-rss")
        with Horizontal(id="detail-bottom"):
            with Vertical(id="detail-threads-box", classes="detail-box"):
                yield Static("", id="detail-threads-note")
                yield DataTable(id="detail-threads", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="detail-limits-box", classes="detail-box"):
                yield Static("", id="detail-limits")
        yield Footer()

    def on_mount(self) -> None:
        threads = self.query_one("#detail-threads", DataTable)
        threads.add_column("TID", key="tid", width=8)
        threads.add_column("CPU%", key="cpu", width=6)
        threads.add_column("TIME", key="time", width=8)
        threads.add_column("NAME", key="name")
        self.query_one("#detail-limits-box").border_title = "Limits"
        self._composed = True
        self._redraw()

    def action_back(self) -> None:
        """Back to the dashboard."""
        # dismiss, not app.pop_screen: pop_screen drops the push_screen callback unrun, and
        # the app's callback is what stops this process's detail collector.
        self.dismiss()

    def show(self, store: Store) -> None:
        """Read this pid's latest detail, its CPU and RSS history and the status; redraw."""
        self.status = store.status("detail")
        detail = store.latest("detail", ProcessDetail)
        if detail is not None and detail.pid == self.row.pid:
            self.detail = detail
        # The process table's history of this process, kept before the screen opened
        # (collectors.processes.HISTORY_TOP). Keep the last one when the series is gone
        # (the process ended, the store dropped it); the store hands out fresh tuples.
        name = history_name(self.row)
        self.cpu_history = store.history(name + ".cpu") or self.cpu_history
        self.rss_history = store.history(name + ".rss") or self.rss_history
        self._redraw()

    # drawing ------------------------------------------------------------------------------

    def _redraw(self) -> None:
        if not self._composed:
            return
        self.set_class(self.exited, "-exited")
        failing = self.status.state == "failing" and not self.exited
        status = self.query_one("#detail-status", Static)
        status.display = failing
        status.update(literal(f"detail: {self.status.message}") if failing else "")
        cmdline = self.query_one("#detail-cmdline", Static)
        name = self.detail.name if self.detail is not None else self.row.name
        cmdline.border_title = literal(f"PID {self.row.pid} {name}")
        args = self.detail.cmdline if self.detail is not None else self.row.cmdline
        if is_denied(self.detail, "cmdline"):
            cmdline.update(Text(DENIED, style="italic"))
        else:
            cmdline.update(command_line(args or f"[{name}]"))
        self.query_one("#detail-facts", Static).update(self._facts())
        self._draw_usage()
        self._draw_threads()
        self._draw_limits()

    def _value(self, part: str, value: str | Text | None) -> Text:
        if is_denied(self.detail, part):
            return Text(DENIED, style="italic", end="")
        if value is None:
            return Text("" if self.detail is None else NOT_AVAILABLE, end="")
        return value if isinstance(value, Text) else literal(value)

    def _facts(self) -> Text:
        detail, row = self.detail, self.row
        io = None
        if detail is not None and detail.io_read_bytes is not None:
            io = (
                f"read {fmt_bytes(detail.io_read_bytes)} ({fmt_count(detail.io_read_count)} "
                f"ops)  write {fmt_bytes(detail.io_write_bytes)} "
                f"({fmt_count(detail.io_write_count)} ops)"
            )
        started = started_at(detail.started) if detail is not None else None
        files = fmt_count(detail.open_files) if detail is not None else None
        connections = fmt_count(detail.connections) if detail is not None else None
        rows: list[tuple[str, Text]] = [
            ("exe", self._value("exe", detail.exe if detail else None)),
            ("cwd", self._value("cwd", detail.cwd if detail else None)),
            ("user", literal(detail.user if detail else row.user)),
            ("state", literal(detail.state if detail else row.state)),
            ("ppid", Text(str(detail.ppid if detail else row.ppid))),
            ("nice", Text(str(detail.nice if detail else row.nice))),
            ("started", self._value("started", started)),
            ("files", self._value("open_files", files or None)),
            ("conns", self._value("connections", connections or None)),
            ("cgroup", self._value("cgroup", detail.cgroup if detail else None)),
            ("I/O", self._value("io", io)),
        ]
        lines = []
        for label, value in rows:
            line = Text(f"{label:<8}", style="dim", no_wrap=True, overflow="ellipsis", end="")
            line.append_text(value)
            lines.append(line)
        return Text("\n", no_wrap=True, overflow="ellipsis", end="").join(lines)

    def _span(self, points: int) -> str:
        return f"last {fmt_duration(points * self.delay)}" if points > 1 else ""

    def _draw_usage(self) -> None:
        # The same figure as the table's (and the chart's last point), when there is one.
        cpu = self.cpu_history[-1] if self.cpu_history else None
        if cpu is None and self.detail is not None:
            cpu = self.detail.cpu_percent
        if cpu is None:
            cpu = self.row.cpu_percent
        rss = self.detail.rss if self.detail is not None else self.row.rss
        # psutil's AccessDenied leaves 0 in these; say so rather than show a false 0.
        cpu_text = DENIED if is_denied(self.detail, "cpu") else fmt_percent(cpu)
        cpu_label = Text.assemble(("CPU ", "bold"), cpu_text)
        if self.cpu_history:
            cpu_label.append(
                f"  max {fmt_percent(max(self.cpu_history))}  {self._span(len(self.cpu_history))}",
                "dim",
            )
        memory_denied = is_denied(self.detail, "memory")
        rss_label = Text.assemble(("RSS ", "bold"), DENIED if memory_denied else fmt_bytes(rss))
        if self.detail is not None and not memory_denied:
            rss_label.append(f"  virt {fmt_bytes(self.detail.vms)}", "dim")
        if self.rss_history:
            rss_label.append(
                f"  max {fmt_bytes(max(self.rss_history))}  {self._span(len(self.rss_history))}",
                "dim",
            )
        self.query_one("#detail-cpu-label", Static).update(cpu_label)
        self.query_one("#detail-rss-label", Static).update(rss_label)
        self.query_one("#detail-cpu", Sparkline).data = tuple(self.cpu_history)
        self.query_one("#detail-rss", Sparkline).data = tuple(self.rss_history)

    def _draw_threads(self) -> None:
        box = self.query_one("#detail-threads-box")
        note = self.query_one("#detail-threads-note", Static)
        table: DataTable[object] = self.query_one("#detail-threads", DataTable)
        threads = self.detail.threads if self.detail is not None else None
        if threads is None:
            note.display = self.detail is not None
            note.update(DENIED if is_denied(self.detail, "threads") else NOT_AVAILABLE)
            box.border_title = "Threads"
            table.clear()
            self._thread_cpu = {}
            return
        note.display = False
        box.border_title = f"Threads ({len(threads)})"
        self._update_threads(table, threads)

    def _update_threads(self, table: DataTable[object], threads: tuple[ThreadRow, ...]) -> None:
        # Diff by tid rather than rebuilding: a busy JVM has hundreds of threads.
        fresh = {thread.tid: thread for thread in threads}
        for tid in [tid for tid in self._thread_cpu if tid not in fresh]:
            table.remove_row(str(tid))
        for tid, thread in fresh.items():
            cells = (
                fmt_percent(thread.cpu_percent),
                fmt_duration(thread.cpu_time) or "0s",
                literal(thread.name),
            )
            if tid in self._thread_cpu:
                for column, value in zip(("cpu", "time", "name"), cells, strict=True):
                    if table.get_cell(str(tid), column) != value:
                        table.update_cell(str(tid), column, value)
            else:
                table.add_row(tid, *cells, key=str(tid))
        self._thread_cpu = {tid: thread.cpu_percent for tid, thread in fresh.items()}
        cpu = self._thread_cpu
        table.sort("tid", key=lambda tid: (-cpu.get(tid, 0.0), tid))

    def _draw_limits(self) -> None:
        limits = self.detail.limits if self.detail is not None else None
        view = self.query_one("#detail-limits", Static)
        if limits is None:
            view.update(self._value("limits", None))
            return
        grid = Table(box=None, show_edge=False, pad_edge=False, expand=True)
        grid.add_column("name", style="dim", no_wrap=True, overflow="ellipsis", ratio=1)
        grid.add_column("soft", justify="right", no_wrap=True)
        grid.add_column("hard", justify="right", no_wrap=True)
        for name, soft, hard in limits:
            grid.add_row(literal(name), literal(soft), literal(hard))
        view.update(grid)
