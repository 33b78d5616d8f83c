"""The `perftop` command line (also `python -m perftop`).

    perftop [-d SECONDS] [--theme NAME] [--read-only] [--audit-file PATH] [--config PATH]
            [--dsn DSN] [--pid PID] [--rate HZ]
    perftop run [-m MODULE | -- python app.py ARGS...] [--log PATH]
    perftop open FILE
    perftop snapshot --json [--seconds N] [--pid PID --approve attach] [--dsn DSN]
    perftop --version | --help

Settings come from the defaults, overlaid with the config file (`--config`, else
`$XDG_CONFIG_HOME/perftop/config.toml` when it exists), overlaid with the flags.
`--read-only` (or `read_only = true`) calls `actions.gate.lockdown()` before anything else
runs, so no action can run in this process whatever the UI does.

Exit codes:

    0    the TUI ended normally; the snapshot has data from every collector
    1    the snapshot was printed but at least one collector failed ("status" says why)
    2    bad usage: an unknown flag, a bad value, an unknown theme, a bad config file;
         or the audit file cannot be written (checked at start, before anything can act)
    130  interrupted (Ctrl-C)

The TUI is imported only when it is about to run, so `snapshot`, `--help` and `--version`
never import Textual and start in a few tens of milliseconds.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from . import __version__
from .actions.audit import (
    AuditError,
    AuditLog,
    PrivateError,
    open_private,
    private_dir,
)
from .actions.gate import Action, Gate, lockdown
from .collectors.postgres.locate import requested
from .config import SAMPLERS, ConfigError, Settings, apply, check_delay, config_dir, load
from .paths import default_audit_path
from .startup import Startup, loading

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

EPILOG = """\
commands:
  run [-m MODULE] [--python PATH] [--log PATH] [-- python app.py ARGS...]
                  start a Python program with pyinstrument inside it (no ptrace needed)
                  and show its live profile; its output goes to the log file
  open FILE       view a saved profile (.pyisession or speedscope JSON)
  snapshot --json [--seconds N] [--pid PID --approve attach] [--dsn DSN]
                  sample the machine for N seconds (default 1) without the TUI and print
                  one JSON document: system, per-core CPU, disks, network, every process;
                  with --pid, the Python stacks of that process (py-spy, attached only
                  with --approve attach); with --dsn or PG* variables, PostgreSQL

exit codes:
  0    ended normally; a snapshot with data from every collector
  1    a snapshot was printed but at least one collector failed (see its "status")
  2    bad usage: unknown flag, bad value, unknown theme, unreadable or malformed config;
       or the audit file cannot be written (nothing starts: no TUI, program or attach)
  130  interrupted (Ctrl-C)
