"""Dashboard panes fed from a hand-filled store: figures, statuses, compact heights, pixels."""

from __future__ import annotations

from typing import Any

import pytest
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widgets import Sparkline

from perftop.collectors.samples import (
    CoreUsage,
    CpuSample,
    DiskSample,
    NetSample,
)
from perftop.store import SourceStatus, Store
from perftop.tui.line_drawn import CoreBars
from perftop.tui.meters import core_layout, core_rows, fit, meter
from perftop.tui.panes import CpuPane, DiskPane, MemoryPane, NetPane, Pane
from perftop.tui.units import fmt_bytes, fmt_count, fmt_duration, fmt_ms, fmt_percent, fmt_rate

from .support import (
    HOSTILE_NAME,
    GiB,
    cores,
    cpu_sample,
    disk_sample,
    filled,
    memory_sample,
    nic,
    run,
)


def style_at(text: Text, offset: int) -> Style:
    """The style a `Text` gives the character at `offset` (its spans combined)."""
    spans = [span.style for span in text.spans if span.start <= offset < span.end]
    return Style.combine(
        [text.style if isinstance(text.style, Style) else Style()]
        + [span if isinstance(span, Style) else Style.parse(span) for span in spans]
    )


# A host app ---------------------------------------------------------------------------------


class Host(App[None]):
    """The four panes laid out as the dashboard does: CPU + memory, then disk + network."""

    CSS = "Horizontal { height: auto; }"

    def __init__(self, store: Store, compact: bool = False) -> None:
        super().__init__()
        self.store = store
        self.compact = compact

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield CpuPane()
            yield MemoryPane()
        with Horizontal(id="io"):
            yield DiskPane()
            yield NetPane()

    def on_mount(self) -> None:
        for pane in self.query(Pane):
            pane.compact = self.compact
            pane.show(self.store)


def text_of(app: App[Any], widget: Any) -> str:
    """What the screen shows inside `widget`'s region, as plain text lines."""
    strips = app.screen._compositor.render_strips()  # noqa: SLF001 - what is on screen
    region = widget.region
    return "\n".join(
        strip.text[region.x : region.right] for strip in strips[region.y : region.bottom]
    )


# units --------------------------------------------------------------------------------------


def test_units_are_short_and_blank_when_unknown() -> None:
    assert fmt_bytes(0) == "0B"
    assert fmt_bytes(512) == "512B"
    assert fmt_bytes(1536) == "1.5K"
    assert fmt_bytes(1023 * 1024) == "1.0M"  # never four digits
    assert fmt_bytes(15.5 * GiB) == "16G"
    assert fmt_bytes(3.82 * GiB) == "3.8G"
    assert fmt_rate(1.5e6) == "1.4M/s"
    assert fmt_count(950) == "950"
    assert fmt_count(12_345) == "12k"
    assert fmt_count(3_456) == "3.5k"
    assert fmt_percent(37.5) == "37.5%"
    assert fmt_ms(0.8) == "0.8ms"
    assert fmt_ms(1500) == "1.5s"
    assert fmt_duration(100) == "1m40s"
    for fmt in (fmt_bytes, fmt_rate, fmt_count, fmt_percent, fmt_ms, fmt_duration):
        assert fmt(None) == ""


# pure drawing -------------------------------------------------------------------------------


def test_meter_splits_the_bar_by_part_and_keeps_its_width() -> None:
    user, system = Style(color="green"), Style(color="red")
    line = meter("0", [(50.0, user), (25.0, system)], "75.0%", 23)  # 20 cells inside
    assert line.cell_len == 23
    assert line.plain == "0[|||||||||||||||75.0%]"
    # 10 user cells then 5 system cells: the split is drawn, not just the total.
    styles = [style_at(line, i) for i in range(2, 17)]
    assert [s.color.name if s.color else None for s in styles] == ["green"] * 10 + ["red"] * 5


def test_core_layout_grows_columns_with_core_count() -> None:
    assert core_layout(4, 60, compact=False) == (True, 1)
    assert core_layout(8, 60, compact=False) == (True, 2)
    assert core_layout(32, 60, compact=False) == (True, 2)
    assert core_layout(64, 66, compact=False) == (True, 4)
    assert core_rows(64, 66, compact=False) == 16
    # Compact: pairs up to 4 cores, one cell per core beyond, so 64 cores take 2 rows.
    assert core_layout(4, 38, compact=True) == (True, 2)
    assert core_rows(2, 38, compact=True) == 1
    assert core_layout(64, 38, compact=True)[0] is False
    assert core_rows(64, 38, compact=True) == 2


