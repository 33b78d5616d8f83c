"""Exports: speedscope JSON against its schema's required fields, collapsed stacks."""

from __future__ import annotations

import json
from pathlib import Path

from perftop.collectors.stacks.export import collapsed, speedscope, write
from perftop.collectors.stacks.model import Frame, Stack, StackWindow
from perftop.collectors.stacks.profile import merge
from perftop.collectors.stacks.pyspy_output import parse_raw

FIXTURES = Path(__file__).parent / "fixtures" / "stacks"
NASTY = Frame("evil;name with spaces\nand newline", "we ird;file.py", 7)


def profile_with_nasty_names():
    stacks = (
        (Stack("Main;Thread", 1, (Frame("main", "a.py", 1), NASTY)), 7),
        (Stack("Main;Thread", 1, (Frame("main", "a.py", 1), Frame("ok", "a.py", 2))), 5),
        (Stack("other", 2, (Frame("x", "b.py", 3),)), 3),
    )
    return merge([StackWindow(0.0, 1.0, 100.0, stacks, ticks=12)])


def check_speedscope(doc: dict) -> None:
    """The required fields of https://www.speedscope.app/file-format-schema.json (the
    `FileFormat.File`, `Frame` and `SampledProfile` definitions), checked by hand."""
    for key in ("$schema", "shared", "profiles"):
        assert key in doc, key
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = doc["shared"]["frames"]
    assert isinstance(frames, list)
    for frame in frames:
        assert isinstance(frame["name"], str)
        assert isinstance(frame.get("file", ""), str) and isinstance(frame.get("line", 0), int)
    assert isinstance(doc.get("exporter", ""), str) and isinstance(doc.get("name", ""), str)
    for profile in doc["profiles"]:
        for key in ("type", "name", "unit", "startValue", "endValue", "samples", "weights"):
            assert key in profile, key
        assert profile["type"] == "sampled"
        assert profile["unit"] in {
            "none",
            "nanoseconds",
            "microseconds",
            "milliseconds",
            "seconds",
            "bytes",
        }
        assert isinstance(profile["startValue"], int | float)
        assert isinstance(profile["endValue"], int | float)
        assert len(profile["samples"]) == len(profile["weights"])
        for sample in profile["samples"]:
            assert all(isinstance(i, int) and 0 <= i < len(frames) for i in sample)
        assert profile["endValue"] - profile["startValue"] == sum(profile["weights"])


def test_speedscope_document_has_the_schema_required_fields() -> None:
    profile = profile_with_nasty_names()
    doc = json.loads(json.dumps(speedscope(profile, "worker")))
    check_speedscope(doc)
    by_name = {p["name"]: p for p in doc["profiles"]}
    assert set(by_name) == {"Main;Thread", "other"}
    assert sum(sum(p["weights"]) for p in doc["profiles"]) == profile.samples
    names = [f["name"] for f in doc["shared"]["frames"]]
    assert names.count("main") == 1 and NASTY.name in names  # JSON needs no escaping
    heavy = by_name["Main;Thread"]
    first = heavy["samples"][heavy["weights"].index(7)]
    assert [doc["shared"]["frames"][i]["name"] for i in first] == ["main", NASTY.name]


def test_speedscope_of_a_real_pyspy_window() -> None:
    text = (FIXTURES / "raw_threads_idle.txt").read_text()
    profile = merge([parse_raw(text, 0.0, 1.0, 100.0)])
    doc = speedscope(profile)
    check_speedscope(doc)
    assert {p["name"] for p in doc["profiles"]} == {"MainThread", "sleepy"}


def test_collapsed_lines_sum_to_the_sample_count_and_survive_nasty_names() -> None:
    profile = profile_with_nasty_names()
    text = collapsed(profile)
    lines = text.splitlines()
    assert len(lines) == 3 and text.endswith("\n")
    assert sum(int(line.rsplit(" ", 1)[1]) for line in lines) == profile.samples == 15
    nasty = next(line for line in lines if line.endswith(" 7"))
    frames = nasty.rsplit(" ", 1)[0].split(";")
    assert frames == [
        "Main:Thread",
        "main (a.py:1)",
        "evil:name with spaces and newline (we ird:file.py:7)",
    ]


def test_collapsed_of_a_real_pyspy_window_round_trips() -> None:
    text = (FIXTURES / "raw_threads.txt").read_text()
    window = parse_raw(text, 0.0, 1.0, 100.0)
    out = collapsed(merge([window]))
    assert sum(int(line.rsplit(" ", 1)[1]) for line in out.splitlines()) == window.samples
    again = parse_raw(
        "".join(f"thread (1): {line}\n" for line in out.splitlines()), 0.0, 1.0, 100.0
    )
    assert again.samples == window.samples
    assert merge([again]).top_functions()[0].name == "burn_cpu"


def test_write_picks_the_format_from_the_suffix(tmp_path: Path) -> None:
    profile = profile_with_nasty_names()
    where = write(profile, tmp_path / "p.json")
    check_speedscope(json.loads(where.read_text()))
    folded = write(profile, tmp_path / "p.folded")
    assert folded.is_absolute() and folded.read_text() == collapsed(profile)
