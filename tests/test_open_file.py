"""`perftop open FILE`: saved speedscope and pyinstrument files become the pane's StackSample.

The fixtures in tests/fixtures/stacks_files are small on purpose: the speedscope ones are
written by hand so every count below is worked out from the file; tiny.pyisession was
written by pyinstrument 5.1.3 itself (`pyinstrument -i 0.005 -r pyisession`) profiling a
`burn_cpu()` loop called from `main()` for 0.2 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from perftop.collectors.stacks import files
from perftop.collectors.stacks.model import Frame
from perftop.collectors.stacks.profile import merge

FIXTURES = Path(__file__).parent / "fixtures" / "stacks_files"


def own(path: Path) -> dict[str, int]:
    profile = merge(files.load(path).windows)
    return {f.name: f.own for f in profile.top_functions() if f.own}


def test_speedscope_sampled_counts_weights_in_units_of_the_sampling_interval() -> None:
    sample = files.load(FIXTURES / "sampled.speedscope.json")
    assert sample.target.mode == "file" and sample.ended
    assert sample.threads == ("MainThread", "worker")
    # 4 samples of 10 ms and one of 20 ms in burn_cpu; 2 in wait; 1 in main itself.
    assert own(FIXTURES / "sampled.speedscope.json") == {"burn_cpu": 6, "wait": 4, "main": 1}
    (window,) = sample.windows
    assert window.requested_rate == pytest.approx(100.0)
    assert window.duration == pytest.approx(0.1)
    assert window.samples == 11
    main_stacks = [s for s, _ in window.stacks if s.thread == "MainThread"]
    assert Frame("burn_cpu", "app.py", 3) in {s.frames[-1] for s in main_stacks}
    assert all(s.frames[0].name == "main" for s in main_stacks)


def test_speedscope_evented_becomes_milliseconds_on_the_open_stack() -> None:
    sample = files.load(FIXTURES / "evented.speedscope.json")
    (window,) = sample.windows
    stacks = {tuple(f.name for f in s.frames): n for s, n in window.stacks}
    assert stacks == {("main",): 1, ("main", "burn_cpu"): 7, ("main", "wait"): 2}
    assert window.duration == pytest.approx(0.010)
    assert window.requested_rate == pytest.approx(1000.0)


def test_pyinstrument_session_file() -> None:
    sample = files.load(FIXTURES / "tiny.pyisession")
    profile = merge(sample.windows)
    top = profile.top_functions()[0]
    assert top.name == "burn_cpu" and top.own == profile.samples == 40
    assert sample.threads == ("MainThread",)
    names = [node.frame.name for node in profile.call_tree().walk() if node.frame]
    assert names.index("main", names.index("run_path")) < names.index("burn_cpu")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("truncated.speedscope.json", "not JSON"),
        ("unbalanced.speedscope.json", "closes frame 0 which is not open on top"),
        ("memory.speedscope.json", "unit 'bytes'"),
    ],
)
def test_corrupt_files_say_which_and_why(name: str, why: str) -> None:
    with pytest.raises(ValueError) as raised:
        files.load(FIXTURES / name)
    assert name in str(raised.value) and why in str(raised.value)


def test_unknown_and_missing_files(tmp_path: Path) -> None:
    other = tmp_path / "notes.json"
    other.write_text('{"hello": "world"}')
    with pytest.raises(ValueError, match="notes.json: not a pyinstrument session or speedscope"):
        files.load(other)
    with pytest.raises(ValueError, match="gone.pyisession: cannot be read"):
        files.load(tmp_path / "gone.pyisession")
    damaged = tmp_path / "damaged.pyisession"
    damaged.write_text('{"frame_records": [[["x\\u0000f.py\\u00001"], 0.5]]}')
    with pytest.raises(ValueError, match="damaged.pyisession: a damaged profile"):
        files.load(damaged)


def test_a_saved_session_marks_sleep_idle_as_perftop_run_did(tmp_path: Path) -> None:
    """Item 8: under `perftop run` a program asleep 76% showed its sleep as idle, but `perftop
    open` of its own session showed `sleep 76.1%`: the same samples, marked the same way."""
    from perftop.collectors.stacks.model import Stack, StackSample, StackTarget, StackWindow

    main = Frame("main", "/srv/app.py", 3)
    stacks = (
        (Stack("MainThread", 1, (main, Frame("burn", "/srv/app.py", 9))), 24),
        (Stack("MainThread", 1, (main, Frame("sleep", "<built-in>", 0)), idle=True), 76),
    )
    live = StackSample(
        time=1.0,
        target=StackTarget(9, "python app.py", "pyinstrument"),
        windows=(StackWindow(100.0, 0.1, 1000.0, stacks, ticks=100),),
    )
    windows = files.load(files.save_session(live, tmp_path / "run.pyisession")).windows
    opened = merge(windows)
    assert (opened.considered, opened.idle) == (100, 76)
    running = merge(windows, include_idle=False).top_functions()
    assert [f.name for f in running if f.own] == ["burn"]