"""


def _delay(text: str) -> float:
    """argparse type for -d: seconds, above 0, finite (a person's typo never reaches a timer)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    try:
        return check_delay(value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    """argparse type for snapshot --seconds: above 0 and finite."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0 (got {text})")
    return value


def _pid(text: str) -> int:
    """argparse type for --pid: a positive integer."""
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"not a process id: {text!r}")
    return int(text)


def _rate(text: str) -> int:
    """argparse type for --rate: samples per second, 1 to 1000."""
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of samples per second, 1-1000 (got {text!r})"
        )
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """The parser for every form of the command line."""
    parser = argparse.ArgumentParser(
        prog="perftop",
        description="A live terminal profiler: system, processes, Python stacks, PostgreSQL.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-d",
        "--delay",
        type=_delay,
        metavar="SECONDS",
        help="seconds between refreshes (default 1, like top -d)",
    )
    parser.add_argument(
        "--theme",
        metavar="NAME",
        help="colour theme: perftop-dark, perftop-light, perftop-ansi or a user theme",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help="no action (signal, renice, attach) can run; their keys are not bound",
    )
    parser.add_argument(
        "--audit-file",
        type=Path,
        metavar="PATH",
        help="where the audit log of actions goes (default $XDG_STATE_HOME/perftop/audit.jsonl)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="config file (default $XDG_CONFIG_HOME/perftop/config.toml)",
    )
    parser.add_argument(
        "--dsn",
        metavar="DSN",
        help="PostgreSQL to watch (URI or key=value); default: the PG* environment, "
        "or a local socket when a server answers there",
    )
    parser.add_argument(
        "--pid",
        type=_pid,
        metavar="PID",
        help="ask at start to attach py-spy to this Python process and show its stacks",
    )
    parser.add_argument(
        "--rate", type=_rate, default=100, metavar="HZ", help="py-spy samples per second"
    )
    parser.add_argument(
        "--sampler",
        choices=SAMPLERS,
        help="what samples an attached process: austin (one attach, streams), py-spy (one "
        "attach a window), auto (default: austin where it can)",
    )
    parser.add_argument("--version", action="version", version=f"perftop {__version__}")

    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    snapshot = commands.add_parser(
        "snapshot",
        help="sample for N seconds without the TUI and print one JSON document",
        description="Sample the machine for N seconds without the TUI and print one "
        "JSON document to stdout.",
        epilog=EPILOG.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # The subcommand's own parser, so its usage errors print its usage line.
    snapshot.set_defaults(command_parser=snapshot)
    snapshot.add_argument(
        "--json", action="store_true", help="print JSON (required: the only format so far)"
    )
    snapshot.add_argument(
        "--seconds",
        type=_seconds,
        default=1.0,
        metavar="N",
        help="how long to sample; every rate is the average over it (default 1)",
    )
    snapshot.add_argument(
        "--pid", type=_pid, metavar="PID", help="add the Python stacks of this process (py-spy)"
    )
    snapshot.add_argument(
        "--approve",
        action="append",
        choices=["attach"],
        default=[],
        help="approve an intrusive step without a prompt: `attach` lets py-spy read --pid",
    )
    snapshot.add_argument(
        "--rate",
        type=_rate,
        dest="snapshot_rate",  # not "rate": a subparser's default would hide `perftop --rate`
        metavar="HZ",
        help="py-spy samples per second (default 100)",
    )
    snapshot.add_argument(
        "--dsn",
        dest="snapshot_dsn",  # not "dsn": a subparser's default would hide `perftop --dsn`
        metavar="DSN",
        help="add PostgreSQL statements and activity from this server",
    )
    run = commands.add_parser(
        "run",
        help="start a Python program under pyinstrument and show its live profile",
        description="Start a Python program with pyinstrument inside it (works where "
        "ptrace is not allowed) and show its live profile. Its stdout and stderr go to a "
        "log file. Examples: perftop run -- python app.py --port 8000; perftop run -m "
        "mypackage.worker",
    )
    run.set_defaults(command_parser=run)
    run.add_argument("-m", dest="module", metavar="MODULE", help="run a module, as python -m")
    run.add_argument(
        "--python", metavar="PATH", help="the interpreter to use (default: the command's own)"
    )
    run.add_argument(
        "--log",
        type=Path,
        metavar="PATH",
        help="where the program's output goes (default $XDG_STATE_HOME/perftop/run-PID.log)",
    )
    run.add_argument(
        "argv", nargs=argparse.REMAINDER, help="-- python app.py ARGS... (or the module's ARGS)"
    )
    opened = commands.add_parser(
        "open",
        help="view a saved profile (.pyisession or speedscope JSON)",
        description="View a saved profile in the Stacks screen.",
    )
    opened.set_defaults(command_parser=opened)
    opened.add_argument("file", type=Path, metavar="FILE")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """Defaults, then the config file, then the flags. Raises ConfigError."""
    path: Path | None = args.config
    if path is not None and not path.exists():
        # The default file may be absent; one the person named must be there.
        raise ConfigError(f"cannot read {path}: no such file")
    settings = load(path)
    flags: dict[str, object] = {}
    if args.delay is not None:
        flags["delay"] = args.delay
    if args.theme is not None:
        flags["theme"] = args.theme
    if args.read_only:
        flags["read_only"] = True
    if args.audit_file is not None:
        flags["audit_file"] = str(args.audit_file)
    dsn = getattr(args, "snapshot_dsn", None) or args.dsn
    if dsn is not None:
        flags["dsn"] = dsn
    if args.sampler is not None:
        flags["sampler"] = args.sampler
    return apply(settings, flags, "command line")


def check_theme(settings: Settings) -> None:
    """Raise ConfigError unless the theme exists and its file is usable.

    The themes module imports Textual, so this runs on the TUI path only.
    """
    with loading():
        from . import themes

    try:
        themes.load(settings.theme, config_dir() / "themes")
    except themes.ThemeError as exc:
        raise ConfigError(str(exc)) from None


def _snapshot(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not args.json:
        parser.error("snapshot needs --json (the only output format so far)")
    if args.approve and args.pid is None:
        parser.error("--approve attach needs --pid")
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        parser.error(str(exc))
    if settings.read_only:
        lockdown()
    from . import snapshot

    if args.approve and not settings.read_only and not _audit_ready(settings):
        return EXIT_USAGE
    extras = None
    postgres = requested(settings.dsn)
    if args.pid is not None or postgres:
        extras = snapshot.Extras(
            pid=args.pid,
            gate=_headless_gate(settings, approve="attach" in args.approve),
            rate=args.snapshot_rate or args.rate,
            sampler=settings.sampler,
            postgres=postgres,
            dsn=settings.dsn,
        )
    doc = snapshot.take(args.seconds, extras=extras)
    if extras is not None and extras.gate is not None:
        extras.gate.finish()  # records still unwritten go to stderr, not lost
    try:
        sys.stdout.write(snapshot.dumps(doc) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): no traceback, and no second error at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PARTIAL
    return EXIT_OK if snapshot.all_ok(doc) else EXIT_PARTIAL


def _startup(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Startup:
    """What the TUI shows first: --pid's attach prompt, or a saved profile."""
    if args.command == "open":
        from .collectors.stacks.files import load as load_profile

        try:
            return Startup(opened=load_profile(args.file), rate=args.rate)
        except (OSError, ValueError) as exc:
            args.command_parser.error(f"cannot open {args.file}: {exc}")
    return Startup(pid=args.pid, rate=args.rate)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, settings: Settings) -> int:
    """`perftop run`: launch the program under pyinstrument, show it, stop it at the end."""
    from .collectors.base import CollectorError
    from .collectors.stacks.launch import LaunchCollector, start

    argv = list(args.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv and not args.module:
        parser.error("give a program after --, or -m MODULE")
    log = args.log or settings.audit_file.parent / f"run-{os.getpid()}.log"
    try:
        private_log(log)
    except PrivateError as exc:
        parser.error(f"cannot use the program's log {log}: {exc.reason}")
    try:
        launched = start(argv or None, args.module, log, python=args.python, ready=_need_terminal)
    except CollectorError as exc:
        parser.error(str(exc))
    from .tui.app import run

    try:
        return run(settings, Startup(launched=LaunchCollector(launched), rate=args.rate))
    finally:
        if launched.returncode is None:
            code = launched.stop()
            print(f"perftop: stopped the program (exit code {code}); its log: {log}")
        launched.close()


NEEDS_TERMINAL = (
    "perftop: error: the live view needs a terminal, and stdout is not one; "
    "for output to a file or a pipe use `perftop snapshot --json`"
)


def stdout_is_terminal() -> bool:
    """The live view draws with terminal escapes: only on a terminal do they mean anything."""
    try:
        return os.isatty(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # replaced, closed, or no descriptor
        return False


def _need_terminal() -> None:
    """Stop a live view before it starts when stdout is a file or a pipe (exit code 2)."""
    from .collectors.stacks.launch_plan import LaunchError

    if not stdout_is_terminal():
        raise LaunchError(NEEDS_TERMINAL.removeprefix("perftop: error: "))


def _audit_ready(settings: Settings) -> bool:
    """Check the audit file at start; on failure say why on one line (exit code 2)."""
    try:
        AuditLog(settings.audit_file).check()
    except AuditError as exc:
        print(f"perftop: error: {exc}", file=sys.stderr)
        return False
    return True


def private_log(path: Path) -> None:
    """Make `perftop run`'s log private before the program writes to it: its folder as the
    audit file's (made 0700; perftop's own narrowed), the file 0600. Raises PrivateError."""
    private_dir(path.parent, own=path.parent == default_audit_path().parent)
    os.close(open_private(path))


def _headless_gate(settings: Settings, approve: bool) -> Gate:
    """The gate without a person: the --approve flag is the answer, and it is audited."""

    async def answer(action: Action) -> bool:
        return approve

    return Gate(AuditLog(settings.audit_file), read_only=settings.read_only, ask=answer)


def main(argv: list[str] | None = None) -> int:
    """Run perftop; returns the exit code (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "snapshot":
            return _snapshot(args.command_parser, args)
        try:
            settings = settings_from(args)
            check_theme(settings)
        except ConfigError as exc:
            parser.error(str(exc))
        if settings.read_only:
            lockdown()
        # Read-only perftop can act on nothing, so an unwritable audit does not stop it.
        elif not _audit_ready(settings):
            return EXIT_USAGE
        if args.command == "run":
            return _run(args.command_parser, args, settings)
        startup = _startup(parser, args)
        if not stdout_is_terminal():
            print(NEEDS_TERMINAL, file=sys.stderr)
            return EXIT_USAGE
        with loading():
            from .tui.app import run

        return run(settings, startup)
    except AuditError as exc:  # the TUI's own check, should the file fail in between
        print(f"perftop: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("perftop: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
