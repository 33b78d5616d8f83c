"""What `perftop run` will start, found before anything runs: the interpreter and the
program from a command line (`plan`), what that interpreter is (`probe`), and whether it
can load pyinstrument, its own or lent from perftop's (`check_pyinstrument`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..base import CollectorError
from .model import IDLE_BUILTINS as IDLE_BUILTINS  # noqa: F401 - where tests look

_PYTHON_NAME = re.compile(r"^(python|pypy)[0-9.]*[dmt]?(\.exe)?$")
_OPTIONS_WITH_VALUE = frozenset({"-X", "-W", "-Q"})
PYINSTRUMENT = "pyinstrument>=5.0,<5.2"  # what the agent can read (see agent.py)


class LaunchError(CollectorError):
    """`perftop run` cannot start the program; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    """How a program will be started: which interpreter, with what, on what."""

    python: str  # the interpreter, as an absolute path where it was found
    options: tuple[str, ...]  # interpreter options kept before the agent (-u, -X dev, ...)
    module: str | None  # `-m module`, or
    script: str | None  # a script path
    args: tuple[str, ...]  # the program's own arguments

    @property
    def program(self) -> tuple[str, ...]:
        """What the agent runs: `-m module args` or `script args`."""
        head = ("-m", self.module) if self.module is not None else (self.script or "",)
        return (*head, *self.args)

    @property
    def command(self) -> str:
        """The command line as the person would have typed it (untrusted text)."""
        return shlex.join((self.python, *self.options, *self.program))


def plan(argv: Sequence[str] | None, module: str | None, python: str | None = None) -> LaunchPlan:
    """Work out the interpreter and the program from `perftop run`'s arguments.

    `module` set: `perftop run -m module args` (argv = the args), run by `python` or
    perftop's own interpreter. Otherwise argv is a command: `python [options] script args`,
    `python [options] -m module args`, a script with a Python shebang (console scripts such
    as `gunicorn` are), or a `.py` file (run by perftop's interpreter). `python`, when
    given, is the interpreter in every case.
    """
    if module is not None:
        if not module:
            raise LaunchError("perftop run -m needs a module name")
        return LaunchPlan(_which(python or sys.executable), (), module, None, tuple(argv or ()))
    if not argv:
        raise LaunchError("perftop run needs a program: perftop run -- python app.py args")
    head = argv[0]
    if _PYTHON_NAME.match(os.path.basename(head)):
        return _parse_python(_which(python or head), list(argv[1:]))
    found = shutil.which(head) or head
    shebang = _shebang(found)
    if shebang is not None:
        interpreter, options = shebang
        return LaunchPlan(python or interpreter, options, None, found, tuple(argv[1:]))
    if head.endswith(".py"):
        return LaunchPlan(_which(python or sys.executable), (), None, head, tuple(argv[1:]))
    raise LaunchError(
        f"perftop run starts Python programs: {head!r} is not a Python interpreter, a .py "
        "file or a script with a python shebang (try: perftop run -- python app.py)"
    )


def _which(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise LaunchError(f"{program}: no such interpreter (not found on PATH)")
    return os.path.abspath(found)


def _parse_python(python: str, rest: list[str]) -> LaunchPlan:
    options: list[str] = []
    while rest:
        arg = rest.pop(0)
        if arg == "-m":
            if not rest:
                raise LaunchError("python -m needs a module name")
            return LaunchPlan(python, tuple(options), rest[0], None, tuple(rest[1:]))
        if arg.startswith("-c") or arg == "-":
            raise LaunchError("perftop run profiles a script or a module, not `python -c` or stdin")
        if arg == "--":
            break
        if arg in _OPTIONS_WITH_VALUE:
            if not rest:
                raise LaunchError(f"python {arg} needs a value")
            options += [arg, rest.pop(0)]
        elif arg.startswith("-") and len(arg) > 1:
            options.append(arg)
        else:
            rest.insert(0, arg)
            break
    if not rest:
        raise LaunchError("nothing to run: give a script or -m module after python")
    return LaunchPlan(python, tuple(options), None, rest[0], tuple(rest[1:]))


def _shebang(path: str) -> tuple[str, tuple[str, ...]] | None:
    """The Python interpreter and its options named on a script's `#!` line, if any."""
    try:
        with open(path, "rb") as file:
            first = file.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode("utf-8", "replace").split()
    if words and os.path.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]  # env -S python3 -u
        if not words:
            return None
        words[0] = shutil.which(words[0]) or words[0]
    if not words or not _PYTHON_NAME.match(os.path.basename(words[0])):
        return None
    return words[0], tuple(words[1:])


