"""Settings: defaults, then the config file, then the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from perftop.cli import build_parser, settings_from
from perftop.config import ConfigError, Settings, default_config_path, load


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "perftop.toml"
    path.write_text(text)
    return path


def from_argv(*argv: str) -> Settings:
    return settings_from(build_parser().parse_args(list(argv)))


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    assert not default_config_path().exists()
    settings = load()
    assert settings == Settings()
    assert settings.delay == 1.0
    assert settings.theme == "perftop-dark"
    assert settings.read_only is False
    assert settings.sort == "cpu"
    assert settings.tree is False
    assert settings.no_color is False
    assert settings.audit_file == tmp_path / "state" / "perftop" / "audit.jsonl"


def test_the_default_config_file_lives_under_xdg_config_home(tmp_path: Path) -> None:
    assert default_config_path() == tmp_path / "config" / "perftop" / "config.toml"
    default_config_path().parent.mkdir(parents=True)
    default_config_path().write_text("delay = 3\n")
    assert load().delay == 3.0
    assert from_argv().delay == 3.0


def test_a_config_file_overrides_the_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'delay = 0.5\ntheme = "perftop-light"\nread_only = true\n'
        'audit_file = "~/audit.jsonl"\nsort = "mem"\ntree = true\n',
    )
    settings = load(path)
    assert settings.delay == 0.5
    assert settings.theme == "perftop-light"
    assert settings.read_only is True
    assert settings.audit_file == Path("~/audit.jsonl").expanduser()
    assert settings.sort == "mem"
    assert settings.tree is True


def test_keys_the_file_leaves_out_keep_their_defaults(tmp_path: Path) -> None:
    settings = load(write(tmp_path, "tree = true\n"))
    assert settings.tree is True
    assert settings.delay == Settings().delay
    assert settings.theme == Settings().theme


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'delay = 0.5\ntheme = "perftop-light"\naudit_file = "/tmp/from-file"\n')
    settings = from_argv(
        "--config", str(path), "-d", "4", "--theme", "perftop-ansi", "--audit-file", "/x/a.jsonl"
    )
    assert settings.delay == 4.0
    assert settings.theme == "perftop-ansi"
    assert settings.audit_file == Path("/x/a.jsonl")


def test_flags_left_out_keep_the_files_values(tmp_path: Path) -> None:
    path = write(tmp_path, 'delay = 0.5\ntheme = "perftop-light"\nread_only = true\n')
    settings = from_argv("--config", str(path))
    assert settings.delay == 0.5
    assert settings.theme == "perftop-light"
    # No --read-only flag must not turn the file's read_only back off.
    assert settings.read_only is True


def test_read_only_flag(tmp_path: Path) -> None:
    path = write(tmp_path, "read_only = false\n")
    assert from_argv("--config", str(path), "--read-only").read_only is True


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('delay = "fast"\n', "delay"),
        ("delay = true\n", "delay"),
        ("delay = 0\n", "delay"),
        ("delay = -2\n", "delay"),
        ("delay = nan\n", "delay"),
        ("delay = inf\n", "delay"),
        ("delay = 5000\n", "delay"),
        ("theme = 3\n", "theme"),
        ("sort = 'colour'\n", "sort"),
        ("sort = 1\n", "sort"),
        ('read_only = "yes"\n', "read_only"),
        ("tree = 1\n", "tree"),
        ("audit_file = 5\n", "audit_file"),
        ("colour = 'red'\n", "colour"),
        ("[theme]\nname = 'x'\n", "theme"),
    ],
)
def test_bad_values_and_unknown_keys_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load(path)
    assert key in str(error.value)
    assert str(path) in str(error.value)


def test_malformed_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "delay = = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(path)


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path)


def test_a_config_file_named_on_the_command_line_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        from_argv("--config", str(tmp_path / "missing.toml"))


def test_no_color_sets_no_color(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert load().no_color is True
    assert load(write(tmp_path, "delay = 2\n")).no_color is True
    assert from_argv().no_color is True


def test_an_empty_no_color_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # no-color.org: "when present and not an empty string".
    monkeypatch.setenv("NO_COLOR", "")
    assert load().no_color is False


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().delay = 5  # type: ignore[misc]  # that is the point
