"""The first-frame benchmark's end condition and its tmux window, on real screens.

Never a judgement of speed: that is `python -m benchmarks first-frame`'s job. These check
that "the CPU and the memory pane are drawn with figures" is recognised on the screens the
programs draw, and not before (a pane's border alone, or a meter without its figure).
"""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import pytest

from .test_benchmarks import REPO, _benchmarks_measure

measure = _benchmarks_measure()
subjects = sys.modules["benchmarks.subjects"]

PERFTOP = [
    "╭─ CPU ──────────────────────────────╮╭─ Memory ────────────────────────────╮",
    "│ 0[|||||||||||||              25.0%] ││ Mem[|||                   381M/24G] │",
    "│ 1[|||||                       9.1%] ││ Swp[                           off] │",
]
GLANCES = [
    "Frequency 2.60GHz   CPU     100.0%  idle     0.0%  ctx_sw      -     MEM      3.0%",
    "CPU  [▪▪▪▪  100%]   user     65.5%  irq      0.0%  inter       -     total   23.5G",
    "MEM  [      3.1%]   system   31.4%  nice     0.0%  sw_int      -     used     723M",
]
TOP = [
    "%Cpu(s):  3.0 us,  1.0 sy,  0.0 ni, 96.0 id,  0.0 wa,  0.0 hi,  0.0 si,  0.0 st",
    "MiB Mem :  24105.0 total,  22525.9 free,    642.4 used,   1201.0 buff/cache",
]


def test_perftops_panes_count_only_once_they_show_figures() -> None:
    default = subjects.Subject("perftop").panes
    assert measure.panes_ready(PERFTOP, default)
    assert not measure.panes_ready(PERFTOP[:1], default)  # the borders alone
    assert not measure.panes_ready(PERFTOP[:1] + ["│ 0[          ] ││ Mem[        ] │"], default)
    assert not measure.panes_ready([PERFTOP[1].split("││")[0]], default)  # CPU only


def test_glances_and_top_have_their_own_patterns() -> None:
    assert measure.panes_ready(GLANCES, subjects.GLANCES_PANES)
    assert not measure.panes_ready([GLANCES[1]], subjects.GLANCES_PANES)  # no MEM line
    assert measure.panes_ready(TOP, subjects.TOP_PANES)
    assert not measure.panes_ready(TOP[:1], subjects.TOP_PANES)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_tmux_window_is_120_by_40_and_times_a_real_program(tmp_path: Path) -> None:
    tmux = importlib.import_module("benchmarks.tmux")
    script = "import os, time; print(os.get_terminal_size()); print('MARK 12%'); time.sleep(30)"
    with tmux.TmuxWindow({"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}) as window:
        window.launch([sys.executable, "-c", script], cwd=str(REPO))
        took = window.wait_for(lambda lines: any("MARK" in line for line in lines), 20.0)
        assert took is not None and took > 0, window.screen()
        assert "os.terminal_size(columns=120, lines=40)" in window.screen()[0]
        assert window.alive()
