"""py-spy failing, in plain words: what denied an attach, what a failed read means, where
py-spy is. Each read is tried `ATTEMPTS` times before a window or a dump counts as lost.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..base import CollectorError

INSTALL_HINT = "install it into perftop's environment with `pip install py-spy` (py-spy>=0.4)"


def ptrace_scope() -> str | None:
    """kernel.yama.ptrace_scope, or None where Yama is not in this kernel."""
    try:
        return Path("/proc/sys/kernel/yama/ptrace_scope").read_text().strip()
    except OSError:
        return None


# Faults ---------------------------------------------------------------------------------------


class TargetEnded(Exception):
    """The target process exited."""


class ReadFailed(CollectorError):
    """One read of the stacks failed for a reason that says nothing about the process.

    Under load, a thread that ends while py-spy reads it makes the read fail ("Failed to get
    stack traces ... Bad address"): measured on the standard library's threaded http.server
    under a client loop, 9 of 60 `py-spy dump` calls. The next read usually works, so such a
    failure is retried at once, and a window that stays failed is a lost window, not a
    failed profile.
    """


ATTEMPTS = 3
"""Reads of one window (or one dump) before it counts as lost: the first and two retries."""

MIN_READ = 0.05
"""Seconds of a window that must be left to start another read of it."""

GIVE_UP_AFTER = 3
"""Lost windows in a row, with none ever sampled, after which the sampler is failing."""


def permission_message(pid: int) -> str:
    """What denied the attach, and what would fix it."""
    scope = ptrace_scope()
    if scope is None:
        yama = "this kernel has no Yama ptrace_scope"
    else:
        meaning = {
            "0": "any process of the same user may be traced",
            "1": "only a parent may trace its children, or root / CAP_SYS_PTRACE",
            "2": "only root / CAP_SYS_PTRACE may trace",
            "3": "nobody may trace, not even root, until reboot",
        }.get(scope, "unknown value")
        yama = f"kernel.yama.ptrace_scope is {scope} ({meaning})"
    return (
        f"permission denied attaching py-spy to process {pid}: {yama}. "
        "Run perftop as root or the process's owner with CAP_SYS_PTRACE "
        "(e.g. `sudo perftop --pid ...`), or lower ptrace_scope "
        "(`sysctl kernel.yama.ptrace_scope=0`); in a container, start it with "
        "`--cap-add SYS_PTRACE`. Or launch the program with `perftop run` instead."
    )


def classify(pid: int, returncode: int, output: str) -> CollectorError | TargetEnded:
    """py-spy's failure as plain words (or TargetEnded when the target went away)."""
    text = output.strip()
    lower = text.lower()
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and "py-spy>" not in ln), "")
    first = first.removeprefix("Error: ")
    if "permission denied" in lower or "operation not permitted" in lower:
        return CollectorError(permission_message(pid))
    if "check that the process is running" in lower or "no such process" in lower:
        return TargetEnded()
    if "unsupported version" in lower or "unknown python version" in lower:
        return CollectorError(
            f"py-spy does not support this process's Python version ({first}); a newer py-spy may"
        )
    if "failed to find python version" in lower or "failed to find a python interpreter" in lower:
        return CollectorError(f"process {pid} is not a Python process (py-spy: {first})")
    detail = first or f"exit status {returncode}"
    return ReadFailed(f"py-spy failed: {detail}")


def check_attach(exe: str, pid: int, timeout: float = 10.0) -> None:
    """A quick nonblocking dump, to find out before sampling what would otherwise be the
    first window's failure: not Python, permission denied, the process gone.

    Raises that failure (a `CollectorError`, or `TargetEnded`). A read that failed for no
    reason of the process's (`ReadFailed`) is tried again, up to `ATTEMPTS` in all; if
    every one failed so, the attach goes on all the same: py-spy found a Python process it
    may read, and the windows will tell whether it can be sampled.
    """
    for _ in range(ATTEMPTS):
        try:
            done = subprocess.run(
                [exe, "dump", "--nonblocking", "--pid", str(pid)],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CollectorError(f"py-spy did not answer within {timeout:g} s") from exc
        if done.returncode == 0:
            return
        failure = classify(pid, done.returncode, done.stderr + done.stdout)
        if not isinstance(failure, ReadFailed):
            raise failure


def find_sampler(name: str, explicit: str | None, hint: str) -> str:
    """A sampler's executable (py-spy, austin): `explicit`, else next to this Python (the
    venv perftop runs from), else on PATH; `hint` says how to install it."""
    if explicit is not None:
        if os.access(explicit, os.X_OK) and os.path.isfile(explicit):
            return explicit
        raise CollectorError(f"{name} not found at {explicit}: {hint}")
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise CollectorError(f"{name} is not installed (not on PATH): {hint}")
    return found


def find_pyspy(explicit: str | None = None) -> str:
    """The py-spy executable (see `find_sampler`)."""
    return find_sampler("py-spy", explicit, INSTALL_HINT)
