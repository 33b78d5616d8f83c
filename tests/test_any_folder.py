"""`make test` and `make run` work whatever the checkout's folder is called.

The repository root is the `perftop` package (pyproject: package-dir {"perftop" = "."}),
so any tool that names the package after its folder breaks in a folder that is no valid
module name: mypy did, in a clone called `perftop-main`. These tests clone the repository
(its HEAD, as a person or CI gets it; a copy of the tree when it is no git checkout) into a
folder of that name and run there the Makefile's type check and a real editable install.

Cheap on purpose: the type check uses this venv's mypy (`make typecheck VENV=...` has no
install step) with a copy of this checkout's mypy cache, and the install goes into a bare
venv without dependencies; together a few seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import perftop

ROOT = Path(perftop.__file__).resolve().parent
# What a copy of a tree that is not a git checkout leaves out: local state, not sources.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".mypy_cache", ".ruff_cache", ".hypothesis", "__pycache__", "build",
    "*.egg-info",
)  # fmt: skip


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository in a folder named `perftop-main`, with a warm mypy cache."""
    where = tmp_path_factory.mktemp("any-folder") / "perftop-main"
    if (ROOT / ".git").exists() and shutil.which("git"):
        subprocess.run(
            ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(where)], check=True
        )
    else:
        shutil.copytree(ROOT, where, ignore=NOT_SOURCES, symlinks=True)
    cache = ROOT / ".mypy_cache"
    if cache.is_dir():  # only a speed-up: mypy rechecks what differs
        shutil.copytree(cache, where / ".mypy_cache", ignore=shutil.ignore_patterns("src"))
    return where


def test_the_type_check_passes_in_a_folder_named_perftop_main(checkout: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "--no-print-directory", "typecheck", f"VENV={sys.prefix}"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "not a valid Python package name" not in output
    assert "Success: no issues found" in output, output
    # It checked the package as `perftop`, through the link into this checkout.
    assert (checkout / ".mypy_cache" / "src" / "perftop").resolve() == checkout.resolve()


def test_the_editable_install_imports_perftop_from_that_folder(
    checkout: Path, tmp_path: Path
) -> None:
    base = getattr(sys, "_base_executable", sys.executable)
    venv = tmp_path / "venv"
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
        + ["--no-deps", "--editable", str(checkout)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    code = (
        "import perftop, perftop.collectors.stacks.model as m; "
        "print(perftop.__file__); print(m.__file__)"
    )
    shown = subprocess.run(
        [str(python), "-c", code],
        cwd=tmp_path,  # not the checkout: the install, not the working directory, finds it
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == [
        str(checkout / "__init__.py"),
        str(checkout / "collectors" / "stacks" / "model.py"),
    ]
    # What `make run` starts: the installed command (its --version needs no dependency).
    command = subprocess.run(
        [str(venv / "bin" / "perftop"), "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert (command.returncode, command.stdout.strip()) == (0, f"perftop {perftop.__version__}")
