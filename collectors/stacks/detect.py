"""Is a process Python? Answered from /proc alone, before anyone is asked to approve an attach.

A CPython process either runs a `python…` executable (pyenv's and most distributions' builds
link the interpreter in statically) or maps a `libpython…` library (embedded interpreters:
uWSGI, mod_wsgi, frozen applications). Anything else would only make py-spy fail after the
person said yes. Where /proc cannot be read, the answer is "maybe": py-spy decides then.
"""

from __future__ import annotations

import os
import re

_PYTHON_FILE = re.compile(r"^(?:lib)?python\d*(?:\.\d+)*[a-z]*(?:\.so.*)?$")


def _looks_like_python(path: str) -> bool:
    name = os.path.basename(path.removesuffix(" (deleted)"))
    return bool(_PYTHON_FILE.match(name))


def why_not_python(pid: int, proc: str = "/proc") -> str | None:
    """Why `pid` cannot be a Python process, in words, or None when it is or may be one."""
    try:
        exe = os.readlink(f"{proc}/{pid}/exe")
    except OSError:
        return None  # gone, or not ours to read: leave the verdict to the attach itself
    if _looks_like_python(exe):
        return None
    try:
        with open(f"{proc}/{pid}/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                path = fields[5].strip() if len(fields) == 6 else ""
                if path.startswith("/") and _looks_like_python(path):
                    return None
    except OSError:
        return None
    name = os.path.basename(exe.removesuffix(" (deleted)"))
    return (
        f"process {pid} ({name}) is not a Python process: neither its program nor any "
        "library it has loaded is a Python interpreter"
    )
