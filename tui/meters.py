"""Pure drawing helpers for the dashboard panes: bars, core grids, field rows, tables.

No widgets here: each function takes numbers and styles and returns rich `Text`, so the
layout rules can be tested without an app.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import TypeVar

from rich.style import Style
from rich.text import Text

from ..collectors.samples import CoreUsage, Pressure
from .text import literal
from .units import fmt_percent

MIN_BAR_WIDTH = 12
"""Narrowest core bar column; below it the cores are drawn as one cell each."""
NOT_AVAILABLE = "n/a"
_LEVELS = " ▁▂▃▄▅▆▇█"

CPU_PARTS = (("user", "usr"), ("system", "sys"), ("steal", "steal"), ("iowait", "iowait"))
"""The parts of a core bar, left to right: (`CoreUsage` field and palette name, legend)."""

Palette = Callable[[str], Style]
T = TypeVar("T")


def meter(
    label: str,
    parts: Sequence[tuple[float, Style]],
    text: str,
    width: int,
    label_style: Style | None = None,
) -> Text:
    """An htop meter, `label[|||||    text]`, exactly `width` cells wide.

    `parts` are (percent, style) stacked left to right; `text` is right-aligned inside the
    brackets and drawn over the end of the bar, as htop does.
    """
    inner = max(0, width - len(label) - 2)
    cells: list[tuple[str, Style]] = [(" ", Style())] * inner
    edge, total = 0, 0.0
    for percent, style in parts:
        total += max(0.0, percent)
        end = min(inner, round(total / 100 * inner))
        cells[edge:end] = [("|", style)] * max(0, end - edge)
        edge = max(edge, end)
    text = text[-inner:] if inner else ""
    cells[inner - len(text) :] = [(char, Style()) for char in text]
    label_style = label_style or Style()
    line = Text(label[:width], style=label_style, no_wrap=True, end="")
    if width >= len(label) + 2:
        line.append("[", label_style)
        for style, run in itertools.groupby(cells, key=lambda cell: cell[1]):
            line.append("".join(char for char, _ in run), style)
        line.append("]", label_style)
    return line


def core_layout(ncores: int, width: int, compact: bool) -> tuple[bool, int]:
    """(bars?, per_row): htop bars in `per_row` columns, or one cell per core if not bars.

    Bars: 1 column up to 4 cores, 2 up to 32, 4 beyond; compact mode pairs up to 4 cores on
    a line and draws more as one cell each so that even 64 cores take two or three rows.
    """
    columns = (
        (2 if ncores <= 4 else 0) if compact else 1 if ncores <= 4 else 2 if ncores <= 32 else 4
    )
    if columns and (width - columns + 1) // columns >= MIN_BAR_WIDTH:
        return True, columns
    digits = len(str(max(0, ncores - 1)))
    return False, max(1, width - digits - 1)


def core_rows(ncores: int, width: int, compact: bool) -> int:
    """Rows the core bars take for `ncores` cores in `width` cells."""
    _, per_row = core_layout(ncores, width, compact)
    return math.ceil(ncores / per_row) if ncores else 0


def draw_cores(cores: Sequence[CoreUsage], width: int, compact: bool, palette: Palette) -> Text:
    """The per-core bars (or cells) as lines of text `width` cells wide."""
    if not cores or width <= 0:
        return Text("", end="")
    bars, per_row = core_layout(len(cores), width, compact)
    digits = len(str(len(cores) - 1))
    label = palette("label")
    lines: list[Text] = []
    if bars:
        rows = math.ceil(len(cores) / per_row)
        column_width = (width - per_row + 1) // per_row
        for row in range(rows):
            line = Text(no_wrap=True, end="")
            # Column-major like htop: the left column holds the first half of the cores.
            for index in range(row, len(cores), rows):
                core = cores[index]
                if index >= rows:
                    line.append(" ")
                parts = [(getattr(core, part), palette(part)) for part, _ in CPU_PARTS]
                text = fmt_percent(core.busy)
                line.append_text(meter(f"{index:>{digits}}", parts, text, column_width, label))
            lines.append(line)
    else:
        for start in range(0, len(cores), per_row):
            line = Text(f"{start:>{digits}} ", style=label, no_wrap=True, end="")
            for core in cores[start : start + per_row]:
                level = _LEVELS[min(8, max(0, round(core.busy / 100 * 8)))]
                kind = max(
                    ("user", core.user), ("system", core.system), ("steal", core.steal),
                    key=lambda pair: pair[1],
                )[0]  # fmt: skip
                line.append(level if level != " " else "·", palette(kind))
            lines.append(line)
    return Text("\n", no_wrap=True, end="").join(lines)


def fields(pairs: Sequence[tuple[str, str]], label_style: Style, gap: str = "  ") -> Text:
    """`label value  label value …` on one line; an empty value shows as n/a."""
    line = Text(no_wrap=True, overflow="crop", end="")
    for i, (label, value) in enumerate(pairs):
        if i:
            line.append(gap)
        if label:
            line.append(f"{label} ", label_style)
        line.append(value or NOT_AVAILABLE)
    return line


def fields_within(
    pairs: Sequence[tuple[str, str]],
    label_style: Style,
    width: int,
    drop: Sequence[int],
    gap: str = " ",
) -> Text:
    """`fields` in at most `width` cells: whole pairs go, in the order `drop` gives their
    indexes, until the line fits (a pair cut in half would show a wrong figure); a pair not
    in `drop` stays even if the line is then too long. `width` 0: no limit."""
    shown = list(range(len(pairs)))
    line = fields(pairs, label_style, gap)
    for index in drop:
        if not width or line.cell_len <= width:
            break
        shown.remove(index)
        line = fields([pairs[i] for i in shown], label_style, gap)
    return line


def psi(pressure: Pressure | None, full: bool) -> str:
    """PSI avg10 as "some 0.50% full 0.10%" (or some avg10 avg60), n/a when absent."""
    if pressure is None:
        return NOT_AVAILABLE
    if full:
        return f"some {fmt_percent(pressure.some_avg10, 2)} full " + (
            fmt_percent(pressure.full_avg10, 2) or NOT_AVAILABLE
        )
    return f"{fmt_percent(pressure.some_avg10, 2)} {fmt_percent(pressure.some_avg60, 2)}"


def top(items: Sequence[T], limit: int, activity: Callable[[T], float]) -> list[T]:
    """The `limit` busiest items, kept in their original (the collector's) order."""
    if len(items) <= limit:
        return list(items)
    ranked = sorted(range(len(items)), key=lambda i: (-activity(items[i]), i))[:limit]
    return [items[i] for i in sorted(ranked)]


Column = tuple[str, int, int]  # header, width (gap included), priority (1 shows first)


def fit(columns: Sequence[Column], width: int) -> list[int]:
    """Indexes of the columns that fit in `width`, most important first, in display order."""
    chosen: list[int] = []
    used = 0
    for index in sorted(range(len(columns)), key=lambda i: columns[i][2]):
        if used + columns[index][1] <= width:
            chosen.append(index)
            used += columns[index][1]
    return sorted(chosen)


def table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[tuple[str, Sequence[tuple[str, Style]]]],
    width: int,
    header_style: Style,
) -> list[Text]:
    """A fixed-width text table: a name column, then the value columns that fit."""
    name_width = min(12, max([len(title), 4, *(len(literal(name).plain) for name, _ in rows)]))
    shown = fit(columns, width - name_width)
    header = Text(title.ljust(name_width), style=header_style, no_wrap=True, end="")
    for index in shown:
        header.append(columns[index][0].rjust(columns[index][1]), header_style)
    lines = [header]
    for name, values in rows:
        line = literal(name)
        line.truncate(name_width, overflow="ellipsis", pad=True)
        for index in shown:
            value, style = values[index]
            line.append(value.rjust(columns[index][1]), style)
        lines.append(line)
    return lines
