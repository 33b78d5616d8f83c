"""`perftop open FILE`: a saved profile as a StackSample, for the same Stacks pane.

Two formats:

- a pyinstrument session (`.pyisession`, what `perftop run` saves and what
  `pyinstrument --outfile x.pyisession` or `Session.save` write), read with pyinstrument's
  own `Session.from_json` (the parser behind `Session.load`), so pyinstrument must be
  importable in perftop's environment for these files. Each record's time is counted in
  units of the session's interval (1 ms by default), as `perftop run` counts it live;
  functions get their qualified names as `perftop run` gives them (agent.py `Qualnames`,
  where the source files are still there); the
  root `<thread>` frame becomes the stack's thread; a stack is idle as `perftop run` marks
  it live (an `[await]` leaf, or a built-in that sleeps, selects or waits on a lock).
- a speedscope JSON file (https://www.speedscope.app/file-format-schema.json): every profile
  becomes one thread named after the profile. "sampled" profiles keep their samples: with
  a time unit, a sample counts its weight in units of the smallest weight (the sampling
  interval); with unit "none" the weight is the count. "evented" profiles (open/close
  events) are converted to sampled weights: the time between two events goes to the stack
  open then, counted in milliseconds.

The whole file is one window; its `started` is the session's start time (pyinstrument), or
the file's modification time minus the profile's length (speedscope has no clock time).
perftop's own speedscope export counts samples (unit "none") and keeps its rate, sampled
seconds and start under a `perftop` key, read back here.
Names and file names in these files are untrusted text. Anything else, or a file that does
not hold together, is a ValueError naming the file and saying why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...redact import redact
from .agent import THREAD_FILE, Qualnames, split_info
from .model import Frame, Stack, StackSample, StackTarget, StackWindow, waits

SECONDS_PER_UNIT = {
    "seconds": 1.0,
    "milliseconds": 1e-3,
    "microseconds": 1e-6,
    "nanoseconds": 1e-9,
    "none": None,  # weights are counts
}
EVENTED_UNIT = 0.001  # an evented profile's time is counted in milliseconds


def load(path: str | os.PathLike[str]) -> StackSample:
    """The profile saved in `path` (a .pyisession or speedscope JSON file)."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ValueError(f"{file}: cannot be read: {exc.strerror}") from exc
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{file}: not a profile: it is not JSON ({exc})") from exc
    try:
        if isinstance(document, dict) and "frame_records" in document:
            return _from_pyinstrument(file, document)
        if isinstance(document, dict) and "profiles" in document and "shared" in document:
            return _from_speedscope(file, document)
    except _Corrupt as exc:
        raise ValueError(f"{file}: {exc}") from None
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f"{file}: a damaged profile ({type(exc).__name__}: {exc})") from None
    raise ValueError(
        f"{file}: not a pyinstrument session or speedscope file "
        "(neither 'frame_records' nor 'profiles' and 'shared' at the top)"
    )


class _Corrupt(Exception):
    """Why a file that looked like a profile is not a valid one."""


def _sample(
    file: Path, window: StackWindow, threads: Sequence[str], kind: str, python: str = ""
) -> StackSample:
    return StackSample(
        time=window.started + window.duration,
        target=StackTarget(pid=0, command=str(file), mode="file", python=python),
        windows=(window,),
        ended=True,
        notice=f"{kind} opened from {file}",
        coverage=1.0 if window.samples else 0.0,
        threads=tuple(dict.fromkeys(threads)),
    )


# pyinstrument ---------------------------------------------------------------------------------


def _from_pyinstrument(file: Path, document: dict[str, Any]) -> StackSample:
    from pyinstrument.session import Session

    session = Session.from_json(document)
    unit = float(session.min_interval) or 0.001
    counts: dict[Stack, int] = {}
    per_thread: dict[int, int] = {}
    frames: dict[str, Frame] = {}
    qualnames = Qualnames()
    for stack, seconds in session.frame_records:
        if not isinstance(stack, list) or not stack:
            raise _Corrupt("a frame record without a stack")
        thread, thread_id, infos = "MainThread", 0, stack
        root = split_info(stack[0])
        if root[1] == THREAD_FILE:
            thread, thread_id, infos = root[0], root[2], stack[1:]
        if not infos:
            continue
        count = round(float(seconds) / unit)
        if count <= 0:
            continue
        path = tuple(
            frames.get(i) or frames.setdefault(i, _pyinstrument_frame(i, qualnames)) for i in infos
        )
        key = Stack(thread, thread_id, path, idle=waits(path[-1]))
        counts[key] = counts.get(key, 0) + count
        per_thread[thread_id] = per_thread.get(thread_id, 0) + count
    window = StackWindow(
        started=float(session.start_time),
        duration=float(session.duration),
        requested_rate=1.0 / unit,
        stacks=tuple(counts.items()),
        # One sampling instant is one sample of each thread, as py-spy's windows count it.
        ticks=max(per_thread.values(), default=0),
    )
    threads = [stack.thread for stack in counts]
    return _sample(file, window, threads or ["MainThread"], "pyinstrument session")


