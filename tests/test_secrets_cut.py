"""Redact before you cut: a password across the point where a label is shortened never
leaves a piece of itself behind, in the prompt, the audit file or a snapshot.

The end-to-end tests use a real process whose argv carries a DSN with the password placed
across the 57th and 60th characters (where labels and audit targets are cut), and drive the
real approval path: the process table's row, `k`, the prompt, no and yes, the audit file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from perftop.actions.audit import AuditLog
from perftop.actions.gate import Gate
from perftop.actions.process import ProcessTarget
from perftop.actions.stacks import DetachPySpy
from perftop.collectors.processes import ProcessCollector
from perftop.config import Settings
from perftop.redact import MASK, redact, redact_short
from perftop.store import Store
from perftop.themes import load
from perftop.tui.app import PerftopApp
from perftop.tui.approve import ApprovalScreen

from .support import filled_store, run

PASSWORD = "Zq7Vx9KwLp2Rt4"  # no 4 characters of it in common words or paths
SCRIPT = "import time; time.sleep(60)"


def pieces(secret: str, size: int = 4) -> list[str]:
    """Every `size`-character piece of `secret`: none of them may be seen anywhere."""
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def leaked(text: str, secret: str = PASSWORD) -> list[str]:
    return [p for p in pieces(secret) if p in text]


def padded_argv(cut: int = 57, into: int = 5) -> list[str]:
    """argv whose joined command line has the cut `into` characters inside the password."""
    head = ["python3", "-", "--pad", ""]  # the program comes on stdin
    dsn = f"postgresql://appuser:{PASSWORD}@db.example:5432/x"
    before = len(" ".join([*head, "--dsn", "postgresql://appuser:"]))
    pad = cut - into - before
    assert pad > 0, "the interpreter path is too long for this layout"
    head[-1] = "p" * pad
    argv = [*head, "--dsn", dsn]
    line = " ".join(argv)
    assert line[cut - into : cut] == PASSWORD[:into]  # the cut falls inside the password
    return argv


@pytest.fixture
def holder() -> Iterator[subprocess.Popen[bytes]]:
    """A real process with the DSN in its argv."""
    proc = subprocess.Popen(padded_argv(), executable=sys.executable, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(SCRIPT.encode())
    proc.stdin.close()
    deadline = time.monotonic() + 10
    while PASSWORD.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.02)
    yield proc
    proc.kill()
    proc.wait()


# the rule: mask the whole text, then shorten ------------------------------------------------


@pytest.mark.parametrize("limit", range(20, 70))
def test_redact_short_never_leaves_a_piece_of_the_password(limit: int) -> None:
    line = f"psql --dsn postgresql://appuser:{PASSWORD}@db.example:5432/x --password {PASSWORD}"
    shown = redact_short(line, limit)
    assert len(shown) <= limit
    assert leaked(shown) == []


def test_redact_short_leaves_short_text_alone_and_marks_a_cut() -> None:
    assert redact_short("python -m http.server", 60) == "python -m http.server"
    assert redact_short("x" * 100, 10) == "x" * 9 + "…"
    assert redact_short(f"a --password={PASSWORD}", 60) == f"a --password={MASK}"


# text that someone else already cut ---------------------------------------------------------


@pytest.mark.parametrize("keep", range(len("postgresql://appuser:") + 1, 60))
def test_a_url_password_cut_by_someone_else_is_masked(keep: int) -> None:
    text = f"SELECT dblink('postgresql://appuser:{PASSWORD}@db.example:5432/x')"[: keep + 14]
    assert leaked(redact(text)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("psql postgresql://app:Zq7V", f"psql postgresql://app:{MASK}"),
        ("curl http://localhost:8000", "curl http://localhost:8000"),  # a port, not a password
        ("curl http://[::1]:8000", "curl http://[::1]:8000"),  # an IPv6 host, then a port
        ("x password='two wo", f"x password={MASK}"),  # a quoted value cut before its quote
        ('x token="two wo', f"x token={MASK}"),
    ],
)
def test_a_text_that_ends_inside_a_secret(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_digits_at_the_end_are_a_port_unless_the_text_may_have_been_cut() -> None:
    assert redact("psql postgresql://app:1234") == "psql postgresql://app:1234"
    assert redact("psql postgresql://app:1234", cut=True) == f"psql postgresql://app:{MASK}"


# the places that shorten ---------------------------------------------------------------------


def test_the_process_label_masks_before_it_cuts(holder: subprocess.Popen[bytes]) -> None:
    target = ProcessTarget.from_pid(holder.pid)
    assert PASSWORD in target.cmdline
    assert leaked(target.label()) == []
    assert "appuser:" in target.label()


class _Sampler:
    """What DetachPySpy reads of its sampler: the pid and the command line."""

    def __init__(self, pid: int, command: str) -> None:
        self.pid, self.command = pid, command


def test_the_detach_target_masks_before_it_cuts(holder: subprocess.Popen[bytes]) -> None:
    command = ProcessTarget.from_pid(holder.pid).cmdline
    assert command[55:60] in PASSWORD  # the old cut at 60 fell inside the password
    action = DetachPySpy(_Sampler(holder.pid, command))  # type: ignore[arg-type]
    assert leaked(action.target) == []


# the real approval path --------------------------------------------------------------------


def _app(tmp_path: Path, store: Store) -> tuple[PerftopApp, AuditLog]:
    audit = AuditLog(tmp_path / "audit.jsonl")
    gate = Gate(audit, read_only=False)
    app = PerftopApp(Settings(audit_file=audit.path), store, gate)
    app.register_theme(load("perftop-dark"))
    app.theme = "perftop-dark"
    return app, audit


@run
async def test_the_prompt_and_the_audit_file_never_hold_a_piece_of_the_password(
    tmp_path: Path, holder: subprocess.Popen[bytes]
) -> None:
    collector = ProcessCollector()
    collector.collect()
    sample = collector.collect()
    collector.close()
    rows = tuple(r for r in sample.rows if r.pid == holder.pid)
    assert len(rows) == 1 and PASSWORD in rows[0].cmdline  # the real row, argv and all
    store = filled_store()
    store.put("processes", sample.__class__(sample.time, rows, 0, 1, sample.ncpu))
    app, audit = _app(tmp_path, store)
    seen: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for answer in ("n", "y"):
            await pilot.press("k")
            await pilot.pause()
            await pilot.press("enter")  # the picker starts on TERM
            await pilot.pause(0.3)
            assert isinstance(app.screen, ApprovalScreen)
            prompt = str(app.screen.query_one("#description").render())
            assert "appuser:" in prompt and str(holder.pid) in prompt
            seen.append(prompt)
            seen.append(app.export_screenshot())
            await pilot.press(answer)
            await pilot.pause(0.3)
    assert holder.wait(timeout=5) == -15  # yes reached the real process
    records = audit.read()
    assert [r["decision"] for r in records] == ["declined", "approved"]
    seen.append(audit.path.read_text())
    assert [leaked(text) for text in seen] == [[] for _ in seen]


def test_the_snapshot_never_holds_a_piece_of_the_password(
    holder: subprocess.Popen[bytes],
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "perftop", "snapshot", "--json", "--seconds", "0.5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    document = json.loads(out.stdout)
    rows = [p for p in document["processes"] if p["pid"] == holder.pid]
    assert len(rows) == 1 and "appuser:" in rows[0]["cmdline"]
    assert leaked(out.stdout) == [] and leaked(out.stderr) == []


def test_a_password_with_an_at_sign_is_masked_whole_before_the_cut() -> None:
    """Cut first, `appuser:Zq7V@x9Kw` reads as password `Zq7V` at host `x9Kw`: only the
    whole text tells where the password ends."""
    secret = "Zq7V@x9KwLp2Rt4"
    line = f"app --pad pppppppppp --dsn postgresql://appuser:{secret}@db.example:5432/x"
    assert line[48:57] == "Zq7V@x9Kw"
    target = ProcessTarget(4242, 1, "app", line, "alice")
    assert leaked(target.label(), secret.replace("@", "")) == []
    assert "x9Kw" not in target.label() and "Zq7V" not in target.label()


def test_a_saved_profile_holds_no_password(tmp_path: Path) -> None:
    from perftop.collectors.stacks.files import save_session
    from perftop.collectors.stacks.model import StackSample, StackTarget

    command = f"app --dsn postgresql://appuser:{PASSWORD}@db/x"
    sample = StackSample(0.0, StackTarget(4242, command, "py-spy"), ())
    path = save_session(sample, tmp_path / "p.pyisession")
    assert "appuser:" in path.read_text() and leaked(path.read_text()) == []
