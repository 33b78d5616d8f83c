"""profile.py: merging windows, ranking functions, the call tree and the icicle layout."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from perftop.collectors.stacks.model import Frame, Stack, StackWindow
from perftop.collectors.stacks.profile import icicle_rows, merge, select, zoom

MAIN = Frame("main", "app.py", 10)
BURN = Frame("burn_cpu", "app.py", 3)
REC = Frame("recurse", "app.py", 20)
SLEEP = Frame("sleeper", "app.py", 30)


def window(started: float, stacks: list[tuple[Stack, int]], ticks: int = 100) -> StackWindow:
    return StackWindow(started, 1.0, 100.0, tuple(stacks), ticks=ticks)


def fixed() -> StackWindow:
    return window(
        0.0,
        [
            (Stack("MainThread", 1, (MAIN, BURN)), 60),
            (Stack("MainThread", 1, (MAIN, REC, REC, REC)), 30),
            (Stack("sleepy", 2, (SLEEP,), idle=True), 10),
        ],
    )


def test_own_ranks_the_running_function_and_total_counts_recursion_once() -> None:
    profile = merge([fixed()])
    own = profile.top_functions("own")
    assert [(s.name, s.own) for s in own[:3]] == [
        ("burn_cpu", 60),
        ("recurse", 30),
        ("sleeper", 10),
    ]
    total = {s.name: s for s in profile.top_functions("total")}
    assert total["main"].total == 90 and total["main"].own == 0
    assert total["recurse"].total == 30  # three frames deep, counted once per sample
    assert total["main"].total_percent == 90.0 and total["burn_cpu"].own_percent == 60.0
    assert profile.top_functions("total")[0].name == "main"


def test_line_numbers_do_not_split_a_function() -> None:
    other_line = Frame("burn_cpu", "app.py", 4)
    w = window(0.0, [(Stack("T", 1, (MAIN, BURN)), 5), (Stack("T", 1, (MAIN, other_line)), 7)])
    profile = merge([w])
    assert [(s.name, s.own) for s in profile.top_functions()][:1] == [("burn_cpu", 12)]
    # Every view shows a line: where the samples disagree, the one most of them were at.
    assert profile.top_functions()[0].line == 4  # 7 samples at line 4, 5 at line 3
    node = profile.call_tree().children[0].children[0]
    assert node.total == 12 and node.frame is not None and node.frame.line == 4
    assert profile.call_tree().children[0].frame == MAIN  # one line for main: kept


def test_call_tree_counts_and_order() -> None:
    tree = merge([fixed()]).call_tree()
    assert tree.frame is None and tree.total == 100
    assert [(c.frame.name, c.total) for c in tree.children if c.frame] == [
        ("main", 90),
        ("sleeper", 10),
    ]
    main = tree.children[0]
    assert [c.frame.name for c in main.children if c.frame] == ["burn_cpu", "recurse"]
    burn = main.children[0]
    assert (burn.own, burn.total, burn.depth) == (60, 60, 2)
    deepest = zoom(tree, [("main", "app.py"), ("recurse", "app.py")] + [("recurse", "app.py")] * 2)
    assert deepest is not None and deepest.own == 30 and deepest.children == ()
    assert zoom(tree, [("nope", "x.py")]) is None
    assert zoom(tree, ()) is tree


def test_filters_threads_and_idle_but_lists_every_thread() -> None:
    assert merge([fixed()], include_idle=False).samples == 90
    only = merge([fixed()], threads={"sleepy"})
    assert only.samples == 10 and only.thread_names == ("MainThread", "sleepy")
    stats = {t.name: t for t in only.threads}
    assert stats["sleepy"].idle_only and not stats["MainThread"].idle_only


def test_rate_and_coverage_over_a_span_with_gaps() -> None:
    windows = [window(float(i) * 1.25, [(Stack("T", 1, (MAIN,)), 95)], ticks=95) for i in range(4)]
    profile = merge(windows)
    assert profile.sampled == 4.0 and profile.span == 4.75
    assert abs(profile.coverage - 4.0 / 4.75) < 1e-9
    assert profile.achieved_rate == 95.0 and profile.requested_rate == 100.0
    assert merge([]).coverage == 0.0 and merge([]).achieved_rate == 0.0


def test_select_takes_the_last_seconds_of_wall_time() -> None:
    windows = [window(float(i), [(Stack("T", 1, (MAIN,)), 1)]) for i in range(100)]
    assert [w.started for w in select(windows, 10)] == [float(i) for i in range(90, 100)]
    assert len(select(windows, 10, now=50.0)) == 10
    assert len(select(windows, 0)) == 100 and select([], 10) == ()


def test_icicle_shares_the_parent_width() -> None:
    tree = merge([fixed()]).call_tree()
    rows = icicle_rows(tree, 100)
    assert [(c.start, c.width, c.frame.name) for c in rows[0]] == [
        (0, 90, "main"),
        (90, 10, "sleeper"),
    ]
    assert [(c.start, c.width, c.frame.name) for c in rows[1]] == [
        (0, 60, "burn_cpu"),
        (60, 30, "recurse"),
    ]
    assert len(rows) == 4  # main, recurse ×3
    a, b, c = Frame("a", "x.py"), Frame("b", "x.py"), Frame("c", "x.py")
    small = window(
        0.0,
        [
            (Stack("T", 1, (MAIN, a)), 98),
            (Stack("T", 1, (MAIN, b, BURN)), 1),
            (Stack("T", 1, (MAIN, c)), 1),
        ],
    )
    narrow = icicle_rows(merge([small]).call_tree(), 10)
    # b's share is 0.1 column: dropped with what is below it; c ends the row.
    assert [(x.start, x.width, x.frame.name) for x in narrow[1]] == [(0, 9, "a"), (9, 1, "c")]
    assert len(narrow) == 2
    assert [x.frame.name for x in icicle_rows(merge([small]).call_tree(), 10, min_width=2)[1]] == [
        "a"
    ]
    zoomed = icicle_rows(tree.children[0].children[1], 40)
    assert [(c.start, c.width) for c in zoomed[0]] == [(0, 40)] and len(zoomed) == 3


@given(
    st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=12), st.integers(1, 300)
)
def test_icicle_cells_never_overlap_or_overflow(counts: list[int], width: int) -> None:
    frames = [Frame(f"f{i}", "x.py") for i in range(len(counts))]
    stacks = [(Stack("T", 1, (MAIN, f)), c) for f, c in zip(frames, counts, strict=True)]
    rows = icicle_rows(merge([window(0.0, stacks)]).call_tree(), width)
    for row in rows:
        ends = 0
        for cell in sorted(row, key=lambda c: c.start):
            assert cell.start >= ends and cell.width >= 1
            ends = cell.start + cell.width
        assert ends <= width


def test_idle_hidden_is_counted_and_said_and_the_rate_keeps_idle_ticks() -> None:
    """Item 8: a program asleep 76% of the time. Hiding idle samples must not hide that they
    were there, nor lower the rate (every instant was sampled, idle or not)."""
    from perftop.tui.stack_views import idle_text

    asleep = window(
        0.0,
        [
            (Stack("MainThread", 1, (MAIN, BURN)), 24),
            (Stack("MainThread", 1, (MAIN, Frame("sleep", "<built-in>", 0)), idle=True), 76),
        ],
    )
    hidden = merge([asleep], include_idle=False)
    assert hidden.samples == 24 and hidden.idle == 76 and hidden.considered == 100
    assert hidden.idle_share == 0.76
    assert hidden.achieved_rate == 100.0  # 100 ticks in 1 s, the idle ones too
    assert idle_text(hidden, shown=False) == "idle: 76% hidden (i shows)"
    shown = merge([asleep])
    assert shown.samples == 100 and shown.idle_share == 0.76
    assert idle_text(shown, shown=True) == "idle: 76% shown (i hides)"
    assert idle_text(merge([window(0.0, [(Stack("M", 1, (MAIN,)), 5)])]), False) == "idle: none"
    # The thread filter narrows what the share is of.
    assert merge([fixed()], threads=("MainThread",)).idle_share == 0.0
    assert merge([fixed()], threads=("sleepy",)).idle_share == 1.0
