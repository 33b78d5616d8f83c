"""One naming of functions and files for every profiler and every view.

The same program must read the same under py-spy (attached), pyinstrument (`perftop run`)
and a saved file (`perftop open`), in the top table, the tree, the icicle and the now view.
What each sampler gives, and what is done with it:

- **Functions** are qualified names (`co_qualname`, Python 3.11+): `Class.method`,
  `compute_totals.<locals>.<genexpr>`. py-spy gives these itself; the pyinstrument agent
  looks them up from the code of the file (agent.py `Qualnames`), since pyinstrument gives
  `co_name` and the class of `self`. Where no qualified name can be had (older Pythons, a
  file gone), the name stays as the sampler gave it.
- **Files** are full paths as the samplers give them (py-spy runs with `--full-filenames`,
  pyinstrument gives `co_filename`), kept so in the profile and the exports, and shown by
  `Names`: the standard library as `<stdlib>/json/encoder.py`, installed packages as
  `<site>/pkg/mod.py` (site-packages or dist-packages, of any environment), anything else
  by the shortest ending of its path that no other file of the profile shares (`app.py`,
  or `web/app.py` beside `worker/app.py`). Names that are not paths (`<built-in>`,
  `<frozen runpy>`, `libc.so.6`) stay as they are.
- **Lines** are shown with every frame (`file:line`): the line the function was at; where
  the samples of one function or tree node disagree, the line most of them were at
  (profile.py picks it).

Function and file names are untrusted text: this module only cuts and joins them; the views
draw them through `literal`/`neutralise`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .model import Frame

STDLIB = "<stdlib>"
SITE = "<site>"

# ".../lib/python3.11/...", ".../lib64/python3.12t/...", "/usr/lib/python3/dist-packages/..."
_LIBRARY = re.compile(r"(?:^|/)lib(?:64)?/(?:python|pypy)\d*(?:\.\d+)?[a-z]?/(?P<rest>.+)$")
_PACKAGES = re.compile(r"(?:^|/)(?:site|dist)-packages/(?P<rest>.+)$")


def place(path: str) -> str:
    """`<stdlib>/…` or `<site>/…` for a file of the standard library or of an installed
    package; any other path unchanged."""
    if not path or path.startswith("<"):
        return path
    path = path.replace("\\", "/")
    packages = _PACKAGES.search(path)
    if packages is not None:
        return f"{SITE}/{packages['rest']}"
    library = _LIBRARY.search(path)
    if library is not None:
        return f"{STDLIB}/{library['rest']}"
    return path


def _parts(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def shortest(paths: Iterable[str]) -> dict[str, str]:
    """Each path shortened to the fewest last parts that no other of `paths` ends with
    (a path that is the ending of another keeps enough to stay apart, up to all of it)."""
    unique = sorted(set(paths))
    parts = {path: _parts(path) for path in unique}
    shown: dict[str, str] = {}
    pending = [path for path in unique if parts[path]]
    for path in unique:
        if not parts[path]:
            shown[path] = path
    depth = 1
    while pending:
        endings: dict[tuple[str, ...], int] = {}
        for path in pending:
            ending = tuple(parts[path][-depth:])
            endings[ending] = endings.get(ending, 0) + 1
        # An ending some already-shown path also ends with would still be ambiguous.
        taken = {tuple(parts[p][-depth:]) for p in shown if parts[p]}
        left = []
        for path in pending:
            ending = tuple(parts[path][-depth:])
            whole = depth >= len(parts[path])
            if whole or (endings[ending] == 1 and ending not in taken):
                shown[path] = path if whole else "/".join(ending)
            else:
                left.append(path)
        pending = left
        depth += 1
    return shown


class Names:
    """How the views name the files of one profile (or one dump)."""

    def __init__(self, files: Iterable[str] = ()) -> None:
        placed = {file: place(file) for file in set(files)}
        own = [shown for shown in placed.values() if not shown.startswith("<")]
        short = shortest(own)
        self._shown = {
            file: shown if shown.startswith("<") else short.get(shown, shown)
            for file, shown in placed.items()
        }

    @classmethod
    def of(cls, frames: Iterable[Frame]) -> Names:
        return cls(frame.file for frame in frames)

    def file(self, path: str) -> str:
        """`path` as the views show it."""
        shown = self._shown.get(path)
        return shown if shown is not None else place(path)

    def where(self, path: str, line: int) -> str:
        """`file:line` (just the file where the line is not known, "" where neither is)."""
        shown = self.file(path)
        return f"{shown}:{line}" if line and shown else shown

    def label(self, frame: Frame) -> str:
        """`name (file:line)`, the form py-spy and flamegraph.pl use."""
        where = self.where(frame.file, frame.line)
        return f"{frame.name} ({where})" if where else frame.name
