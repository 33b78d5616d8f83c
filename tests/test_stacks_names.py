"""names.py and the views: one naming of functions and files for py-spy and pyinstrument,
line numbers in every view, and stacks torn by py-spy put back under their thread's root.

Item 9: the same program read `compute_totals.<locals>.<genexpr>` and `json/encoder.py`
under py-spy, but `<genexpr>` and `…yenv/versions/3.11.7/lib/python3.11/json/encoder.py`
under pyinstrument, and the top table had no line numbers while the tree had some.
"""

from __future__ import annotations

import json
import json.encoder
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest

from perftop.collectors.stacks.agent import THREAD_FILE, Folder, Qualnames
from perftop.collectors.stacks.launch import LaunchCollector
from perftop.collectors.stacks.model import Frame, Stack, StackSample, StackTarget, StackWindow
from perftop.collectors.stacks.names import Names, place, shortest
from perftop.collectors.stacks.profile import TORN, merge
from perftop.collectors.stacks.pyspy_output import parse_raw
from perftop.store import Store
from perftop.tui.icicle import Icicle
from perftop.tui.stack_views import CallTree, FunctionTable, dump_text
from perftop.tui.stacks import StacksScreen

from .support import run
from .test_stacks_screen import Host, table_lines

FIXTURES = Path(__file__).parent / "fixtures" / "stacks"

APP = """import json


def compute_totals(rows):
    return sum(row["n"] for row in rows)


def main():
    rows = [{"n": 1}]
    compute_totals(rows)
    json.dumps(rows)


main()
"""


# names -----------------------------------------------------------------------------------------


def test_stdlib_and_site_packages_have_one_spelling() -> None:
    pyenv = "/root/.pyenv/versions/3.11.7/lib/python3.11"
    assert place(f"{pyenv}/json/encoder.py") == "<stdlib>/json/encoder.py"
    assert place("/usr/lib/python3.12/asyncio/base_events.py") == "<stdlib>/asyncio/base_events.py"
    assert place(f"{pyenv}/site-packages/requests/api.py") == "<site>/requests/api.py"
    assert place("/srv/.venv/lib/python3.11/site-packages/pkg/mod.py") == "<site>/pkg/mod.py"
    assert place("/usr/lib/python3/dist-packages/apt/cache.py") == "<site>/apt/cache.py"
    for kept in ("<built-in>", "<frozen runpy>", "libc.so.6", "/srv/app/main.py", ""):
        assert place(kept) == kept


def test_other_files_are_the_shortest_ending_no_other_file_shares() -> None:
    shown = shortest(["/srv/web/app.py", "/srv/worker/app.py", "/srv/web/models.py", "x.py"])
    assert shown == {
        "/srv/web/app.py": "web/app.py",
        "/srv/worker/app.py": "worker/app.py",
        "/srv/web/models.py": "models.py",
        "x.py": "x.py",
    }
    # A path that is the ending of another stays apart from it.
    assert shortest(["a/x.py", "/p/a/x.py"]) == {"a/x.py": "a/x.py", "/p/a/x.py": "/p/a/x.py"}
    names = Names(["/srv/web/app.py", "/srv/worker/app.py", "/usr/lib/python3.11/json/encoder.py"])
    assert names.where("/srv/web/app.py", 12) == "web/app.py:12"
    assert names.where("/usr/lib/python3.11/json/encoder.py", 0) == "<stdlib>/json/encoder.py"
    assert names.label(Frame("f", "/srv/worker/app.py", 3)) == "f (worker/app.py:3)"


# the same frames from both profilers -------------------------------------------------------------


def _code(function: Any) -> tuple[str, int]:
    return function.__code__.co_filename, function.__code__.co_firstlineno


def pyinstrument_window(app: Path) -> StackWindow:
    """What the agent makes of pyinstrument's records of `APP`, read by perftop."""
    encoder, encode_first = _code(json.encoder.JSONEncoder.encode)
    package, dumps_first = _code(json.dumps)
    here = str(app)
    thread = f"MainThread\x00{THREAD_FILE}\x00123"
    start = [thread, f"_run_code\x00{runpy.__file__}\x0086\x01l88"]
    module = f"<module>\x00{here}\x001\x01l14"
    genexpr = [
        module,
        f"main\x00{here}\x009\x01l11",
        f"compute_totals\x00{here}\x004\x01l5",
        f"<genexpr>\x00{here}\x005\x01l5",
    ]
    encode = [
        module,
        f"main\x00{here}\x009\x01l12",
        f"dumps\x00{package}\x00{dumps_first}\x01l{dumps_first + 5}",
        f"encode\x00{encoder}\x00{encode_first}\x01cJSONEncoder\x01l{encode_first + 2}",
    ]
    folder = Folder({runpy.__file__ or ""}, 0.001)
    message = folder.window([(start + genexpr, 0.030), (start + encode, 0.010)], 0.0, 1.0)
    collector = LaunchCollector(None)  # type: ignore[arg-type] # only its reading is used
    collector.thread_id = 123
    return collector.window(json.loads(json.dumps(message)))  # through the wire format


def pyspy_window(app: Path) -> StackWindow:
    """The same stacks as py-spy's `record -f raw --full-filenames --threads` writes them."""
    encoder, encode_first = _code(json.encoder.JSONEncoder.encode)
    package, dumps_first = _code(json.dumps)
    raw = (
        f"thread (123): MainThread;<module> ({app}:14);main ({app}:11);"
        f"compute_totals ({app}:5);compute_totals.<locals>.<genexpr> ({app}:5) 30\n"
        f"thread (123): MainThread;<module> ({app}:14);main ({app}:12);"
        f"dumps ({package}:{dumps_first + 5});"
        f"JSONEncoder.encode ({encoder}:{encode_first + 2}) 10\n"
    )
    return parse_raw(raw, 0.0, 1.0, 1000.0)


