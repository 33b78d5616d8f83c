"""The dashboard panes: CPU, memory, disk and network, drawn from the store.

Every pane is a widget with `show(store)`: it reads the latest sample, the history and the
status of its source and redraws itself; it never samples anything. A failing source shows
its status message in place of the figures, a starting one shows nothing, and a figure the
kernel does not provide (PSI before 4.20) shows "n/a", never 0.

Each pane has `compact` (set by the app on small terminals) and sizes itself (`height:
auto`); the rows each wants are in the class docstrings and in `wanted_height`.
"""

from __future__ import annotations

import textwrap
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from ..collectors.samples import (
    CpuSample,
    DiskRate,
    DiskSample,
    MemorySample,
    NetSample,
    NicRate,
)
from ..store import STARTING, SourceStatus, Store
from .line_drawn import CoreBars, LineDrawn, TextLines
from .meters import (
    CPU_PARTS,
    NOT_AVAILABLE,
    Column,
    core_rows,
    fields,
    fields_within,
    meter,
    psi,
    table,
    top,
)
from .text import neutralise
from .units import fmt_bytes, fmt_count, fmt_ms, fmt_percent, fmt_rate

HISTORY_POINTS = 300
"""Points of `cpu.total` the sparkline shows: five minutes at the default 1 s delay."""


# Widgets ------------------------------------------------------------------------------------


class Pane(Widget):
    """What every dashboard pane shares: its source's status, `compact`, the palette."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "pane--label", "pane--error", "pane--warning", "pane--user", "pane--system",
        "pane--iowait", "pane--steal", "pane--buffers", "pane--cache", "pane--swap",
    }  # fmt: skip
    DEFAULT_CSS = """
    Pane {
        width: 1fr;
        height: auto;
        border: round $panel;
        border-title-color: $foreground-muted;
        border-subtitle-color: $foreground-muted;
        padding: 0 1;
    }
    Pane.-compact { border: none; padding: 0; }
    TextPane { text-wrap: nowrap; text-overflow: clip; }
    Pane > .pane--label { color: $foreground-muted; }
    Pane > .pane--error { color: $error; text-style: bold; }
    Pane > .pane--warning { color: $warning; }
    Pane > .pane--user { color: $success; }
    Pane > .pane--system { color: $error; }
    Pane > .pane--iowait { color: $warning; }
    Pane > .pane--steal { color: $accent; }
    Pane > .pane--buffers { color: $primary; }
    Pane > .pane--cache { color: $warning; }
    Pane > .pane--swap { color: $error; }
    """

    source: ClassVar[str] = ""
    compact: reactive[bool] = reactive(False)
    """Fewer rows for small terminals; the app sets it."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.status: SourceStatus = STARTING
        """The source's status at the last `show`."""

    def show(self, store: Store) -> None:
        """Read this pane's source from `store` and redraw."""
        raise NotImplementedError

    def palette(self, name: str) -> Style:
        """The Rich style of a theme-coloured part (user, system, label, error…)."""
        return self.get_component_rich_style(f"pane--{name}", partial=True)

    def message(self, width: int = 0) -> Text:
        """What stands in for the figures when the source is not ok: its message, or blank.

        With a `width`, the message is wrapped to it (panes draw without soft wrapping).
        """
        if self.status.state != "failing":
            return Text("", end="")
        text = f"{self.source}: {self.status.message or 'failing'}"
        if self.status.retry_in is not None:
            text += f" (retrying in {self.status.retry_in:.0f}s)"
        text = neutralise(text)
        lines = textwrap.wrap(text, width, break_on_hyphens=False) if width > 0 else [text]
        return Text("\n".join(lines), style=self.palette("error"), end="")

    def watch_compact(self, compact: bool) -> None:
        self.set_class(compact, "-compact")
        self.refresh(layout=True)

    @property
    def wanted_height(self) -> int:
        """Rows this pane takes with its current data, border included."""
        width = max(1, self.content_size.width or (self.size.width or 80) - 4)
        border = 0 if self.compact else 2
        return border + self.get_content_height(Size(width, 0), Size(width, 0), width)


class TextPane(Pane, LineDrawn):
    """A pane drawn as lines of text by `lines(width)`; the figures come from `sample`."""

    def lines(self, width: int) -> list[Text]:
        raise NotImplementedError

    def draw_lines(self, width: int) -> list[Text]:
        if self.status.state != "ok":
            return list(self.message(width).split("\n"))
        return self.lines(width)

    def watch_compact(self, compact: bool) -> None:
        super().watch_compact(compact)
        self._strips_width = -1


