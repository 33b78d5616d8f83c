"""What one dashboard refresh costs the TUI, and why: CPU, layouts and renders per tick.

`python -m benchmarks.profile_tui [--ticks 30] [--size 120x40] [--extra-procs 0]
[--profile PATH]`

The real app (Textual's headless driver, so the compositor's work is in, the terminal's is
not) is fed by the real collectors: each tick every default collector is sampled (not
timed) and its sample written to the store, as the app's collection would; then the loop
runs until the screen has drawn. Printed, per tick (median over `--ticks`, the first two
dropped as warm-up):

- CPU time of the main thread from the store writes to the drawn frame: the TUI's share of
  perftop's cost (N ms per tick is N/10 % of one core at the default 1 s refresh);
- layouts: how many times the screen reflowed (`Screen._refresh_layout`); a steady
  dashboard should need none;
- widget renders: widgets whose lines were rendered again, by class;
- table rows: process table rows formatted into strips (the rest came from its cache).

`--profile PATH` also writes a cProfile of the measured ticks (read it with
`python -m pstats PATH`). `--extra-procs N` starts N idle processes first (killed at the
end however the run ends), for a table that changes like a busy machine's.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from textual.screen import Screen
from textual.widget import Widget

from perftop.actions.audit import AuditLog
from perftop.actions.gate import Gate
from perftop.collectors.system import default_collectors
from perftop.config import Settings
from perftop.store import Store
from perftop.themes import load
from perftop.tui.app import PerftopApp
from perftop.tui.process_table import ProcessTable

from .idle import IdleProcesses

WARMUP_TICKS = 2
SETTLE_S = 0.12  # long enough for Textual's screen update timer (1/60 s) to fire


class Counts:
    """What the instrumented Textual methods saw since the last `take()`."""

    def __init__(self) -> None:
        self.layouts = 0
        self.renders: collections.Counter[str] = collections.Counter()
        self.rows = 0

    def take(self) -> tuple[int, collections.Counter[str], int]:
        taken = (self.layouts, self.renders, self.rows)
        self.layouts, self.renders, self.rows = 0, collections.Counter(), 0
        return taken


@contextlib.contextmanager
def instrumented(counts: Counts) -> Iterator[None]:
    """Count screen layouts, widget renders and table row formats while inside."""
    refresh_layout = Screen._refresh_layout
    render_lines = Widget.render_lines
    row_strip = ProcessTable._row_strip

    def counted_layout(self: Screen[Any], *args: Any, **kwargs: Any) -> None:
        counts.layouts += 1
        refresh_layout(self, *args, **kwargs)

    def counted_render(self: Widget, crop: Any) -> Any:
        counts.renders[type(self).__name__] += 1
        return render_lines(self, crop)

    def counted_row(self: ProcessTable, *args: Any) -> Any:
        counts.rows += 1
        return row_strip(self, *args)

    Screen._refresh_layout = counted_layout  # type: ignore[method-assign]  # instrumentation
    Widget.render_lines = counted_render  # type: ignore[method-assign]  # instrumentation
    ProcessTable._row_strip = counted_row  # type: ignore[method-assign]  # instrumentation
    try:
        yield
    finally:
        Screen._refresh_layout = refresh_layout  # type: ignore[method-assign]
        Widget.render_lines = render_lines  # type: ignore[method-assign]
        ProcessTable._row_strip = row_strip  # type: ignore[method-assign]


async def measure(
    ticks: int, size: tuple[int, int], profile: cProfile.Profile | None
) -> dict[str, Any]:
    """Run the app headless for `ticks` refreshes; per-tick CPU, layouts, renders, rows."""
    collectors = default_collectors(1.0)
    store = Store()
    with tempfile.TemporaryDirectory(prefix="perftop-bench-") as tmp:
        audit = AuditLog(Path(tmp) / "audit.jsonl")
        settings = Settings(audit_file=audit.path)
        app = PerftopApp(settings, store, Gate(audit, read_only=True))
        app.register_theme(load("perftop-dark"))
        app.theme = "perftop-dark"
        counts = Counts()
        cpu: list[float] = []
        layouts: list[int] = []
        rows: list[int] = []
        renders: list[collections.Counter[str]] = []
        processes = 0
        with instrumented(counts):
            async with app.run_test(size=size) as pilot:
                await pilot.pause(0.3)
                for tick in range(ticks + WARMUP_TICKS):
                    samples = [(c, c.collect()) for c in collectors]
                    processes = len(getattr(samples[-1][1], "rows", ()))
                    await pilot.pause(0.05)
                    counts.take()
                    if profile is not None and tick >= WARMUP_TICKS:
                        profile.enable()
                    started = time.thread_time()
                    for collector, sample in samples:
                        store.put(collector.source, sample, collector.series(sample))
                    await asyncio.sleep(SETTLE_S)
                    spent = time.thread_time() - started
                    if profile is not None:
                        profile.disable()
                    tick_layouts, tick_renders, tick_rows = counts.take()
                    if tick >= WARMUP_TICKS:
                        cpu.append(spent)
                        layouts.append(tick_layouts)
                        rows.append(tick_rows)
                        renders.append(tick_renders)
    every = collections.Counter[str]()
    for counter in renders:
        every.update(counter)
    return {
        "processes": processes,
        "cpu_ms": statistics.median(cpu) * 1000,
        "cpu_ms_p90": sorted(cpu)[int(len(cpu) * 0.9)] * 1000,
        "layouts": statistics.mean(layouts),
        "rows": statistics.median(rows),
        "renders": {name: n / len(renders) for name, n in every.most_common()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_tui", description=__doc__)
    parser.add_argument("--ticks", type=int, default=30, help="measured refreshes (default 30)")
    parser.add_argument("--size", default="120x40", help="terminal size, WxH (default 120x40)")
    parser.add_argument("--extra-procs", type=int, default=0, help="idle processes to add")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the measured ticks")
    args = parser.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        parser.error("--size is WxH, e.g. 120x40")
    if args.ticks < 1 or args.extra_procs < 0:
        parser.error("--ticks must be at least 1 and --extra-procs 0 or more")
    profile = cProfile.Profile() if args.profile else None
    with IdleProcesses(args.extra_procs) if args.extra_procs else contextlib.nullcontext():
        result = asyncio.run(measure(args.ticks, (width, height), profile))
    if profile is not None:
        profile.dump_stats(args.profile)
    print(f"TUI refresh at {width}x{height}, {result['processes']} processes, {args.ticks} ticks")
    median, p90 = result["cpu_ms"], result["cpu_ms_p90"]
    print(f"  main-thread CPU per tick: median {median:.2f} ms, p90 {p90:.2f} ms")
    print(f"  = {median / 10:.2f} % of a core at a 1 s refresh")
    print(f"  screen layouts per tick: {result['layouts']:.2f}")
    print(f"  table rows formatted per tick: {result['rows']:.0f}")
    renders = ", ".join(f"{name} {n:.1f}" for name, n in result["renders"].items())
    print(f"  widget renders per tick: {renders or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
