"""The measurements: CPU use and peak RSS in a pty, time to first frame, one collection tick."""

from __future__ import annotations

import contextlib
import re
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from . import probes, tmux
from .subjects import Subject
from .terminal import COLUMNS, LINES, PtySession


@dataclass(frozen=True, slots=True)
class CpuRun:
    """One subject's cost over one measurement window."""

    percent: float | None  # CPU time over wall time, % of one core; None if it failed
    per_second: tuple[float, ...] = ()  # the same, second by second, for the spread
    peak_rss: int | None = None  # VmHWM in bytes, read at the end of the window
    error: str | None = None
    processes: tuple[int, int] = (0, 0)  # on the machine at the window's start and end


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and 90th percentile of repeated timings, with the timings themselves."""

    median: float
    p90: float
    runs: tuple[float, ...] = field(default=())

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of at least one value."""
        if len(values) == 1:
            return cls(values[0], values[0], tuple(values))
        p90 = statistics.quantiles(values, n=10, method="inclusive")[-1]
        return cls(statistics.median(values), p90, tuple(values))


def cpu_use(
    subjects: Sequence[Subject],
    env: Mapping[str, str],
    warmup: float,
    window: float,
    cwd: str | None = None,
) -> dict[str, CpuRun]:
    """Run `subjects` side by side, each in its own pty, and measure each over `window` s.

    Start-up (imports, the first full scan) is excluded by the `warmup`. Passing one
    subject at a time measures them one after the other; passing several runs them at
    once, which is quicker and gives each the same machine state.
    """
    results: dict[str, CpuRun] = {}
    with contextlib.ExitStack() as stack:
        sessions = {
            s.name: stack.enter_context(PtySession(s.argv, {**env, **s.env}, cwd=cwd))
            for s in subjects
        }
        time.sleep(warmup)
        begin: dict[str, tuple[float, float]] = {}
        for name, session in sessions.items():
            if not session.alive():
                results[name] = _failed(session, "during start-up")
                continue
            try:
                begin[name] = (time.perf_counter(), probes.tree_cpu_seconds(session.pid))
            except ProcessLookupError:
                results[name] = _failed(session, "during start-up")
        at_start = probes.count_processes()
        marks = dict(begin)
        seconds: dict[str, list[float]] = {name: [] for name in begin}
        end = time.perf_counter() + window
        while (left := end - time.perf_counter()) > 0:
            time.sleep(min(1.0, left))
            for name in list(marks):
                session = sessions[name]
                try:
                    now, cpu = time.perf_counter(), probes.tree_cpu_seconds(session.pid)
                except ProcessLookupError:
                    results[name] = _failed(session, "during the window")
                    del marks[name]
                    continue
                last_wall, last_cpu = marks[name]
                seconds[name].append(100 * (cpu - last_cpu) / (now - last_wall))
                marks[name] = (now, cpu)
        for name, (wall, cpu) in marks.items():
            session = sessions[name]
            results[name] = CpuRun(
                percent=100 * (cpu - begin[name][1]) / (wall - begin[name][0]),
                per_second=tuple(seconds[name]),
                peak_rss=probes.peak_rss_bytes(session.pid),
                processes=(at_start, probes.count_processes()),
            )
    return {s.name: results[s.name] for s in subjects}


def _failed(session: PtySession, when: str) -> CpuRun:
    assert session.process is not None
    code = session.process.poll()
    tail = session.last_words()
    detail = f"; it wrote: {tail}" if tail else ""
    return CpuRun(None, error=f"exited {when} with code {code}{detail}")