@dataclass(frozen=True, slots=True)
class Interpreter:
    """What decides whether a Python can load perftop's own pyinstrument.

    pyinstrument has a C extension, so it loads only in the same implementation, minor
    version and ABI (`SOABI`: cpython-311-x86_64-linux-gnu) on the same platform.
    """

    version: str  # "3.11"
    abi: str  # sysconfig's SOABI, "" where the interpreter has none
    platform: str  # sysconfig.get_platform()
    pyinstrument: str  # its version importable there, "" when none is

    def can_load(self, other: Interpreter) -> bool:
        """True when a C extension built for `other` loads in this interpreter."""
        mine = (self.version, self.abi, self.platform)
        return bool(self.abi) and mine == (other.version, other.abi, other.platform)


# Runs in the person's interpreter (Python 3.8 and later): standard library only.
_PROBE = """
import json, sys, sysconfig
try:
    import pyinstrument
    found = str(pyinstrument.__version__)
except Exception:
    found = ""
sys.stdout.write(json.dumps({
    "version": "%d.%d" % sys.version_info[:2],
    "abi": sysconfig.get_config_var("SOABI") or "",
    "platform": sysconfig.get_platform(),
    "pyinstrument": found,
}))
"""


def perftops_interpreter() -> Interpreter:
    """perftop's own interpreter and the pyinstrument installed with perftop."""
    import sysconfig

    try:
        import pyinstrument

        found = str(pyinstrument.__version__)
    except ImportError:
        found = ""
    return Interpreter(
        version="{}.{}".format(*sys.version_info[:2]),
        abi=sysconfig.get_config_var("SOABI") or "",
        platform=sysconfig.get_platform(),
        pyinstrument=found,
    )


def probe(python: str, timeout: float = 30.0) -> Interpreter:
    """Ask `python` (about 0.1 s) for its version, ABI and pyinstrument."""
    try:
        done = subprocess.run(
            [python, "-c", _PROBE],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        answer = json.loads(done.stdout)
        return Interpreter(
            str(answer["version"]),
            str(answer["abi"]),
            str(answer["platform"]),
            str(answer["pyinstrument"]),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LaunchError(f"cannot run {python}: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise LaunchError(f"{python} does not run as a Python interpreter") from exc


def supported_pyinstrument(version: str) -> bool:
    """The agent reads pyinstrument's active session: present in 5.0 and 5.1."""
    parts = version.split(".")[:2]
    try:
        major_minor = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        return False
    return (5, 0) <= major_minor < (5, 2)


def install_hint(python: str) -> str:
    """The exact command that gives `python` a pyinstrument the agent can read."""
    requirement = shlex.quote(PYINSTRUMENT)
    return (
        f"install pyinstrument 5.0 to 5.1 there with: {shlex.quote(python)} -m pip install "
        f"{requirement}; or start the program by itself and attach py-spy: perftop --pid PID"
    )


def check_pyinstrument(python: str, timeout: float = 30.0) -> tuple[str, bool]:
    """Which pyinstrument the program will run under: (its version, lent by perftop).

    The interpreter's own when it has a supported one; otherwise perftop's, when it can
    load it (see `lend_pyinstrument`). LaunchError with the install command when neither:
    an unsupported pyinstrument of the program's own is never shadowed.
    """
    target = probe(python, timeout)
    if target.pyinstrument:
        if supported_pyinstrument(target.pyinstrument):
            return target.pyinstrument, False
        raise LaunchError(
            f"{python} has pyinstrument {target.pyinstrument}; perftop run needs 5.0 to 5.1: "
            + install_hint(python)
        )
    own = perftops_interpreter()
    if not supported_pyinstrument(own.pyinstrument):
        raise LaunchError(f"pyinstrument is not installed for {python}: " + install_hint(python))
    if not target.can_load(own):
        raise LaunchError(
            f"pyinstrument is not installed for {python} (Python {target.version}), and "
            f"perftop's own is built for Python {own.version}: " + install_hint(python)
        )
    return own.pyinstrument, True


def lend_pyinstrument(run_dir: Path) -> Path:
    """A private folder holding only a link to perftop's pyinstrument package.

    The agent puts it on the program's `sys.path` just long enough to import pyinstrument
    (its submodules load through the package's own `__path__` afterwards), so the program
    sees nothing else of perftop's environment, and its children inherit nothing: the
    folder reaches the agent as an argument, not through PYTHONPATH.
    """
    import pyinstrument

    lib = run_dir / "pyinstrument-lib"
    lib.mkdir(mode=0o700)
    (lib / "pyinstrument").symlink_to(Path(pyinstrument.__file__).resolve().parent)
    return lib