class CpuPane(Pane):
    """Per-core bars (user / system / steal / iowait), total history, load, PSI.

    The legend names each part of a bar in its colour: in the border when there is one, on
    a line of its own when compact (a full bar of unexplained colour reads as a busy CPU).

    Height, border included, for N cores at content width W (cores per bar row: 1 up to 4
    cores, 2 up to 32, 4 beyond, falling back to one cell per core below 12 cells a bar):
    normal `2 + core_rows(N, W) + 1 (history) + 2 (figures)`, e.g. 7 rows for 2 cores,
    9 for 8, 21 for 64; compact (no border, no history) `core_rows(N, W, True) + 2`
    (figures, legend), e.g. 3 rows for 2 cores, 4 for 4, 4 for 64 cores at W=40. A failing
    source: its message.
    """

    DEFAULT_CSS = """
    CpuPane #cpu-history-row { height: 1; }
    CpuPane.-compact #cpu-history-row { display: none; }
    CpuPane #cpu-history { width: 1fr; }
    CpuPane #cpu-history-label { width: auto; color: $foreground-muted; padding-left: 1; }
    """
    BORDER_TITLE = "CPU"
    source = "cpu"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.sample: CpuSample | None = None
        """The sample on screen (None while starting or failing)."""
        self.history: tuple[float, ...] = ()
        """The `cpu.total` points the sparkline shows."""
        self._composed = False  # `is_mounted` is still False inside on_mount
        self._peak = ""  # the history label's text

    def compose(self) -> ComposeResult:
        yield CoreBars(self.palette, id="cpu-cores")
        with Horizontal(id="cpu-history-row"):
            yield Sparkline((), id="cpu-history")
            yield Static("", id="cpu-history-label")
        yield TextLines(self._figure_lines, id="cpu-figures")

    def show(self, store: Store) -> None:
        """Read the latest `cpu` sample, `cpu.total` history and status; redraw."""
        self.status = store.status(self.source)
        ok = self.status.state == "ok"
        self.sample = store.latest(self.source, CpuSample) if ok else None
        self.history = store.history("cpu.total")[-HISTORY_POINTS:] if ok else ()
        self.redraw()

    def watch_compact(self, compact: bool) -> None:
        super().watch_compact(compact)
        self.redraw()

    def figures(self, width: int = 0) -> Text:
        """Average, load, context switches, interrupts and PSI (or the status message,
        wrapped to `width` if given)."""
        sample = self.sample
        if sample is None:
            return self.message(width)
        label = self.palette("label")
        load = " ".join(f"{value:.2f}" for value in sample.load)
        first = [("avg", fmt_percent(sample.total.busy)), ("load", load)]
        second = [
            ("ctx", f"{fmt_count(sample.ctx_switches_per_s)}/s"),
            ("intr", f"{fmt_count(sample.interrupts_per_s)}/s"),
        ]
        if self.compact:
            # Two lines: the figures, least important first to go (intr, ctx), then the
            # legend. PSI goes on the legend's line, or the figures' if only there it fits.
            psi_pair = ("PSI", psi(sample.pressure, False))
            legend = self.legend()
            tail = fields([psi_pair], label)
            if not width or legend.cell_len + 2 + tail.cell_len <= width:
                legend.append("  ").append_text(tail)
                line = fields_within([*first, *second], label, width, (3, 2))
            else:  # indexes: avg, load, PSI, ctx, intr
                line = fields_within([*first, psi_pair, *second], label, width, (4, 3, 2))
            return Text("\n", end="").join([line, legend])
        pressure = sample.pressure
        second.append(
            ("PSI", NOT_AVAILABLE)
            if pressure is None
            else ("PSI 10s", f"{fmt_percent(pressure.some_avg10, 2)}  60s "
                  f"{fmt_percent(pressure.some_avg60, 2)}")
        )  # fmt: skip
        return Text("\n", end="").join([fields(first, label), fields(second, label)])

    def legend(self) -> Text:
        """Each part's name in the colour its share of a bar is drawn in."""
        return Text(" ", end="").join(
            Text(name, style=self.palette(part)) for part, name in CPU_PARTS
        )

    def _figure_lines(self, width: int) -> list[Text]:
        return list(self.figures(width).split("\n"))

    def _theme_changed(self, _theme: object) -> None:
        # The component styles follow the new theme once the CSS is applied again.
        self.call_after_refresh(self._show_legend)

    def _show_legend(self) -> None:
        self.border_subtitle = self.legend()
        self.query_one(TextLines).redraw()  # the compact legend line

    def redraw(self) -> None:
        """Push the current sample into the child widgets; each repaints what changed."""
        if not self._composed:
            return
        cores = self.sample.cores if self.sample is not None else ()
        self.query_one(CoreBars).update_cores(cores, self.compact)
        # Sparkline compares `data` by value: give it a fresh tuple, never a list that is
        # mutated in place (which it would not notice).
        sparkline = self.query_one("#cpu-history", Sparkline)
        sparkline.data = tuple(self.history)
        sparkline.visible = bool(self.history)  # an empty Sparkline draws a baseline
        peak = f"max {fmt_percent(max(self.history), 0)}" if self.history else ""
        label = self.query_one("#cpu-history-label", Static)
        if peak != self._peak:
            # The label is `width: auto`: only a change of its length moves the sparkline.
            label.update(Text(peak), layout=len(peak) != len(self._peak))
            self._peak = peak
        self.query_one(TextLines).redraw()

    def on_mount(self) -> None:
        self._composed = True
        self.border_subtitle = self.legend()
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self.redraw()

    @property
    def wanted_height(self) -> int:
        """Rows this pane takes with its current data, border included."""
        width = max(1, self.content_size.width or (self.size.width or 80) - 4)
        cores = len(self.sample.cores) if self.sample is not None else 0
        rows = core_rows(cores, width, self.compact)
        return rows + 2 if self.compact else 2 + rows + 1 + 2


