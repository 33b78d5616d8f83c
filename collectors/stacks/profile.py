"""Aggregate stack windows into what the Stacks pane, the exports and the snapshot show.

Pure functions over `StackWindow`s (model.py): nothing here samples, formats or renders.

- `select(windows, seconds, now)` picks the windows of the last N seconds of wall time;
- `merge(windows, threads, include_idle)` adds them up into a `Profile`: every distinct
  stack with its count, the threads seen, achieved vs requested rate, coverage;
- `Profile.top_functions(by)` ranks functions by own time (the function was the leaf, i.e.
  running) or total time (the function was anywhere on the stack; a recursive function is
  counted once per sample);
- `Profile.call_tree()` builds the root → callee tree with total and own counts;
- `icicle_rows(node, width)` lays a (sub)tree out in terminal columns, and `zoom(root, path)`
  finds the sub-node to lay out when the person zooms into a frame.

Function identity is `(name, file)`: the line number of a frame is where the function was
*at*, which varies from sample to sample, so it does not split a function in the tables or
in the tree. A function in the top table and a tree node show the line most of their
samples were at (names.py: every view shows a line).
Percentages are of all samples in the profile (after the thread and idle filters).

Torn stacks: py-spy sometimes reads a stack without its outermost frames (the thread moved
on while it was read). Left alone, each would be a root of its own beside the thread's real
one. `mend` puts such a stack back under the frames that lead to its outermost function in
the thread's whole stacks (the most sampled way there), or, when that function was never
seen below the root, under one `(torn stack)` frame: every sample is still counted once,
under the root, and nothing invents a caller that was never seen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .model import Frame, Stack, StackWindow

FunctionKey = tuple[str, str]  # (name, file)

TORN = Frame("(torn stack)", "")
"""The frame stacks torn by the sampler are counted under when nothing says where they go."""

ENTRIES = frozenset({"<module>", "_bootstrap", "_bootstrap_inner", "_shutdown"})
"""Functions (the last part of the name) a thread's stack may really start with."""


def _hottest(lines: Mapping[int, int]) -> int:
    """The line with the most samples (the lowest of equals); 0 when none is known."""
    known = {line: n for line, n in lines.items() if line}
    return min(known, key=lambda line: (-known[line], line)) if known else 0


def function_key(frame: Frame) -> FunctionKey:
    """The identity of the function a frame is in."""
    return (frame.name, frame.file)


def select(
    windows: Sequence[StackWindow], seconds: float, now: float | None = None
) -> tuple[StackWindow, ...]:
    """The windows of the last `seconds` of wall time before `now`.

    `now` defaults to the end of the newest window, not the clock, so the span still shows
    data once the target has ended or when the windows come from a file. A window belongs
    to the span when its midpoint is inside it (a 10 s span of 1 s windows is 10 windows,
    not 11). `seconds <= 0` or infinite means every window.
    """
    if not windows:
        return ()
    if now is None:
        now = max(w.started + w.duration for w in windows)
    if seconds <= 0 or seconds == float("inf"):
        return tuple(w for w in windows if w.started <= now)
    start = now - seconds
    return tuple(w for w in windows if start <= w.started + w.duration / 2 <= now)


@dataclass(frozen=True, slots=True)
class FunctionStat:
    """One function's share of a profile."""

    name: str
    file: str
    own: int  # samples where it was the leaf (running)
    total: int  # samples where it was anywhere on the stack (recursion counted once)
    own_percent: float  # of all samples in the profile
    total_percent: float
    line: int = 0  # the line most of its samples were at (own ones first); 0 if unknown


@dataclass(frozen=True, slots=True)
class ThreadStat:
    """One thread's share of a profile (before the thread filter)."""

    name: str
    thread_id: int
    samples: int
    idle: int  # of those, samples where the sampler saw it waiting

    @property
    def idle_only(self) -> bool:
        return self.samples > 0 and self.idle == self.samples


