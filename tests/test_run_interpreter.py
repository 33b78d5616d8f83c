"""`perftop run` with the person's own interpreter, which has no pyinstrument.

Real interpreters, real programs: a fresh venv with nothing installed (made from the same
base Python as perftop's), the machine's own `/usr/bin/python3` when it is the same Python
version, and one of another version for the refusal. When the interpreter can load
perftop's pyinstrument (same implementation, version and ABI), the program runs with it
and sees nothing else of perftop's: not on its path, not in its modules, not in its
children's environment, and nothing is written into the interpreter's environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from perftop.collectors.stacks.launch import LaunchCollector, Launched, start
from perftop.collectors.stacks.launch_plan import LaunchError
from perftop.store import Store

from .support import run
from .test_launch import assert_burn_cpu_is_hot, until

# The program burns CPU in burn_cpu(), then writes what it can see to argv[2]: its path, its
# modules, its environment, and whether a child of its own could import pyinstrument.
REPORTER = textwrap.dedent(
    """
    import json, os, subprocess, sys, time

    def burn_cpu():
        total = 0
        for i in range(100_000):
            total += i * i
        return total

    def main(seconds, report):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            burn_cpu()
        child = subprocess.run([sys.executable, "-c", "import pyinstrument"], check=False)
        with open(report, "w") as file:
            json.dump(
                {
                    "path": sys.path,
                    "modules": sorted(sys.modules),
                    "environ": dict(os.environ),
                    "child_imports_pyinstrument": child.returncode == 0,
                },
                file,
            )

    if __name__ == "__main__":
        main(float(sys.argv[1]), sys.argv[2])
    """
)
PERFTOP_ONLY = ("textual", "asyncpg", "psutil", "perftop", "rich")
INSTALL = (
    "-m pip install 'pyinstrument>=5.0,<5.2'; or start the program by itself and attach "
    "py-spy: perftop --pid PID"
)


@pytest.fixture
def launched() -> Iterator[list[Launched]]:
    """Every program a test starts is stopped and cleaned up, whatever happens."""
    started: list[Launched] = []
    yield started
    for program in started:
        program.stop(timeout=2.0)
        program.close()


def bare_venv(base: str, where: Path) -> str:
    """A fresh venv of `base` with nothing installed in it (not even pip)."""
    subprocess.run([base, "-m", "venv", "--without-pip", str(where)], check=True)
    return str(where / "bin" / "python")


def describe(python: str) -> dict[str, str]:
    code = (
        "import json, sys, sysconfig; print(json.dumps({'version': '%d.%d' % "
        "sys.version_info[:2], 'abi': sysconfig.get_config_var('SOABI') or '', "
        "'impl': sys.implementation.name}))"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    info: dict[str, str] = json.loads(done.stdout)
    return info


def ours() -> dict[str, str]:
    return {
        "version": "{}.{}".format(*sys.version_info[:2]),
        "abi": sysconfig.get_config_var("SOABI") or "",
        "impl": sys.implementation.name,
    }


def has_pyinstrument(python: str) -> bool:
    done = subprocess.run([python, "-c", "import pyinstrument"], capture_output=True, check=False)
    return done.returncode == 0


def tree(*roots: str) -> set[str]:
    """Every path under `roots`: what must not change when perftop runs a program."""
    found: set[str] = set()
    for root in roots:
        for folder, dirs, files in os.walk(root):
            found.update(os.path.join(folder, name) for name in dirs + files)
    return found


def site_dirs(python: str) -> list[str]:
    code = "import json, site; print(json.dumps(site.getsitepackages()))"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return [d for d in json.loads(done.stdout) if os.path.isdir(d)]


def system_python() -> str:
    """/usr/bin/python3 when it can run perftop's pyinstrument; the test is skipped if not."""
    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK):
        pytest.skip("no /usr/bin/python3 here")
    if describe(python) != ours():
        pytest.skip("/usr/bin/python3 is another Python version: see the refusal test")
    if has_pyinstrument(python):
        pytest.skip("/usr/bin/python3 has its own pyinstrument")
    return python