def test_fit_drops_the_least_important_columns_first() -> None:
    columns = [("a", 8, 1), ("b", 8, 3), ("c", 8, 2)]
    assert fit(columns, 24) == [0, 1, 2]
    assert fit(columns, 17) == [0, 2]
    assert fit(columns, 7) == []


# CPU ----------------------------------------------------------------------------------------


@run
async def test_cpu_pane_shows_each_core_and_the_figures() -> None:
    store = filled(ncores=4)
    app = Host(store)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        pane = app.query_one(CpuPane)
        assert pane.sample is store.latest("cpu", CpuSample)
        assert app.query_one(CoreBars).cores == cores(4)
        assert pane.history == store.history("cpu.total")
        text = text_of(app, pane)
        lines = text.splitlines()
        assert any(" 2[" in line and line.rstrip(" │").endswith("37.5%]") for line in lines)
        assert "load 1.25 0.75 0.50" in text
        assert "ctx 12k/s" in text and "intr 3.5k/s" in text
        assert "PSI 10s 0.52%  60s 1.25%" in text
        assert "max 89%" in text  # the sparkline's peak, from the fixed history


@run
async def test_cpu_bars_are_coloured_by_the_theme_per_part() -> None:
    store = Store()
    one = CoreUsage(user=50.0, system=25.0, iowait=0.0, steal=0.0)
    store.put("cpu", CpuSample(1.0, one, (one,), (0.0, 0.0, 0.0), 0.0, 0.0, None))
    app = Host(store)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        bars = app.query_one(CoreBars)
        x, y = bars.region.x, bars.region.y
        variables = app.get_css_variables()
        compositor = app.screen._compositor  # noqa: SLF001 - the colour actually drawn
        first = compositor.get_style_at(x + 2, y).color
        width = bars.region.width - 3
        last_system = compositor.get_style_at(x + 2 + round(width * 0.75) - 1, y).color
        assert first is not None and last_system is not None
        assert first.triplet and first.triplet.hex == variables["success"].lower()
        assert last_system.triplet and last_system.triplet.hex == variables["error"].lower()


@run
async def test_cpu_sparkline_gets_a_fresh_history_on_every_show() -> None:
    store = filled()
    app = Host(store)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        sparkline = app.query_one("#cpu-history", Sparkline)
        assert sparkline.data == store.history("cpu.total")
        store.extend({"cpu.total": 99.0})
        app.query_one(CpuPane).show(store)
        assert sparkline.data is not None and sparkline.data[-1] == 99.0
        assert len(sparkline.data) == 121


@run
async def test_64_cores_fit_in_a_reasonable_height() -> None:
    store = filled(ncores=64)
    app = Host(store)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        pane = app.query_one(CpuPane)
        assert pane.outer_size.height == pane.wanted_height == 2 + 16 + 1 + 2
        text = text_of(app, pane)
        assert "63[" in text and " 2[" in text
    app = Host(store, compact=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        pane = app.query_one(CpuPane)
        assert pane.outer_size.height == pane.wanted_height == 4  # cells, figures, legend


# Statuses and missing fields ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pane_type", "source"),
    [(CpuPane, "cpu"), (MemoryPane, "memory"), (DiskPane, "disk"), (NetPane, "net")],
)
@run
async def test_a_failing_source_shows_its_message_instead_of_figures(
    pane_type: type[Pane], source: str
) -> None:
    store = filled()
    message = f"permission denied reading /proc/{source}stats"
    store.set_status(source, SourceStatus("failing", message, retry_in=4.0))
    app = Host(store)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        pane = app.query_one(pane_type)
        assert pane.status.state == "failing"
        assert pane.sample is None  # type: ignore[attr-defined]  # every pane has one
        text = text_of(app, pane)
        flat = " ".join(line.strip(" │╭╮╰╯─") for line in text.splitlines())  # unwrap
        assert f"{source}: {message} (retrying in 4s)" in flat
        assert "%" not in text and "/s" not in text  # no stale figures next to the error


@run
async def test_a_starting_source_shows_a_blank_not_fake_numbers() -> None:
    app = Host(Store())
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        for pane in app.query(Pane):
            assert pane.status.state == "starting"
            inside = text_of(app, pane).splitlines()[1:-1]  # between the border lines
            assert all(set(line) <= set(" │") for line in inside), inside


@run
async def test_missing_psi_shows_n_a_never_zero() -> None:
    store = Store()
    store.put("cpu", cpu_sample(2, pressure=None))
    store.put("memory", memory_sample(pressure=None))
    store.put("disk", DiskSample(1.0, disk_sample().devices, None))
    app = Host(store)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        cpu = text_of(app, app.query_one(CpuPane))
        memory = text_of(app, app.query_one(MemoryPane))
        disk = text_of(app, app.query_one(DiskPane))
        assert "PSI n/a" in cpu and "0.00%" not in cpu
        assert "PSI n/a" in memory and "0.00%" not in memory
        assert "PSI io n/a" in disk