def _pyinstrument_frame(info: str, qualnames: Qualnames) -> Frame:
    name, where, line = qualnames.frame(info)
    if not isinstance(name, str) or not name:
        raise _Corrupt("a frame without a name")
    return Frame(name, where, line)


def save_session(sample: StackSample, path: str | os.PathLike[str]) -> Path:
    """Write `sample`'s windows as a pyinstrument session (`.pyisession`) to `path`.

    For profiles that have no session of their own (a program still running or killed
    before its agent saved one, a py-spy attach): one record per distinct stack, its time
    being samples / requested rate, so pyinstrument's aggregate views (not its timeline)
    show what the pane shows. Only the windows in `sample` are included.
    """
    from pyinstrument.session import Session

    totals: dict[tuple[str, ...], float] = {}
    for window in sample.windows:
        rate = window.requested_rate or window.achieved_rate or 1.0
        for stack, count in window.stacks:
            key = (
                f"{stack.thread}\x00{THREAD_FILE}\x00{stack.thread_id}",
                *(f"{f.name}\x00{f.file}\x00{f.line}" for f in stack.frames),
            )
            totals[key] = totals.get(key, 0.0) + count / rate
    # pyinstrument keeps identical prefixes as one frame only when their records are next
    # to each other, and trims the tree's stem down to `start_call_stack`, which it reads
    # without checking it is empty: the busiest thread's root is where "profiling started".
    records = sorted(totals.items())
    roots: dict[str, float] = {}
    for key, seconds in records:
        roots[key[0]] = roots.get(key[0], 0.0) + seconds
    start = [max(roots, key=roots.__getitem__)] if roots else [f"MainThread\x00{THREAD_FILE}\x000"]
    started = min((w.started for w in sample.windows), default=0.0)
    ended = max((w.started + w.duration for w in sample.windows), default=0.0)
    rate = max((w.requested_rate for w in sample.windows), default=0.0)
    interval = 1.0 / rate if rate > 0 else 0.001
    session = Session(
        frame_records=[(list(key), seconds) for key, seconds in records],
        start_time=started,
        duration=max(0.0, ended - started),
        min_interval=interval,
        max_interval=interval,
        sample_count=sum(w.samples for w in sample.windows),
        start_call_stack=start,
        target_description=redact(sample.target.command),  # a file perftop writes
        cpu_time=0.0,
        sys_path=[],
        sys_prefixes=[],
    )
    target = Path(path)
    session.save(target)
    return target


# speedscope -----------------------------------------------------------------------------------


