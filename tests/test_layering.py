"""The data plane stays free of the UI: collectors, the store and the gate never import
Textual or Rich, so a headless recorder and the tests can use them without a terminal."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UI_PACKAGES = {"textual", "rich"}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level and node.module:
            # `from ..tui import x` reaches the UI through the package.
            if node.module.split(".")[0] in {"tui", "themes"}:
                roots.add("tui")
    return roots


def test_collectors_and_core_modules_import_no_ui_package() -> None:
    files = [*sorted((ROOT / "collectors").rglob("*.py")), *sorted((ROOT / "actions").glob("*.py"))]
    files += [ROOT / name for name in ("store.py", "config.py", "redact.py", "startup.py")]
    assert len(files) > 5
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_roots(path) & (UI_PACKAGES | {"tui"}))
        for path in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_data_plane_loads_no_ui_package() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import perftop.collectors as c, perftop.actions as a\n"
        "import perftop.store, perftop.config\n"
        "for pkg in (c, a):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'rich')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# The rooms of the package above the data plane: the data plane (collectors/, the store,
# samples, redaction, the approval permits) imports none of them.
ABOVE_THE_DATA_PLANE = {"actions", "sessions", "tui", "themes", "cli", "snapshot", "config"}


def _package_imports(path: Path, root: Path = ROOT) -> set[str]:
    """The top-level rooms of perftop that `path` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = path.relative_to(root).parent.parts  # the package `path` sits in, below perftop
    rooms: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(here[: len(here) - (node.level - 1)])
            parts = base + (node.module.split(".") if node.module else [])
            if parts:
                rooms.add(parts[0].removesuffix(".py"))
            else:  # `from .. import x` at the root: x is the room
                rooms.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "perftop" and len(parts) > 1:
                rooms.add(parts[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "perftop" and len(parts) > 1:
                    rooms.add(parts[1])
    return rooms


def test_the_data_plane_imports_nothing_above_it() -> None:
    files = sorted((ROOT / "collectors").rglob("*.py"))
    files += [ROOT / name for name in ("store.py", "redact.py", "permits.py")]
    offenders = {
        str(path.relative_to(ROOT)): sorted(_package_imports(path) & ABOVE_THE_DATA_PLANE)
        for path in files
        if path.exists()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_layering_walk_sees_relative_imports(tmp_path: Path) -> None:
    # The walk itself: a relative import of actions from a collector is one it reports.
    sample = tmp_path / "collectors" / "stacks" / "probe.py"
    sample.parent.mkdir(parents=True)
    sample.write_text("from ...actions.gate import Gate\nfrom .. import base\nfrom . import x\n")
    assert _package_imports(sample, tmp_path) == {"actions", "collectors"}


# Each layer and what it may not import (docs/ARCHITECTURE.md): the data plane nothing above
# it (checked above), the actions no session and no screen, the sessions no screen, and the
# settings none of the rooms that read them.
FORBIDDEN = {
    "actions": {"sessions", "tui", "themes", "cli", "snapshot", "config", "startup"},
    "sessions": {"tui", "themes", "cli"},
    "config.py": {"actions", "sessions", "tui", "themes", "cli", "snapshot"},
    "paths.py": ABOVE_THE_DATA_PLANE | {"collectors", "store", "redact", "permits"},
}


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_each_layer_imports_only_below_it(room: str) -> None:
    where = ROOT / room
    files = sorted(where.rglob("*.py")) if where.is_dir() else [where]
    assert files
    offenders = {
        str(path.relative_to(ROOT)): sorted(_package_imports(path) & FORBIDDEN[room])
        for path in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}