def views(window: StackWindow, mode: str) -> dict[str, list[str]]:
    """What the top table, the tree and the icicle show of `window` (headers left out)."""
    sample = StackSample(
        time=1.0,
        target=StackTarget(123, "python app.py", mode),  # type: ignore[arg-type]
        windows=(window,),
        threads=("MainThread",),
    )
    store = Store()
    store.put("stacks", sample)
    shown: dict[str, list[str]] = {}

    async def look() -> None:
        app = Host(store, mode=mode)
        async with app.run_test(size=(160, 30)) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, StacksScreen)
            shown["top"] = table_lines(screen.query_one(FunctionTable))
            screen.set_view("tree")
            await pilot.pause()
            tree = screen.query_one(CallTree)
            shown["tree"] = [
                str(tree.get_node_at_line(y).label)  # type: ignore[union-attr]
                for y in range(tree.last_line + 1)
            ]
            screen.set_view("icicle")
            await pilot.pause()
            icicle = screen.query_one(Icicle)
            shown["icicle"] = [icicle.render_line(y).text for y in range(len(icicle.rows))]

    run(look)()
    return shown


@pytest.mark.skipif(sys.version_info < (3, 11), reason="co_qualname is new in Python 3.11")
def test_the_same_frames_from_py_spy_and_pyinstrument_render_identically(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    from_pyinstrument = views(pyinstrument_window(app), "pyinstrument")
    from_pyspy = views(pyspy_window(app), "py-spy")
    assert from_pyinstrument == from_pyspy
    top = "\n".join(from_pyspy["top"])
    assert "compute_totals.<locals>.<genexpr>" in top and "app.py:5" in top
    encode_line = json.encoder.JSONEncoder.encode.__code__.co_firstlineno + 2
    assert "JSONEncoder.encode" in top and f"<stdlib>/json/encoder.py:{encode_line}" in top
    assert "pyenv" not in top and "python3." not in top
    # Every view has the lines: the tree and the icicle too.
    tree = "\n".join(from_pyspy["tree"])
    assert "compute_totals.<locals>.<genexpr>  app.py:5" in tree
    assert "main  app.py:11" in tree  # 30 of its 40 samples were at line 11
    assert "<module> (app.py:14)" in "\n".join(from_pyspy["icicle"])


def test_qualnames_come_from_the_code_of_the_file(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP + "\nclass Report:\n    def total(self):\n        return 1\n")
    names = Qualnames()
    if sys.version_info >= (3, 11):
        assert names.frame(f"<genexpr>\x00{app}\x005\x01l5") == (
            "compute_totals.<locals>.<genexpr>",
            str(app),
            5,
        )
        # The class the method is defined in, not pyinstrument's class of `self`.
        first = APP.count("\n") + 3  # a blank line, `class Report:`, then `def total`
        info = f"total\x00{app}\x00{first}\x01cSubReport\x01l{first + 1}"
        assert names.frame(info)[0] == "Report.total"
        assert names.info(info) == f"Report.total\x00{app}\x00{first}\x01l{first + 1}"
    # Nothing to read: pyinstrument's own naming.
    assert names.frame("sleep\x00<built-in>\x000") == ("sleep", "<built-in>", 0)
    gone = f"run\x00{tmp_path / 'gone.py'}\x003\x01cJob\x01l4"
    assert names.frame(gone) == ("Job.run", str(tmp_path / "gone.py"), 4)
    assert names.info(gone) == gone


def test_the_now_view_names_files_the_same_way() -> None:
    stack = Stack(
        "MainThread",
        7,
        (
            Frame("<module>", "/srv/app.py", 3),
            Frame("JSONEncoder.encode", "/usr/lib/python3.11/json/encoder.py", 200),
        ),
    )
    text = dump_text((stack,)).plain
    assert "JSONEncoder.encode (<stdlib>/json/encoder.py:200)" in text
    assert "<module> (app.py:3)" in text


# torn stacks -------------------------------------------------------------------------------------


def test_a_torn_stack_goes_back_under_its_threads_root_and_totals_stay_right() -> None:
    window = parse_raw((FIXTURES / "raw_torn.txt").read_text(), 0.0, 1.0, 100.0)
    assert window.samples == 84
    profile = merge([window])
    assert profile.samples == 84  # nothing lost, nothing counted twice
    tree = profile.call_tree()
    roots = {node.frame.name: node.total for node in tree.children if node.frame}
    # `work` and `leaf` were read without their callers: they are under <module> → main,
    # where the whole stacks have them; `helper` was never seen below a root: one marker.
    assert roots == {"<module>": 59, "Thread._bootstrap": 22, TORN.name: 3}
    module = next(n for n in tree.children if n.frame and n.frame.name == "<module>")
    (main,) = module.children
    (work,) = main.children
    assert work.frame is not None and work.frame.name == "work" and work.total == 59
    assert [(c.frame.name if c.frame else "", c.total) for c in work.children] == [("leaf", 59)]
    assert tree.total == 84
    totals = {s.name: s.total for s in profile.top_functions("total")}
    assert totals["work"] == 59 and totals["leaf"] == 59 and totals["serve"] == 22
    assert totals["<module>"] == 59 and totals[TORN.name] == 3
    # Within its own thread only: the worker's torn stack went under the worker's root.
    worker = next(n for n in tree.children if n.frame and n.frame.name == "Thread._bootstrap")
    assert worker.total == 22
