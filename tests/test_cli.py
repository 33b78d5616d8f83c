"""The real `python -m perftop` command line: bad input is a usage error, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from perftop import __version__
from perftop.actions import gate
from perftop.cli import main
from perftop.config import Settings
from perftop.startup import Startup


def perftop(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perftop", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def isolated(tmp_path: Path) -> dict[str, str]:
    """An environment whose config and state directories are empty temporary ones."""
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    return env


def assert_usage_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("usage: perftop"), result.stderr
    error = [line for line in lines if line.startswith("perftop") and ": error: " in line]
    assert len(error) == 1, result.stderr  # one line saying what is wrong
    for word in words:
        assert word in error[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-d", "0"], ["-d/--delay", "above 0"]),
        (["-d", "-1"], ["-d/--delay"]),
        (["--delay", "abc"], ["-d/--delay", "abc"]),
        (["-d", "nan"], ["-d/--delay"]),
        (["-d", "inf"], ["-d/--delay"]),
        (["-d", "5000"], ["-d/--delay", "3600"]),
        (["--no-such-flag"], ["--no-such-flag"]),
        (["frobnicate"], ["frobnicate"]),
        (["snapshot", "--json", "--seconds", "0"], ["--seconds"]),
        (["snapshot", "--json", "--seconds", "-3"], ["--seconds"]),
        (["snapshot", "--json", "--seconds", "soon"], ["--seconds"]),
        (["snapshot", "--json", "--bogus"], ["--bogus"]),
    ],
)
def test_bad_arguments_are_usage_errors(
    args: list[str], words: list[str], isolated: dict[str, str]
) -> None:
    assert_usage_error(perftop(*args, env=isolated), *words)


def test_snapshot_without_json_is_a_usage_error(isolated: dict[str, str]) -> None:
    result = perftop("snapshot", env=isolated)
    assert_usage_error(result, "--json")
    assert result.stderr.startswith("usage: perftop snapshot")


def test_unknown_theme_lists_the_valid_names(isolated: dict[str, str]) -> None:
    from perftop import themes

    result = perftop("--theme", "no-such-theme", env=isolated)
    assert_usage_error(result, "no-such-theme")
    for name in themes.available(None):
        assert name in result.stderr


def test_unknown_theme_in_the_config_file_is_a_usage_error(
    tmp_path: Path, isolated: dict[str, str]
) -> None:
    config = tmp_path / "perftop.toml"
    config.write_text('theme = "no-such-theme"\n')
    assert_usage_error(perftop("--config", str(config), env=isolated), "no-such-theme")


def test_malformed_config_file(tmp_path: Path, isolated: dict[str, str]) -> None:
    config = tmp_path / "perftop.toml"
    config.write_text("delay = = 2\n")
    assert_usage_error(perftop("--config", str(config), env=isolated), str(config), "TOML")


def test_config_file_with_a_bad_value(tmp_path: Path, isolated: dict[str, str]) -> None:
    config = tmp_path / "perftop.toml"
    config.write_text('delay = "fast"\n')
    assert_usage_error(perftop("--config", str(config), env=isolated), "delay")


def test_the_default_config_file_is_read(isolated: dict[str, str]) -> None:
    config = Path(isolated["XDG_CONFIG_HOME"]) / "perftop" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("colour = 'red'\n")
    assert_usage_error(perftop(env=isolated), "colour")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_config_file(tmp_path: Path, isolated: dict[str, str]) -> None:
    config = tmp_path / "perftop.toml"
    config.write_text("delay = 2\n")
    config.chmod(0)
    assert_usage_error(perftop("--config", str(config), env=isolated), "cannot read")


def test_config_path_that_is_a_directory(tmp_path: Path, isolated: dict[str, str]) -> None:
    assert_usage_error(perftop("--config", str(tmp_path), env=isolated), "cannot read")


def test_missing_config_file_named_on_the_command_line(
    tmp_path: Path, isolated: dict[str, str]
) -> None:
    missing = tmp_path / "nope.toml"
    assert_usage_error(perftop("--config", str(missing), env=isolated), str(missing))


def test_version(isolated: dict[str, str]) -> None:
    result = perftop("--version", env=isolated)
    assert result.returncode == 0
    assert result.stdout.strip() == f"perftop {__version__}"


def test_help_lists_the_options_commands_and_exit_codes(isolated: dict[str, str]) -> None:
    result = perftop("--help", env=isolated)
    assert result.returncode == 0
    for option in ("--delay", "--theme", "--read-only", "--audit-file", "--config", "--version"):
        assert option in result.stdout
    assert "snapshot" in result.stdout
    assert "exit codes" in result.stdout
    assert "130" in result.stdout


def test_snapshot_help(isolated: dict[str, str]) -> None:
    result = perftop("snapshot", "--help", env=isolated)
    assert result.returncode == 0
    assert "--json" in result.stdout and "--seconds" in result.stdout


class FakeApp:
    """Stands in for perftop.tui.app: records the settings and startup `run` was given."""

    def __init__(self) -> None:
        self.settings: list[Settings] = []
        self.startups: list[Startup] = []

    def run(self, settings: Settings, startup: Startup) -> int:
        self.settings.append(settings)
        self.startups.append(startup)
        self.locked_down_at_run = gate.locked_down()
        return 0


@pytest.fixture
def fake_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeApp:
    app = FakeApp()
    module = types.ModuleType("perftop.tui.app")
    module.run = app.run  # type: ignore[attr-defined]  # a stand-in module
    monkeypatch.setitem(sys.modules, "perftop.tui.app", module)
    monkeypatch.setattr("perftop.cli.stdout_is_terminal", lambda: True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return app


def test_main_runs_the_tui_with_the_settings(fake_app: FakeApp, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    assert main(["-d", "2.5", "--theme", "perftop-light", "--audit-file", str(audit)]) == 0
    (settings,) = fake_app.settings
    assert settings.delay == 2.5
    assert settings.theme == "perftop-light"
    assert settings.audit_file == audit
    assert settings.read_only is False
    assert fake_app.locked_down_at_run is False
    assert fake_app.startups == [Startup()]


def test_pid_and_rate_reach_the_startup(fake_app: FakeApp) -> None:
    assert main(["--pid", "4242", "--rate", "50"]) == 0
    assert fake_app.startups == [Startup(pid=4242, rate=50)]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--pid", "0"], ["--pid"]),
        (["--pid", "abc"], ["--pid", "abc"]),
        (["--rate", "0"], ["--rate"]),
        (["--rate", "100000"], ["--rate"]),
    ],
)
def test_bad_pid_and_rate_are_usage_errors(
    args: list[str], words: list[str], isolated: dict[str, str]
) -> None:
    assert_usage_error(perftop(*args, env=isolated), *words)


def test_run_without_a_program_is_a_usage_error(isolated: dict[str, str]) -> None:
    result = perftop("run", env=isolated)
    assert result.returncode == 2
    assert "give a program after --, or -m MODULE" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_of_something_that_is_not_python_is_a_usage_error(isolated: dict[str, str]) -> None:
    result = perftop("run", "--", "/bin/sleep", "1", env=isolated)
    assert result.returncode == 2
    assert "starts Python programs" in result.stderr


def test_read_only_locks_every_action_down_before_the_tui_starts(fake_app: FakeApp) -> None:
    assert main(["--read-only"]) == 0
    assert fake_app.settings[0].read_only is True
    assert fake_app.locked_down_at_run is True


def test_read_only_from_the_config_file_locks_down_too(fake_app: FakeApp, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("read_only = true\n")
    assert main(["--config", str(config)]) == 0
    assert fake_app.locked_down_at_run is True


def test_usage_errors_do_not_start_the_tui(
    fake_app: FakeApp, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--theme", "no-such-theme"])
    assert exit_info.value.code == 2
    assert fake_app.settings == []
    assert "no-such-theme" in capsys.readouterr().err


SAVED = Path(__file__).parent / "fixtures" / "stacks_files" / "sampled.speedscope.json"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="plain"),
        pytest.param(["--pid", str(os.getpid())], id="pid"),
        pytest.param(["open", str(SAVED)], id="open"),
        pytest.param(["run", "--", sys.executable, "start.py"], id="run"),
    ],
)
def test_the_live_view_with_stdout_not_a_terminal_points_at_snapshot(
    args: list[str], isolated: dict[str, str], tmp_path: Path
) -> None:
    """`perftop > out.txt`: no escapes written into the file, no program started, and the
    message names the command that does write to a file."""
    (tmp_path / "start.py").write_text("open('started', 'w')\n")
    result = subprocess.run(
        [sys.executable, "-m", "perftop", *args],
        capture_output=True,
        text=True,
        timeout=20,
        env=isolated,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "needs a terminal" in result.stderr
    assert "perftop snapshot --json" in result.stderr
    assert not (tmp_path / "started").exists()
