"""What the Stacks pane costs per refresh, on a synthetic but realistic profile.

`python -m benchmarks.stacks_pane [--refreshes 30] [--windows 300] [--stacks 80] [--quick]`

The profile: `--windows` windows of 0.98 s (5 min by default), each with `--stacks` distinct
stacks 8 to 40 frames deep over 4 threads, drawn from 600 functions in 60 files, about 390
samples a window (100 Hz × 4 threads). Every refresh hands the screen a new sample (one
window more, the oldest dropped), as the live sampler does once a second. Printed, as
medians:

- aggregation: `select` + `merge` + `call_tree` for the 10 s, 60 s and 5 min spans
  (profile.py's work, done once per new sample by the pane);
- a refresh of each view (top, tree, icicle) at 80×24 and 140×40, span 10 s and 5 min:
  CPU time of this process from `show(store)` to the frame drawn (Textual's headless
  driver, so the compositor's work is in, the terminal's is not);
- the top table on the line API against a `DataTable` cleared and refilled with the same
  rows (the naive alternative), per refresh.

At one refresh a second, N ms of CPU per refresh is N/10 % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from perftop.collectors.stacks.model import Frame, Stack, StackSample, StackTarget, StackWindow
from perftop.collectors.stacks.profile import merge, select
from perftop.store import Store
from perftop.tui.stacks import SPANS, FunctionTable, StacksScreen, View

SIZES = ((80, 24), (140, 40))
VIEWS: tuple[View, ...] = ("top", "tree", "icicle")


def synthetic_windows(count: int, stacks: int, seed: int = 3) -> tuple[StackWindow, ...]:
    """`count` windows of a program with a few hot paths and a long tail, deterministic."""
    rng = random.Random(seed)
    files = [f"/srv/app/pkg{i // 10}/module{i}.py" for i in range(60)]
    functions = [Frame(f"function_{i}", files[i % 60], 10 + i) for i in range(600)]
    threads = [("MainThread", 1000), ("worker-1", 1001), ("worker-2", 1002), ("io", 1003)]
    # A pool of stacks sharing prefixes (as real call trees do): each grows from another.
    pool: list[Stack] = []
    for i in range(stacks * 4):
        name, tid = threads[i % 4]
        if pool and rng.random() < 0.7:
            base = rng.choice(pool).frames[: rng.randint(4, 30)]
        else:
            base = tuple(rng.sample(functions, 4))
        depth = rng.randint(8, 40)
        frames = base + tuple(rng.choice(functions) for _ in range(max(0, depth - len(base))))
        pool.append(Stack(name, tid, frames[:depth], idle=name == "io" and rng.random() < 0.8))
    weights = [1.0 / (1 + rank) ** 1.1 for rank in range(len(pool))]  # a few hot stacks
    windows = []
    for w in range(count):
        chosen = rng.choices(range(len(pool)), weights, k=stacks)
        counts: dict[int, int] = {}
        for index in chosen:
            counts[index] = counts.get(index, 0) + rng.randint(1, 9)
        total = sum(counts.values())
        scaled = {i: max(1, round(c * 392 / total)) for i, c in counts.items()}
        windows.append(
            StackWindow(
                started=1_700_000_000.0 + w,
                duration=0.98,
                requested_rate=100.0,
                stacks=tuple((pool[i], c) for i, c in scaled.items()),
                ticks=98,
            )
        )
    return tuple(windows)


def make_sample(windows: tuple[StackWindow, ...]) -> StackSample:
    return StackSample(
        time=windows[-1].started,
        target=StackTarget(4242, "python3 -m app.server", "py-spy", "3.11.7"),
        windows=windows,
        coverage=0.98,
        threads=("MainThread", "worker-1", "worker-2", "io"),
    )


def median_ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


def aggregation(windows: tuple[StackWindow, ...], repeats: int) -> dict[str, float]:
    """Median seconds of select + merge + call_tree per span."""
    results = {}
    for span in SPANS:
        times = []
        for _ in range(repeats):
            started = time.process_time()
            merge(select(windows, span), include_idle=True).call_tree()
            times.append(time.process_time() - started)
        results[f"{span:g} s"] = median_ms(times)
    return results


class PaneHost(App[None]):
    def __init__(self, view: View, span: float) -> None:
        super().__init__()
        self.view, self.span = view, span

    def on_mount(self) -> None:
        self.push_screen(StacksScreen(view=self.view, span=self.span, idle=True))


async def pane_refreshes(
    view: View, span: float, size: tuple[int, int], windows: tuple[StackWindow, ...], n: int
) -> float:
    """Median CPU ms from a new sample to its frame drawn."""
    history = len(windows) - n
    store = Store()
    app = PaneHost(view, span)
    times: list[float] = []
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        assert isinstance(screen, StacksScreen)
        store.put("stacks", make_sample(windows[:history]))
        screen.show(store)
        await pilot.pause()
        for i in range(1, n + 1):
            store.put("stacks", make_sample(windows[i : history + i]))
            started = time.process_time()
            screen.show(store)
            await pilot.pause()
            times.append(time.process_time() - started)
    return median_ms(times)


class TableHost(App[None]):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def compose(self) -> ComposeResult:
        yield FunctionTable() if self.kind == "line" else DataTable()


async def table_refreshes(kind: str, windows: tuple[StackWindow, ...], n: int) -> float:
    """Median CPU ms to show a refreshed top table: line API vs DataTable refill."""
    app = TableHost(kind)
    times: list[float] = []
    async with app.run_test(size=(140, 40)) as pilot:
        if kind == "datatable":
            table: DataTable[object] = app.query_one(DataTable)
            table.add_columns("OWN%", "OWN", "TOTAL%", "TOTAL", "FUNCTION", "FILE")
        for i in range(n):
            stats = merge(select(windows[i:], SPANS[2])).top_functions("own")
            started = time.process_time()
            if kind == "line":
                app.query_one(FunctionTable).update(stats, "own")
            else:
                table.clear()
                table.add_rows(
                    (
                        f"{s.own_percent:.1f}",
                        s.own,
                        f"{s.total_percent:.1f}",
                        s.total,
                        s.name,
                        s.file,
                    )
                    for s in stats
                )
            await pilot.pause()
            times.append(time.process_time() - started)
    return median_ms(times)


def run(coro: Callable[..., Coroutine[Any, Any, float]], *args: Any) -> float:
    return asyncio.run(coro(*args))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stacks_pane", description=__doc__)
    parser.add_argument("--refreshes", type=int, default=30, help="refreshes measured per case")
    parser.add_argument("--windows", type=int, default=300, help="windows kept (default 5 min)")
    parser.add_argument("--stacks", type=int, default=80, help="distinct stacks per window")
    parser.add_argument("--quick", action="store_true", help="5 refreshes, 60 windows")
    args = parser.parse_args(argv)
    refreshes = 5 if args.quick else args.refreshes
    kept = 60 if args.quick else args.windows
    windows = synthetic_windows(kept + refreshes, args.stacks)
    profile = merge(windows[:kept])
    print(
        f"profile: {kept} windows, {len(profile.stacks)} distinct stacks, "
        f"{profile.samples} samples, {len(profile.top_functions())} functions, "
        f"{sum(1 for _ in profile.call_tree().walk())} call-tree nodes",
        file=sys.stderr,
    )
    print("| work | median CPU ms |")
    print("|---|---|")
    for span, ms in aggregation(windows[:kept], refreshes).items():
        print(f"| aggregate {span} (select + merge + call_tree) | {ms:.1f} |")
    for view in VIEWS:
        for span in (SPANS[0], SPANS[2]):
            for size in SIZES:
                ms = run(pane_refreshes, view, span, size, windows, refreshes)
                print(f"| refresh {view}, span {span:g} s, {size[0]}×{size[1]} | {ms:.1f} |")
    for kind in ("line", "datatable"):
        ms = run(table_refreshes, kind, windows, refreshes)
        print(f"| top table 140×40, 5 min, {kind} | {ms:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