@dataclass(frozen=True, slots=True)
class CallNode:
    """A node of the call tree: one function reached through one path from the root.

    The root has `frame=None` and `path=()`; `total` is every sample through this node,
    `own` the samples that stopped here (this function was running). Children are sorted by
    total, largest first (ties by name, so the order is stable).
    """

    frame: Frame | None
    total: int
    own: int
    children: tuple[CallNode, ...] = ()
    path: tuple[FunctionKey, ...] = ()
    depth: int = 0

    @property
    def key(self) -> FunctionKey | None:
        return function_key(self.frame) if self.frame is not None else None

    def child(self, key: FunctionKey) -> CallNode | None:
        for node in self.children:
            if node.key == key:
                return node
        return None

    def walk(self) -> Iterable[CallNode]:
        """This node and every node below it, depth first, in child order."""
        yield self
        for node in self.children:
            yield from node.walk()


def zoom(root: CallNode, path: Sequence[FunctionKey]) -> CallNode | None:
    """The node at `path` (a node's `path`, from the tree's root), or None if it is gone.

    Paths rather than node objects, so a zoom survives the tree being rebuilt from newer
    windows: the same path finds the same place in the new tree. `path=()` is `root`.
    """
    node: CallNode | None = root
    for key in path:
        if node is None:
            return None
        node = node.child(key)
    return node


@dataclass(frozen=True, slots=True)
class Cell:
    """One box of an icicle row: `width` columns from column `start`."""

    start: int
    width: int
    node: CallNode

    @property
    def frame(self) -> Frame:
        assert self.node.frame is not None
        return self.node.frame

    @property
    def total(self) -> int:
        return self.node.total


def icicle_rows(
    node: CallNode, width: int, min_width: int = 1, max_depth: int | None = None
) -> list[list[Cell]]:
    """Lay out `node`'s subtree in `width` columns, one row per depth, callers on top.

    The first row is `node` itself across the whole width (or, for the root, its children).
    Each child gets a share of its parent's columns proportional to its total; shares are
    rounded on cumulative sums so they never add up to more than the parent. A cell narrower
    than `min_width` is dropped with everything below it. Rows below the last non-empty one
    are not returned.
    """
    rows: list[list[Cell]] = []
    if width <= 0 or node.total <= 0:
        return rows
    if node.frame is None:
        level = _share(node, 0, width, min_width)
    else:
        level = [Cell(0, width, node)]
    depth = 0
    while level and (max_depth is None or depth < max_depth):
        rows.append(level)
        following: list[Cell] = []
        for cell in level:
            following.extend(_share(cell.node, cell.start, cell.width, min_width))
        level = following
        depth += 1
    return rows


def _share(parent: CallNode, start: int, width: int, min_width: int) -> list[Cell]:
    cells: list[Cell] = []
    if parent.total <= 0:
        return cells
    before = 0
    for child in parent.children:
        left = start + (before * width) // parent.total
        before += child.total
        right = start + (before * width) // parent.total
        if right - left >= max(1, min_width):
            cells.append(Cell(left, right - left, child))
    return cells


@dataclass(slots=True)
class _Building:
    frame: Frame
    total: int = 0
    own: int = 0
    children: dict[FunctionKey, _Building] = field(default_factory=dict)
    lines: dict[int, int] = field(default_factory=dict)  # line -> samples at it


def _freeze(built: _Building, path: tuple[FunctionKey, ...], depth: int) -> CallNode:
    children = tuple(
        sorted(
            (_freeze(c, (*path, k), depth + 1) for k, c in built.children.items()),
            key=lambda n: (
                -n.total,
                n.frame.name if n.frame else "",
                n.frame.file if n.frame else "",
            ),
        )
    )
    return CallNode(built.frame, built.total, built.own, children, path, depth)