class MemoryPane(TextPane):
    """Mem bar (used / buffers / cache), Swap bar, available, major faults, memory PSI.

    Height, border included: normal 6 rows (two bars, then available and faults, then PSI),
    compact 3 (no border; the figures on one line). A failing source: its message.
    """

    BORDER_TITLE = "Memory"
    BORDER_SUBTITLE = "[$success]used[/] [$primary]buffers[/] [$warning]cache[/]"
    source = "memory"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.sample: MemorySample | None = None
        """The sample on screen (None while starting or failing)."""

    def show(self, store: Store) -> None:
        """Read the latest `memory` sample and status; redraw."""
        self.status = store.status(self.source)
        ok = self.status.state == "ok"
        self.sample = store.latest(self.source, MemorySample) if ok else None
        self.redraw()

    def lines(self, width: int) -> list[Text]:
        sample = self.sample
        if sample is None:
            return [Text("", end="")]
        label = self.palette("label")
        total = sample.total or 1
        mem = meter(
            "Mem",
            [
                (sample.used / total * 100, self.palette("user")),
                (sample.buffers / total * 100, self.palette("buffers")),
                (sample.cached / total * 100, self.palette("cache")),
            ],
            f"{fmt_bytes(sample.used)}/{fmt_bytes(sample.total)}",
            width,
            label,
        )
        swap_share = sample.swap_used / sample.swap_total * 100 if sample.swap_total else 0.0
        swap_text = (
            f"{fmt_bytes(sample.swap_used)}/{fmt_bytes(sample.swap_total)}"
            if sample.swap_total
            else "off"
        )
        swap = meter("Swp", [(swap_share, self.palette("swap"))], swap_text, width, label)
        figures = [
            ("avail", fmt_bytes(sample.available)),
            ("majflt", f"{fmt_count(sample.major_faults_per_s)}/s"),
        ]
        pressure = ("PSI", psi(sample.pressure, True))
        if self.compact:
            # One line: the faults give way first, then what is available; PSI stays whole.
            return [mem, swap, fields_within([*figures, pressure], label, width, (1, 0))]
        return [mem, swap, fields(figures, label), fields([pressure], label)]


DISK_COLUMNS: tuple[Column, ...] = (
    ("read/s", 8, 1), ("write/s", 8, 2), ("rIOPS", 6, 5), ("wIOPS", 6, 6),
    ("util", 5, 3), ("await", 7, 4),
)  # fmt: skip
NET_COLUMNS: tuple[Column, ...] = (
    ("rx/s", 8, 1), ("tx/s", 8, 2), ("rxpk/s", 7, 5), ("txpk/s", 7, 6),
    ("errs", 6, 3), ("drops", 6, 4),
)  # fmt: skip


