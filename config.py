"""Settings: one typed model, filled from defaults, the config file, then the command line.

The config file is TOML at `$XDG_CONFIG_HOME/perftop/config.toml`
(`~/.config/perftop/config.toml`); every key is optional:

    delay = 1.0            # seconds between refreshes, like top -d
    theme = "perftop-dark" # a built-in theme or a file in ~/.config/perftop/themes/
    read_only = false      # true: no action can run, the bindings are gone
    audit_file = "~/.local/state/perftop/audit.jsonl"
    sort = "cpu"           # the process table's initial sort column
    tree = false           # start in tree view
    dsn = "postgresql://app@db/shop"  # PostgreSQL to watch (no password here: use ~/.pgpass)
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# The process table's sort keys (a config file may name one), in the picker's order.
from .collectors.process_order import SORT_KEYS as SORT_KEYS
from .paths import default_audit_path


class ConfigError(ValueError):
    """A config file or option that cannot be used; the message says which and why."""


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "perftop"


def default_config_path() -> Path:
    return config_dir() / "config.toml"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a perftop session is configured with."""

    delay: float = 1.0
    """Seconds between refreshes of every pane (`-d/--delay`)."""
    theme: str = "perftop-dark"
    """Theme name: built-in (perftop-dark, perftop-light, perftop-ansi) or a user file."""
    read_only: bool = False
    """No intrusive action can run; their keys are not bound (`--read-only`)."""
    audit_file: Path = dataclasses.field(default_factory=default_audit_path)
    """Where the audit JSONL goes (`--audit-file`)."""
    sort: str = "cpu"
    """Initial sort column of the process table."""
    tree: bool = False
    """Start the process table in tree view."""
    no_color: bool = False
    """Set when NO_COLOR is in the environment: the ANSI theme, no colour of our own."""
    dsn: str | None = None
    """PostgreSQL to watch (`--dsn`); None: the PG* environment or a local socket, if any."""
    sampler: str = "auto"
    """What samples an attached process (`--sampler`): austin (one attach, streaming),
    py-spy (one attach per window), or auto: austin where it can, else py-spy."""


SAMPLERS = ("auto", "austin", "py-spy")


def check_delay(value: float) -> float:
    if not 0 < value <= 3600:  # NaN fails every comparison, so it is refused too
        raise ConfigError(f"delay must be above 0 and at most 3600 seconds (got {value:g})")
    return value


def load(path: Path | None = None) -> Settings:
    """Defaults overlaid with the config file, if there is one."""
    path = path if path is not None else default_config_path()
    settings = Settings(no_color=bool(os.environ.get("NO_COLOR")))
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return settings
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return apply(settings, data, str(path))


def apply(settings: Settings, data: dict[str, object], origin: str) -> Settings:
    """Overlay `data` (from a file or the command line) onto `settings`, checking types."""
    changes: dict[str, object] = {}
    for key, value in data.items():
        if key == "delay":
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ConfigError(f"{origin}: delay must be a number")
            try:
                changes["delay"] = check_delay(float(value))
            except ConfigError as exc:
                raise ConfigError(f"{origin}: {exc}") from None
        elif key in ("theme", "sort", "dsn", "sampler"):
            if not isinstance(value, str):
                raise ConfigError(f"{origin}: {key} must be a string")
            if key == "sort" and value not in SORT_KEYS:
                raise ConfigError(f"{origin}: sort must be one of {', '.join(SORT_KEYS)}")
            if key == "sampler" and value not in SAMPLERS:
                raise ConfigError(f"{origin}: sampler must be one of {', '.join(SAMPLERS)}")
            changes[key] = value
        elif key in ("read_only", "tree"):
            if not isinstance(value, bool):
                raise ConfigError(f"{origin}: {key} must be true or false")
            changes[key] = value
        elif key == "audit_file":
            if not isinstance(value, str):
                raise ConfigError(f"{origin}: audit_file must be a path")
            changes["audit_file"] = Path(value).expanduser()
        else:
            raise ConfigError(f"{origin}: unknown setting {key!r}")
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]  # keys checked above