@dataclass(frozen=True, slots=True)
class Profile:
    """The sum of a span of windows, after the thread and idle filters."""

    stacks: tuple[tuple[Stack, int], ...]  # each distinct stack with its count, largest first
    windows: int  # how many windows were merged
    threads: tuple[ThreadStat, ...]  # every thread seen in the span (before filtering)
    started: float  # wall time of the first window's start (0 when empty)
    ended: float  # wall time of the last window's end
    sampled: float  # seconds the windows covered (sum of durations)
    ticks: int  # sampling instants in the span
    requested_rate: float  # mean requested rate, weighted by window duration
    errors: int = 0
    considered: int = 0  # samples of the threads shown, idle ones included (before `idle`)
    idle: int = 0  # of those, samples the sampler saw waiting (shown or not)

    @property
    def idle_share(self) -> float:
        """The share (0-1) of the shown threads' samples that were idle, hidden or not."""
        return self.idle / self.considered if self.considered > 0 else 0.0

    @property
    def samples(self) -> int:
        return sum(count for _, count in self.stacks)

    @property
    def span(self) -> float:
        """Wall seconds from the first window's start to the last one's end."""
        return max(0.0, self.ended - self.started)

    @property
    def coverage(self) -> float:
        """Sampled seconds / wall seconds (the gaps between windows are what is missing)."""
        return min(1.0, self.sampled / self.span) if self.span > 0 else 0.0

    @property
    def achieved_rate(self) -> float:
        """Sampling instants per sampled second."""
        return self.ticks / self.sampled if self.sampled > 0 else 0.0

    @property
    def thread_names(self) -> tuple[str, ...]:
        return tuple(sorted({t.name for t in self.threads}))

    def top_functions(
        self, by: Literal["own", "total"] = "own", limit: int | None = None
    ) -> list[FunctionStat]:
        """Functions ranked by own or total samples (ties: the other count, then name)."""
        own: dict[FunctionKey, int] = {}
        total: dict[FunctionKey, int] = {}
        own_lines: dict[FunctionKey, dict[int, int]] = {}
        lines: dict[FunctionKey, dict[int, int]] = {}
        for stack, count in self.stacks:
            if not stack.frames:
                continue
            leaf = function_key(stack.frames[-1])
            own[leaf] = own.get(leaf, 0) + count
            at = own_lines.setdefault(leaf, {})
            at[stack.frames[-1].line] = at.get(stack.frames[-1].line, 0) + count
            for key in {function_key(f) for f in stack.frames}:
                total[key] = total.get(key, 0) + count
            for frame in stack.frames:
                at = lines.setdefault(function_key(frame), {})
                at[frame.line] = at.get(frame.line, 0) + count
        samples = self.samples or 1
        stats = [
            FunctionStat(
                name,
                file,
                own.get((name, file), 0),
                count,
                100.0 * own.get((name, file), 0) / samples,
                100.0 * count / samples,
                _hottest(own_lines.get((name, file), {})) or _hottest(lines[(name, file)]),
            )
            for (name, file), count in total.items()
        ]
        if by == "own":
            stats.sort(key=lambda s: (-s.own, -s.total, s.name, s.file))
        else:
            stats.sort(key=lambda s: (-s.total, -s.own, s.name, s.file))
        return stats if limit is None else stats[:limit]

    def call_tree(self) -> CallNode:
        """Root (frame None) → children by function along each stack, with counts."""
        root = _Building(Frame("", ""))
        for stack, count in self.stacks:
            node = root
            node.total += count
            for frame in stack.frames:
                key = function_key(frame)
                child = node.children.get(key)
                if child is None:
                    child = node.children[key] = _Building(frame)
                child.lines[frame.line] = child.lines.get(frame.line, 0) + count
                child.total += count
                node = child
            node.own += count
        for built in _all(root):
            if len(built.lines) > 1:  # the samples disagree: the line most were at
                built.frame = dataclasses.replace(built.frame, line=_hottest(built.lines))
        tree = _freeze(root, (), 0)
        return CallNode(None, tree.total, tree.own, tree.children, (), 0)


def _all(node: _Building) -> Iterable[_Building]:
    yield node
    for child in node.children.values():
        yield from _all(child)