def table_ready(lines: Sequence[str], header: Sequence[str] = ("PID", "COMMAND")) -> bool:
    """Whether the screen shows a process table: the header and one row with real data.

    The header is a line with every word of `header` (any case) and a CPU column; a data
    row is a later line with a number under PID and a digit under CPU.
    """
    for i, line in enumerate(lines):
        upper = line.upper()
        if not all(_word_span(upper, word.upper()) for word in header):
            continue
        pid = _word_span(upper, "PID")
        cpu = next((s for w in ("CPU%", "%CPU") if (s := _word_span(upper, w))), None)
        if pid is None or cpu is None:
            continue
        for row in lines[i + 1 :]:
            under_pid = _token_under(row, pid)
            under_cpu = _token_under(row, cpu)
            if under_pid.isdigit() and any(c.isdigit() for c in under_cpu):
                return True
    return False


def _word_span(line: str, word: str) -> tuple[int, int] | None:
    # A whole word only: "PID", not "PPID" or "TGID".
    found = re.search(rf"(?<![A-Z0-9]){re.escape(word)}(?![A-Z0-9])", line)
    return found.span() if found else None


def _token_under(row: str, span: tuple[int, int]) -> str:
    """The first whitespace-separated token of `row` overlapping the columns of `span`."""
    start, end = span
    for token in re.finditer(r"\S+", row):
        if token.start() < end and token.end() > start:
            return token.group()
    return ""


def panes_ready(lines: Sequence[str], panes: Sequence[str]) -> bool:
    """Whether every pattern of `panes` (the CPU and the memory pane) matches a line."""
    return all(any(re.search(pattern, line) for line in lines) for pattern in panes)


def first_frame(
    subject: Subject,
    env: Mapping[str, str],
    launches: int,
    timeout: float = 20.0,
    cwd: str | None = None,
) -> tuple[Spread | None, str | None]:
    """Seconds from launch until the CPU and the memory pane are drawn with figures.

    In a 120x40 tmux window (`benchmarks.tmux`), where tmux is installed; in a pty read
    by an emulator otherwise. Over `launches` launches; returns their spread, or None and
    what the screen showed.
    """

    def check(lines: Sequence[str]) -> bool:
        return panes_ready(lines, subject.panes)

    times = []
    for _ in range(launches):
        if tmux.available():
            with tmux.TmuxWindow(env) as window:
                window.launch(subject.argv, subject.env, cwd)
                took = window.wait_for(check, timeout)
                screen = window.screen() if took is None else []
        else:
            with PtySession(subject.argv, {**env, **subject.env}, emulate=True, cwd=cwd) as pty:
                took = pty.wait_for(check, timeout)
                screen = pty.display() if took is None else []
        if took is None:
            shown = " | ".join(line.strip() for line in screen if line.strip())
            return None, f"no CPU and memory pane within {timeout:g} s; screen: {shown[-300:]}"
        times.append(took)
    return Spread.of(times), None


def terminal() -> str:
    """Where first frames are measured."""
    where = "tmux" if tmux.available() else "a pty (no tmux here)"
    return f"{where}, {COLUMNS}x{LINES}"


def tick_cost(ticks: int, spacing: float) -> tuple[Spread, Spread, dict[str, float], int]:
    """Time `collect()` of every default collector, in-process, over `ticks` ticks.

    Returns the spread of whole-tick CPU times (this thread's, so a busy machine does not
    inflate them) and of wall times, in seconds; the median CPU time per collector; and how
    many processes the last tick saw. Ticks are `spacing` s apart so that per-process
    caches age as they would in a session (a command line is re-read every few seconds).
    """
    from perftop.collectors.system import default_collectors

    collectors = default_collectors(1.0)
    cpu_totals: list[float] = []
    wall_totals: list[float] = []
    each: dict[str, list[float]] = {c.source: [] for c in collectors}
    for _ in range(ticks):
        time.sleep(spacing)
        wall_started = time.perf_counter()
        for collector in collectors:
            started = time.thread_time()
            collector.collect()
            each[collector.source].append(time.thread_time() - started)
        wall_totals.append(time.perf_counter() - wall_started)
        cpu_totals.append(sum(times[-1] for times in each.values()))
    return (
        Spread.of(cpu_totals),
        Spread.of(wall_totals),
        {source: statistics.median(times) for source, times in each.items()},
        probes.count_processes(),
    )