def _from_speedscope(file: Path, document: dict[str, Any]) -> StackSample:
    shared = document["shared"]
    frames = [_speedscope_frame(n, f) for n, f in enumerate(shared["frames"])]
    profiles = document["profiles"]
    if not isinstance(profiles, list) or not profiles:
        raise _Corrupt("a speedscope file with no profiles")
    counts: dict[Stack, int] = {}
    threads: list[str] = []
    start, end = float("inf"), float("-inf")
    rates: list[float] = []
    most = 0  # samples of the busiest thread: its sampling instants
    for number, profile in enumerate(profiles, 1):
        kind = profile.get("type") if isinstance(profile, dict) else None
        unit = profile.get("unit", "none") if isinstance(profile, dict) else None
        if unit not in SECONDS_PER_UNIT:
            raise _Corrupt(
                f"profile {number} is in unit {unit!r}: perftop reads time or sample profiles"
            )
        thread = str(profile.get("name") or f"profile {number}")
        threads.append(thread)
        factor = SECONDS_PER_UNIT[unit]
        if kind == "sampled":
            found, rate = _sampled(profile, frames, factor, number)
        elif kind == "evented":
            found, rate = _evented(profile, frames, factor, number)
        else:
            raise _Corrupt(
                f"profile {number} has type {kind!r}: perftop reads 'sampled' and 'evented'"
            )
        rates.append(rate)
        most = max(most, sum(found.values()))
        for path, count in found.items():
            stack = Stack(thread, 0, path, idle=waits(path[-1]))
            counts[stack] = counts.get(stack, 0) + count
        if factor is not None:
            start = min(start, float(profile["startValue"]) * factor)
            end = max(end, float(profile["endValue"]) * factor)
    duration = max(0.0, end - start) if end >= start else 0.0
    started = file.stat().st_mtime - duration
    clock = document.get("perftop") if document.get("exporter") == "perftop" else None
    if isinstance(clock, dict):  # perftop's own export: counts, with the clock kept apart
        duration = max(0.0, float(clock["seconds"]))
        started = float(clock["started"])
        rates = [max(0.0, float(clock["rate"]))]
    window = StackWindow(
        started=started,
        duration=duration,
        requested_rate=max(rates, default=0.0),
        stacks=tuple(counts.items()),
        ticks=most,
    )
    return _sample(file, window, threads, "speedscope profile")


def _speedscope_frame(number: int, raw: Any) -> Frame:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise _Corrupt(f"shared frame {number} has no name")
    line = raw.get("line", 0)
    return Frame(raw["name"], str(raw.get("file") or ""), line if isinstance(line, int) else 0)


def _path(frames: list[Frame], indexes: Sequence[Any], number: int) -> tuple[Frame, ...]:
    if not all(isinstance(i, int) and 0 <= i < len(frames) for i in indexes):
        raise _Corrupt(f"profile {number} refers to a frame that is not in shared.frames")
    return tuple(frames[i] for i in indexes)


def _sampled(
    profile: dict[str, Any], frames: list[Frame], factor: float | None, number: int
) -> tuple[dict[tuple[Frame, ...], int], float]:
    samples = profile["samples"]
    weights = profile.get("weights") or [1] * len(samples)
    if len(weights) != len(samples):
        raise _Corrupt(f"profile {number} has {len(samples)} samples but {len(weights)} weights")
    if factor is None:
        unit, rate = 1.0, 0.0  # weights are counts; the rate is not known
    else:
        positive = [float(w) for w in weights if float(w) > 0]
        unit = min(positive, default=1.0)
        rate = 1.0 / (unit * factor) if positive else 0.0
    found: dict[tuple[Frame, ...], int] = {}
    for indexes, weight in zip(samples, weights, strict=True):
        count = round(float(weight) / unit)
        path = _path(frames, indexes, number)
        if path and count > 0:
            found[path] = found.get(path, 0) + count
    return found, rate


def _evented(
    profile: dict[str, Any], frames: list[Frame], factor: float | None, number: int
) -> tuple[dict[tuple[Frame, ...], int], float]:
    if factor is None:
        raise _Corrupt(f"profile {number} is evented without a time unit")
    open_: list[int] = []
    found: dict[tuple[Frame, ...], int] = {}
    last = float(profile["startValue"])
    spent: dict[tuple[int, ...], float] = {}

    def account(until: float) -> None:
        if open_ and until > last:
            key = tuple(open_)
            spent[key] = spent.get(key, 0.0) + (until - last) * factor

    for event in profile["events"]:
        at = float(event["at"])
        if at < last:
            raise _Corrupt(f"profile {number} has events out of order (at {at} after {last})")
        account(at)
        last = at
        frame = event["frame"]
        if event["type"] == "O":
            _path(frames, [frame], number)
            open_.append(frame)
        elif event["type"] == "C":
            if not open_ or open_[-1] != frame:
                raise _Corrupt(f"profile {number} closes frame {frame} which is not open on top")
            open_.pop()
        else:
            raise _Corrupt(f"profile {number} has an event of type {event['type']!r}")
    account(float(profile["endValue"]))
    for key, seconds in spent.items():
        count = round(seconds / EVENTED_UNIT)
        if count > 0:
            path = _path(frames, key, number)
            found[path] = found.get(path, 0) + count
    return found, 1.0 / EVENTED_UNIT