def merge(
    windows: Iterable[StackWindow],
    threads: Collection[str] | None = None,
    include_idle: bool = True,
) -> Profile:
    """Add up `windows` into one profile.

    `threads` keeps only the stacks of threads with those names (None: every thread);
    `include_idle=False` drops stacks the sampler saw waiting; `Profile.idle` and
    `Profile.considered` still count them, so what was hidden can be said. The rate
    (`ticks`) always counts every sampling instant, idle or not. `Profile.threads` lists
    every thread seen whatever the filters, so a pane can offer them all.
    """
    counts: dict[Stack, int] = {}
    seen: dict[tuple[str, int], list[int]] = {}
    n = 0
    started = float("inf")
    ended = 0.0
    sampled = 0.0
    ticks = 0
    errors = 0
    considered = 0
    idle = 0
    weighted_rate = 0.0
    for window in windows:
        n += 1
        started = min(started, window.started)
        ended = max(ended, window.started + window.duration)
        sampled += window.duration
        ticks += window.ticks
        errors += window.errors
        weighted_rate += window.requested_rate * window.duration
        for stack, count in window.stacks:
            entry = seen.setdefault((stack.thread, stack.thread_id), [0, 0])
            entry[0] += count
            if stack.idle:
                entry[1] += count
            if threads is not None and stack.thread not in threads:
                continue
            considered += count
            if stack.idle:
                idle += count
            counts[stack] = counts.get(stack, 0) + count
    counts = mend(counts)
    if not include_idle:
        counts = {stack: count for stack, count in counts.items() if not stack.idle}
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    return Profile(
        stacks=tuple(ordered),
        windows=n,
        threads=tuple(ThreadStat(name, tid, s, i) for (name, tid), (s, i) in sorted(seen.items())),
        started=started if n else 0.0,
        ended=ended,
        sampled=sampled,
        ticks=ticks,
        requested_rate=weighted_rate / sampled if sampled > 0 else 0.0,
        errors=errors,
        considered=considered,
        idle=idle,
    )


def _entry(frame: Frame) -> bool:
    return frame.native or frame.name.rpartition(".")[2] in ENTRIES


def mend(counts: Mapping[Stack, int]) -> dict[Stack, int]:
    """`counts` with every torn stack put back under its thread's root (see the module doc).

    Per thread (of each process): its root is the outermost function of most of its
    samples, among those a thread really starts with (`<module>`, `Thread._bootstrap`...)
    when there are any. A stack that starts elsewhere, with a function that is no such
    start, is torn. It goes under the frames that lead to that function in the whole stacks
    (where it is first met, the most sampled way there), else under `TORN`.
    """
    threads: dict[tuple[int, int, str], list[tuple[Stack, int]]] = {}
    for stack, count in counts.items():
        threads.setdefault((stack.process, stack.thread_id, stack.thread), []).append(
            (stack, count)
        )
    mended: dict[Stack, int] = {}
    for stacks in threads.values():
        roots: dict[FunctionKey, int] = {}
        entries: set[FunctionKey] = set()
        for stack, count in stacks:
            if stack.frames:
                key = function_key(stack.frames[0])
                roots[key] = roots.get(key, 0) + count
                if _entry(stack.frames[0]):
                    entries.add(key)
        choice = {k: n for k, n in roots.items() if k in entries} or roots
        root = max(choice, key=lambda k: (choice[k], k)) if choice else None
        whole: list[tuple[Stack, int]] = []
        torn: list[tuple[Stack, int]] = []
        for stack, count in stacks:
            first = stack.frames[0] if stack.frames else None
            broken = first is not None and function_key(first) != root and not _entry(first)
            (torn if broken else whole).append((stack, count))
        ways: dict[FunctionKey, dict[tuple[Frame, ...], int]] = {}
        for stack, count in whole:
            met: set[FunctionKey] = set()
            for depth, frame in enumerate(stack.frames[1:], 1):
                key = function_key(frame)
                if key in met:
                    continue
                met.add(key)
                way = ways.setdefault(key, {})
                way[stack.frames[:depth]] = way.get(stack.frames[:depth], 0) + count
        for stack, count in whole:
            mended[stack] = mended.get(stack, 0) + count
        for stack, count in torn:
            found = ways.get(function_key(stack.frames[0]))
            prefix = max(found, key=lambda p: (found[p], p)) if found else (TORN,)
            stack = dataclasses.replace(stack, frames=prefix + stack.frames)
            mended[stack] = mended.get(stack, 0) + count
    return mended


def recent(
    windows: Sequence[StackWindow],
    seconds: float,
    threads: Collection[str] | None = None,
    include_idle: bool = True,
    now: float | None = None,
) -> Profile:
    """`merge(select(windows, seconds, now), ...)`: what the pane shows for one span."""
    return merge(select(windows, seconds, now), threads, include_idle)