# Memory, disk, network ----------------------------------------------------------------------


@run
async def test_memory_pane_shows_used_of_total_swap_and_pressure() -> None:
    app = Host(filled())
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        pane = app.query_one(MemoryPane)
        assert pane.sample == memory_sample()
        text = text_of(app, pane)
        assert "Mem[" in text and "4.0G/16G]" in text
        assert "Swp[" in text and "128M/2.0G]" in text
        assert "avail 11G" in text and "majflt 12/s" in text
        assert "PSI some 0.10% full 0.05%" in text


@run
async def test_disk_and_net_tables_show_rates_in_human_units() -> None:
    app = Host(filled())
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        disk = text_of(app, app.query_one(DiskPane))
        assert "read/s" in disk and "await" in disk
        nvme = next(line for line in disk.splitlines() if "nvme0n1" in line)
        assert nvme.split()[2:9] == ["11M/s", "3.2M/s", "120", "45", "37%", "0.8ms", "│"]
        assert "PSI io some 0.25% full 0.12%" in disk
        net = text_of(app, app.query_one(NetPane))
        eth0 = next(line for line in net.splitlines() if "eth0" in line)
        assert eth0.split()[2:9] == ["1.4M/s", "209K/s", "1.2k", "800", "3", "12", "│"]


@run
async def test_rising_errors_are_highlighted_and_steady_ones_are_not() -> None:
    store = Store()
    store.put("net", NetSample(1.0, (nic("eth0", 10.0, errors_per_s=2.0), nic("eth1", 10.0))))
    app = Host(store)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        pane = app.query_one(NetPane)
        header, rising, steady = pane.lines(60)
        error = pane.palette("error")
        errs = header.plain.index("errs")
        assert style_at(rising, errs + 2) == error
        assert style_at(steady, errs + 2) != error


@run
async def test_device_and_interface_names_are_shown_inert() -> None:
    store = filled()
    store.put("disk", disk_sample((HOSTILE_NAME, "sda")))
    store.put("net", NetSample(1.0, (nic(HOSTILE_NAME, 5.0),)))
    app = Host(store)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        for pane in (app.query_one(DiskPane), app.query_one(NetPane)):
            text = text_of(app, pane)
            assert "[b]d^[[2J" in text  # markup shown as typed, ESC made visible
            assert "\x1b" not in text


# Compact mode -------------------------------------------------------------------------------


@run
async def test_compact_panes_fit_their_documented_heights_at_80x24() -> None:
    store = filled(ncores=2)
    app = Host(store, compact=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        heights = {type(p).__name__: p.outer_size.height for p in app.query(Pane)}
        assert heights == {"CpuPane": 3, "MemoryPane": 3, "DiskPane": 4, "NetPane": 3}
        for pane in app.query(Pane):
            assert pane.outer_size.height == pane.wanted_height
        top, io = app.query_one("#top"), app.query_one("#io")
        assert top.outer_size.height + io.outer_size.height <= 10
        assert not app.query_one("#cpu-history-row").display
        disk = text_of(app, app.query_one(DiskPane))
        # The two busiest devices, in the collector's order; the idle one is left out.
        assert "nvme0n1" in disk and "dm-0" in disk and "sda" not in disk
        # Going back to normal brings back borders and the history line.
        for pane in app.query(Pane):
            pane.compact = False
        await pilot.pause()
        assert app.query_one("#cpu-history-row").display
        assert app.query_one(MemoryPane).outer_size.height == 6


# Pixels -------------------------------------------------------------------------------------


def test_snapshot_dashboard_panes_compact_80x24(snap_compare: Any) -> None:
    assert snap_compare(Host(filled(ncores=4), compact=True), terminal_size=(80, 24))


def test_snapshot_dashboard_panes_140x40(snap_compare: Any) -> None:
    assert snap_compare(Host(filled(ncores=8)), terminal_size=(140, 40))


@pytest.mark.parametrize("width", [60, 80, 100])
@run
async def test_compact_psi_keeps_every_value(width: int) -> None:
    app = Host(filled(ncores=2), compact=True)
    async with app.run_test(size=(width, 24)) as pilot:
        await pilot.pause()
        memory = text_of(app, app.query_one(MemoryPane))
        cpu = text_of(app, app.query_one(CpuPane))
        # Less important figures give way to the pressure line, never half of it.
        assert "PSI some 0.10% full 0.05%" in memory, memory
        if width >= 80:  # at 60 columns a CPU pane has room for its load or its PSI
            assert "PSI 0.52% 1.25%" in cpu, cpu
        assert "avg 42.5%" in cpu and "load 1.25 0.75 0.50" in cpu, cpu
