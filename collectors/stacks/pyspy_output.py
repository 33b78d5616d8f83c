"""What py-spy writes, read: `record -f raw` lines, `dump --json`, and which stacks wait.

Raw lines, as py-spy 0.4 writes them here (one per distinct stack, root first):

    [process PID:"CMDLINE";]... thread (TID): NAME;FRAME;FRAME;... COUNT

with `FRAME` = `name (file:line)` for Python, `name (lib.so)` or `0xADDR (lib.so)` for
native frames (`--native`), and the `process` prefixes only with `--subprocesses` (one per
process from the one attached to down to the one sampled). The sampler always passes
`--threads` so every line names its thread (`thread (TID);` alone when py-spy knows no
name), and `--full-filenames`, so files are full paths as pyinstrument gives them (names.py
shortens both the same way; without it py-spy cuts them at the sys.path entry, and
`json/encoder.py` could be the standard library's or anyone's).

Idle: the sampler always passes `--idle`, so every thread is in every sample, idle or
not, and the rate is the real one (without it, a program that sleeps looked like a sampler
that fails: "15.5 Hz of 100 Hz"). But `record` does not say which samples were idle; `py-spy
dump --json` does, per thread (`active`, from the thread's state in the OS). So while it
samples, the sampler also runs one nonblocking dump a window (pyspy.py), and `IdleStacks`
learns from each which stacks py-spy saw waiting; a window's stacks are marked idle by what
was learned, and the windows kept are marked again when that changes. A stack never seen in
a dump counts as running. The screen hides idle samples by default and says how many.

Ticks (for the achieved rate) are the sample count of the busiest thread in the window:
with `--idle` every thread is sampled at every tick, so this is exact. py-spy's own
"Samples: N" line counts one per thread per tick, so it is not the tick count as soon as
there are two threads.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import replace

from .model import Frame, Stack, StackWindow

# Parsing --------------------------------------------------------------------------------------

_PROCESS = re.compile(r'process (\d+):"(.*?)"(?:;|$)')
_THREAD = re.compile(r"thread \((\d+)\)(?:: |;|$)")  # no name: py-spy knows none
_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def parse_frame(text: str) -> Frame:
    """One raw frame: `name (file:line)`; native frames have no line and no `.py` file."""
    match = _FRAME.match(text)
    if match is None:
        return Frame(text, "", 0, native=text.startswith("0x"))
    file = match["file"]
    line = int(match["line"]) if match["line"] else 0
    native = not line and not file.endswith((".py", ".pyx", ".pyw"))
    return Frame(match["name"], file, line, native)


def parse_raw_line(line: str, gil: bool = False) -> tuple[Stack, int] | None:
    """One line of `py-spy record -f raw` output as a stack and its count (None if blank)."""
    line = line.rstrip("\n")
    head, _, count_text = line.rpartition(" ")
    if not head or not count_text.isdigit():
        return None
    rest = head
    process = 0
    while match := _PROCESS.match(rest):
        process = int(match[1])
        rest = rest[match.end() :]
    thread, thread_id = "", 0
    if match := _THREAD.match(rest):
        thread_id = int(match[1])
        rest = rest[match.end() :]
        if match[0].endswith(": "):
            thread, _, rest = rest.partition(";")
    frames = tuple(parse_frame(part) for part in rest.split(";") if part)
    return Stack(thread, thread_id, frames, gil=gil, process=process), int(count_text)


def parse_raw(
    text: str, started: float, duration: float, rate: float, gil: bool = False
) -> StackWindow:
    """A whole raw file as one window. Ticks: the busiest thread's sample count."""
    counts: dict[Stack, int] = {}
    per_thread: dict[tuple[int, int], int] = {}
    for line in text.splitlines():
        parsed = parse_raw_line(line, gil)
        if parsed is None:
            continue
        stack, count = parsed
        counts[stack] = counts.get(stack, 0) + count
        key = (stack.process, stack.thread_id)
        per_thread[key] = per_thread.get(key, 0) + count
    return StackWindow(
        started=started,
        duration=duration,
        requested_rate=rate,
        stacks=tuple(counts.items()),
        ticks=max(per_thread.values(), default=0),
    )


_SUMMARY = re.compile(r"Samples: (\d+) Errors: (\d+)")


def parse_errors(output: str) -> int:
    """py-spy's "Errors: N" from its closing line (0 if absent)."""
    match = _SUMMARY.search(output)
    return int(match[2]) if match else 0


def parse_dump(text: str) -> tuple[Stack, ...]:
    """`py-spy dump --json` as one stack per thread (root first; idle = not active; files
    as full paths, as the windows have them)."""
    stacks = []
    for thread in json.loads(text):
        frames = tuple(
            Frame(
                str(f.get("name", "")),
                str(f.get("filename") or f.get("short_filename") or ""),
                int(f.get("line") or 0),
            )
            for f in reversed(thread.get("frames") or [])
        )
        stacks.append(
            Stack(
                thread=str(thread.get("thread_name") or ""),
                thread_id=int(thread.get("os_thread_id") or 0),
                frames=frames,
                idle=not thread.get("active", True),
                gil=bool(thread.get("owns_gil", False)),
                process=int(thread.get("pid") or 0),
            )
        )
    return tuple(stacks)


# Idle stacks ----------------------------------------------------------------------------------

StackKey = tuple[tuple[str, str, int], ...]


def stack_key(frames: tuple[Frame, ...]) -> StackKey:
    """A stack as `record` and `dump` both give it: the Python frames' names, file names
    (the last part: one may be shortened, the other not) and lines; native frames (which a
    nonblocking dump has not) are left out."""
    return tuple((f.name, os.path.basename(f.file), f.line) for f in frames if not f.native)


class IdleStacks:
    """Which stacks py-spy saw waiting, learned from `py-spy dump --json`.

    Each dump says, for every thread, its stack and whether the OS had it running. A stack
    is idle when it was seen idle more often than running. At most `keep` stacks are
    remembered (the oldest forgotten first), so a long attach stays bounded."""

    def __init__(self, keep: int = 10_000) -> None:
        self.keep = keep
        self._seen: dict[StackKey, list[int]] = {}  # key -> [times idle, times running]

    def learn(self, stacks: Iterable[Stack]) -> bool:
        """Count what a dump saw; True when a stack's verdict changed (or a new one is idle)."""
        changed = False
        for stack in stacks:
            key = stack_key(stack.frames)
            if not key:
                continue
            counts = self._seen.pop(key, None)
            before = counts is not None and counts[0] > counts[1]
            counts = counts or [0, 0]
            counts[0 if stack.idle else 1] += 1
            self._seen[key] = counts  # newest last: the first ones are forgotten first
            changed = changed or before != (counts[0] > counts[1])
        while len(self._seen) > self.keep:
            del self._seen[next(iter(self._seen))]
        return changed

    def idle(self, frames: tuple[Frame, ...]) -> bool:
        counts = self._seen.get(stack_key(frames))
        return counts is not None and counts[0] > counts[1]

    def mark(self, window: StackWindow) -> StackWindow:
        """`window` with each stack's `idle` as learned (the same object if none changed)."""
        marked: dict[Stack, int] = {}
        changed = False
        for stack, count in window.stacks:
            idle = self.idle(stack.frames)
            if idle != stack.idle:
                changed = True
                stack = replace(stack, idle=idle)
            marked[stack] = marked.get(stack, 0) + count
        return replace(window, stacks=tuple(marked.items())) if changed else window
