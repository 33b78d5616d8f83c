"""The data plane stays free of the UI: collectors, the store and the gate never import
Textual or Rich, so a headless recorder and the tests can use them without a terminal."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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