class DiskPane(TextPane):
    """Per-device read/write rates, IOPS, utilisation and await; the I/O PSI line.

    Height, border included, for N devices: normal `2 + 1 (header) + min(N, max_rows) + 1
    (PSI)` (7 rows for 3 devices), compact `1 + min(N, 2) + 1` (4 rows with 2 or more
    devices): the busiest devices are kept, in the collector's order. Value columns that do
    not fit the width are dropped, least important (IOPS) first.
    """

    BORDER_TITLE = "Disk I/O"
    source = "disk"
    max_rows = 8
    """Devices shown in normal mode; the busiest ones when there are more."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.sample: DiskSample | None = None
        """The sample on screen (None while starting or failing)."""

    def show(self, store: Store) -> None:
        """Read the latest `disk` sample and status; redraw."""
        self.status = store.status(self.source)
        ok = self.status.state == "ok"
        self.sample = store.latest(self.source, DiskSample) if ok else None
        self.redraw()

    def devices(self) -> list[DiskRate]:
        """The devices on screen: the busiest `max_rows` (2 when compact)."""
        if self.sample is None:
            return []
        limit = 2 if self.compact else self.max_rows
        return top(self.sample.devices, limit, lambda d: d.read_bytes_per_s + d.write_bytes_per_s)

    def lines(self, width: int) -> list[Text]:
        if self.sample is None:
            return [Text("", end="")]
        plain, warn = Style(), self.palette("warning")
        rows = [
            (
                d.name,
                [
                    (fmt_rate(d.read_bytes_per_s), plain),
                    (fmt_rate(d.write_bytes_per_s), plain),
                    (fmt_count(d.read_iops), plain),
                    (fmt_count(d.write_iops), plain),
                    (fmt_percent(d.util_percent, 0), warn if d.util_percent >= 80 else plain),
                    (fmt_ms(d.await_ms), plain),
                ],
            )
            for d in self.devices()
        ]
        title = "Disk" if self.compact else "device"
        lines = table(title, DISK_COLUMNS, rows, width, self.palette("label"))
        if not rows:
            lines.append(Text("no block devices", style=self.palette("label"), end=""))
        lines.append(fields([("PSI io", psi(self.sample.pressure, True))], self.palette("label")))
        return lines


class NetPane(TextPane):
    """Per-interface rx/tx bytes and packets per second, error and drop totals.

    Errors and drops are totals since boot, highlighted while they are rising (a non-zero
    rate). Height, border included, for N interfaces: normal `2 + 1 (header) + min(N,
    max_rows)` (5 rows for 2 interfaces), compact `1 + min(N, 2)` (3 rows): the busiest
    interfaces are kept, in the collector's order.
    """

    BORDER_TITLE = "Network"
    source = "net"
    max_rows = 8
    """Interfaces shown in normal mode; the busiest ones when there are more."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.sample: NetSample | None = None
        """The sample on screen (None while starting or failing)."""

    def show(self, store: Store) -> None:
        """Read the latest `net` sample and status; redraw."""
        self.status = store.status(self.source)
        ok = self.status.state == "ok"
        self.sample = store.latest(self.source, NetSample) if ok else None
        self.redraw()

    def interfaces(self) -> list[NicRate]:
        """The interfaces on screen: the busiest `max_rows` (2 when compact)."""
        if self.sample is None:
            return []
        limit = 2 if self.compact else self.max_rows
        return top(self.sample.nics, limit, lambda n: n.rx_bytes_per_s + n.tx_bytes_per_s)

    def lines(self, width: int) -> list[Text]:
        if self.sample is None:
            return [Text("", end="")]
        plain, error, warn = Style(), self.palette("error"), self.palette("warning")
        rows = []
        for n in self.interfaces():
            errors = n.rx_errors_total + n.tx_errors_total
            drops = n.rx_drops_total + n.tx_drops_total
            rising_errors = n.rx_errors_per_s + n.tx_errors_per_s > 0
            rising_drops = n.rx_drops_per_s + n.tx_drops_per_s > 0
            values = [
                (fmt_rate(n.rx_bytes_per_s), plain),
                (fmt_rate(n.tx_bytes_per_s), plain),
                (fmt_count(n.rx_packets_per_s), plain),
                (fmt_count(n.tx_packets_per_s), plain),
                (fmt_count(errors), error if rising_errors else plain),
                (fmt_count(drops), warn if rising_drops else plain),
            ]
            rows.append((n.name, values))
        title = "Net" if self.compact else "iface"
        lines = table(title, NET_COLUMNS, rows, width, self.palette("label"))
        if not rows:
            lines.append(Text("no interfaces", style=self.palette("label"), end=""))
        return lines