async def profile_with(
    python: str, tmp_path: Path, launched: list[Launched], *, option: bool = False
) -> dict[str, object]:
    """Run REPORTER with `python` (as `--python PATH -- app.py` when `option`, else as
    `-- PATH app.py`); check its profile; return what the program saw."""
    app = tmp_path / "app.py"
    app.write_text(REPORTER)
    report = tmp_path / "report.json"
    before = tree(*site_dirs(python))
    if option:
        program = start([str(app), "1.5", str(report)], None, tmp_path / "log", python=python)
    else:
        program = start([python, str(app), "1.5", str(report)], None, tmp_path / "log")
    assert program.plan.python == python
    launched.append(program)
    sample = await until(LaunchCollector(program), Store(), lambda s: s.ended)
    assert program.returncode == 0, (tmp_path / "log").read_text()
    assert_burn_cpu_is_hot(sample)
    assert tree(*site_dirs(python)) == before, "nothing is installed into its environment"
    assert not has_pyinstrument(python)
    seen: dict[str, object] = json.loads(report.read_text())
    return seen


def assert_nothing_of_perftop(seen: dict[str, object]) -> None:
    modules = seen["modules"]
    assert isinstance(modules, list)
    leaked = [m for m in modules if m.split(".")[0] in PERFTOP_ONLY]
    assert leaked == []
    assert "pyinstrument" in modules  # the agent's: the program runs under it
    path = seen["path"]
    assert isinstance(path, list)
    perftop_dirs = {os.path.dirname(os.path.dirname(__file__)), *site_dirs(sys.executable)}
    assert [p for p in path if p in perftop_dirs or "perftop-run-" in p] == []
    environ = seen["environ"]
    assert isinstance(environ, dict)
    assert "PYTHONPATH" not in environ or environ["PYTHONPATH"] == os.environ.get("PYTHONPATH")
    assert seen["child_imports_pyinstrument"] is False


@run
async def test_a_fresh_venv_without_pyinstrument_runs_under_perftops_own(
    tmp_path: Path, launched: list[Launched]
) -> None:
    base = getattr(sys, "_base_executable", sys.executable)
    python = bare_venv(base, tmp_path / "venv")
    assert not has_pyinstrument(python)
    seen = await profile_with(python, tmp_path, launched, option=True)
    assert_nothing_of_perftop(seen)
    assert launched[0].pyinstrument_lent


@run
async def test_the_system_python3_runs_under_perftops_own(
    tmp_path: Path, launched: list[Launched]
) -> None:
    python = system_python()
    seen = await profile_with(python, tmp_path, launched)
    assert_nothing_of_perftop(seen)


def other_version() -> str:
    """A CPython of another minor version than perftop's: on PATH, or one pyenv installed."""
    names = [f"python3.{minor}" for minor in range(14, 7, -1) if minor != sys.version_info[1]]
    candidates = [shutil.which(name) for name in names]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(path) for name in names for path in sorted(pyenv.glob(f"*/bin/{name}"))]
    for found in filter(None, candidates):
        done = subprocess.run([found, "-c", "import venv"], capture_output=True, check=False)
        if done.returncode == 0:
            return found
    pytest.skip("no Python of another version here")


def test_another_python_version_is_refused_with_what_to_install(tmp_path: Path) -> None:
    python = bare_venv(other_version(), tmp_path / "venv")
    version = describe(python)["version"]
    marker = tmp_path / "ran"
    app = tmp_path / "app.py"
    app.write_text(f"open({str(marker)!r}, 'w').close()\n")
    with pytest.raises(LaunchError) as raised:
        start([python, str(app)], None, tmp_path / "log")
    assert str(raised.value) == (
        f"pyinstrument is not installed for {python} (Python {version}), and perftop's own "
        f"is built for Python {ours()['version']}: install pyinstrument 5.0 to 5.1 there "
        f"with: {python} {INSTALL}"
    )
    assert not marker.exists()


def test_an_unsupported_pyinstrument_in_the_interpreter_is_refused(tmp_path: Path) -> None:
    """The program's own pyinstrument is never shadowed: a version the agent cannot read
    is refused with the command that installs one it can."""
    base = getattr(sys, "_base_executable", sys.executable)
    python = bare_venv(base, tmp_path / "venv")
    (site,) = site_dirs(python)
    (Path(site) / "pyinstrument").mkdir()
    (Path(site) / "pyinstrument" / "__init__.py").write_text("__version__ = '4.6.2'\n")
    app = tmp_path / "app.py"
    app.write_text("print('ran')\n")
    with pytest.raises(LaunchError) as raised:
        start([python, str(app)], None, tmp_path / "log")
    assert str(raised.value) == (
        f"{python} has pyinstrument 4.6.2; perftop run needs 5.0 to 5.1: "
        f"install pyinstrument 5.0 to 5.1 there with: {python} {INSTALL}"
    )
