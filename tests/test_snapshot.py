"""`perftop snapshot --json`: the real command on the real machine, and its document."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from perftop import __version__, snapshot
from perftop.collectors.base import CollectorError
from perftop.collectors.samples import CoreUsage, CpuSample
from perftop.redact import MASK

SNAPSHOT = [sys.executable, "-m", "perftop", "snapshot", "--json"]

# (the finished command, its parsed document, the busy child's pid, the secretive child's pid)
Taken = tuple[subprocess.CompletedProcess[str], dict[str, Any], int, int]


def started(argv: list[str]) -> subprocess.Popen[bytes]:
    """A child that is running (its interpreter up) by the time this returns."""
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.readline() == b"up\n"
    return child


@pytest.fixture(scope="module")
def taken() -> Iterator[Taken]:
    """One real snapshot with a busy child and a child with a password on its command line."""
    busy_child = started([sys.executable, "-c", "print('up', flush=True)\nwhile True:\n    pass\n"])
    code = "import time; print('up', flush=True); time.sleep(60)"
    secret_child = started([sys.executable, "-c", code, "--password", "hunter2"])
    try:
        result = subprocess.run(
            [sys.executable, "-X", "importtime", *SNAPSHOT[1:], "--seconds", "1"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        for child in (busy_child, secret_child):
            child.kill()
            child.wait()
    doc = json.loads(result.stdout) if result.returncode in (0, 1) else {}
    yield result, doc, busy_child.pid, secret_child.pid


def processes(doc: dict[str, Any]) -> dict[int, dict[str, Any]]:
    rows = doc["processes"]
    assert isinstance(rows, list)
    return {row["pid"]: row for row in rows}


def test_exit_code_and_one_json_document(taken: Taken) -> None:
    result, doc, _, _ = taken
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("\n") == 1  # one document, one line
    assert doc["perftop"] == __version__
    assert doc["seconds"] == 1.0
    assert doc["hostname"]
    taken_at = doc["taken_at"]
    assert isinstance(taken_at, str) and taken_at.endswith("+00:00")
    assert list(doc) == [
        "perftop", "taken_at", "seconds", "hostname",
        "system", "cpus", "disks", "nics", "processes", "status",
    ]  # fmt: skip
    assert doc["status"] == {
        source: {"state": "ok", "message": ""}
        for source in ("cpu", "memory", "disk", "net", "processes")
    }


def test_the_headless_path_never_imports_textual(taken: Taken) -> None:
    result, _, _, _ = taken
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()]
    assert "perftop.snapshot" in imported  # the import log is really there
    assert not [name for name in imported if name.split(".")[0] in ("textual", "rich")]


def test_this_process_is_in_the_process_list(taken: Taken) -> None:
    _, doc, _, _ = taken
    me = processes(doc)[os.getpid()]
    assert me["ppid"] == os.getppid()
    assert me["threads"] >= 1
    assert me["rss"] > 0
    assert set(me) >= {
        "pid", "ppid", "user", "name", "cmdline", "state", "cpu_percent", "mem_percent",
        "rss", "read_bytes_per_s", "write_bytes_per_s", "threads", "cpu_time", "nice",
    }  # fmt: skip


def test_a_busy_child_shows_its_cpu(taken: Taken) -> None:
    _, doc, busy_pid, _ = taken
    assert processes(doc)[busy_pid]["cpu_percent"] > 50


def test_command_lines_are_redacted(taken: Taken) -> None:
    result, doc, _, secret_pid = taken
    cmdline = processes(doc)[secret_pid]["cmdline"]
    assert isinstance(cmdline, str)
    assert f"--password {MASK}" in cmdline
    assert "hunter2" not in result.stdout


def test_per_core_and_memory_match_psutil(taken: Taken) -> None:
    _, doc, _, _ = taken
    cpus = doc["cpus"]
    assert isinstance(cpus, list)
    assert len(cpus) == os.cpu_count()
    assert [core["cpu"] for core in cpus] == list(range(len(cpus)))
    for core in cpus:
        assert 0 <= core["busy"] <= 100.0001
    system = doc["system"]
    assert isinstance(system, dict)
    assert system["memory"]["total"] == psutil.virtual_memory().total
    cpu = system["cpu"]
    assert len(cpu["load"]) == 3
    # The busy child keeps one core busy for the whole interval.
    assert cpu["total"]["busy"] > 100 / len(cpus) * 0.5
    assert cpu["ctx_switches_per_s"] > 0


def test_disks_and_nics_are_lists_of_named_rates(taken: Taken) -> None:
    _, doc, _, _ = taken
    nics = doc["nics"]
    assert isinstance(nics, list)
    assert "lo" in [nic["name"] for nic in nics]
    assert isinstance(doc["disks"], list)
    for disk in doc["disks"]:
        assert {"name", "read_bytes_per_s", "write_bytes_per_s", "util_percent"} <= set(disk)


def test_ctrl_c_exits_130_without_a_traceback() -> None:
    child = subprocess.Popen(
        [*SNAPSHOT, "--seconds", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # well into the 30 s wait
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=20)
    assert child.returncode == 130
    assert out == ""
    assert "Traceback" not in err
    assert "interrupted" in err


# The document from collectors that stand in for the machine -------------------------


class FixedCpu:
    source = "cpu"
    interval = 1.0

    def __init__(self) -> None:
        self.ticks = 0

    def collect(self) -> CpuSample:
        self.ticks += 1
        usage = CoreUsage(user=10.0 * self.ticks, system=5.0, iowait=float("nan"), steal=0.0)
        return CpuSample(
            time=time.monotonic(),
            total=usage,
            cores=(usage, usage),
            load=(1.0, 0.5, 0.25),
            ctx_switches_per_s=100.0,
            interrupts_per_s=float("inf"),
            pressure=None,
        )

    def series(self, sample: object) -> dict[str, float]:
        return {}


class BrokenDisk:
    source = "disk"
    interval = 1.0

    def collect(self) -> object:
        raise CollectorError("no block devices visible in this container")

    def series(self, sample: object) -> dict[str, float]:
        return {}


def test_every_rate_comes_from_the_final_tick_after_the_interval() -> None:
    cpu = FixedCpu()
    before = time.monotonic()
    doc = snapshot.take(0.2, [cpu])
    assert time.monotonic() - before >= 0.2
    assert cpu.ticks == 2  # once at the start, once after the interval
    system = doc["system"]
    assert isinstance(system, dict)
    assert system["cpu"]["total"]["user"] == 20.0
    assert system["cpu"]["total"]["busy"] == 25.0
    assert system["memory"] is None  # no memory collector ran
    assert doc["cpus"] == [
        {"cpu": n, "user": 20.0, "system": 5.0, "iowait": None, "steal": 0.0, "busy": 25.0}
        for n in (0, 1)
    ]


def test_non_finite_numbers_become_null_so_the_json_is_valid() -> None:
    doc = snapshot.take(0.01, [FixedCpu()])
    text = snapshot.dumps(doc)
    assert "NaN" not in text and "Infinity" not in text
    parsed = json.loads(text)
    assert parsed["system"]["cpu"]["interrupts_per_s"] is None
    assert math.isclose(parsed["system"]["cpu"]["ctx_switches_per_s"], 100.0)


def test_a_failing_collector_is_reported_and_the_others_carry_on() -> None:
    doc = snapshot.take(0.01, [FixedCpu(), BrokenDisk()])
    assert doc["disks"] is None
    assert doc["cpus"] is not None
    assert doc["status"] == {
        "cpu": {"state": "ok", "message": ""},
        "disk": {"state": "failing", "message": "no block devices visible in this container"},
    }
    assert snapshot.all_ok(doc) is False
    assert snapshot.all_ok(snapshot.take(0.01, [FixedCpu()])) is True


def test_a_failing_collector_makes_the_exit_code_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from perftop.cli import main

    monkeypatch.setattr(snapshot, "default_collectors", lambda interval: [FixedCpu(), BrokenDisk()])
    assert main(["snapshot", "--json", "--seconds", "0.01"]) == 1
    out = capsys.readouterr().out
    assert json.loads(out)["status"]["disk"]["state"] == "failing"

    monkeypatch.setattr(snapshot, "default_collectors", lambda interval: [FixedCpu()])
    assert main(["snapshot", "--json", "--seconds", "0.01"]) == 0


def test_each_section_is_a_function_of_the_store() -> None:
    assert list(snapshot.SECTIONS) == ["system", "cpus", "disks", "nics", "processes"]
    from perftop.store import Store

    empty = Store()
    assert snapshot.section_cpus(empty) is None
    assert snapshot.section_processes(empty) is None
    assert snapshot.section_system(empty) == {"cpu": None, "memory": None}


def test_untrusted_text_cannot_reach_the_terminal_raw() -> None:
    doc = {"name": "evil\x1b]0;pwned\x07\u009b31m", "status": {}}
    text = snapshot.dumps(doc)
    assert all(" " <= ch <= "~" for ch in text)  # plain printable ASCII only
    assert json.loads(text)["name"] == doc["name"]
