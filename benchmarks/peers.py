"""perftop's PostgreSQL and stacks parts beside the tool people use for each, in one run.

    python -m benchmarks pg-peer [--window 40] [--rounds 2] [--tps 300] [--quick]
    python -m benchmarks stacks-peer [--window 30] [--rounds 2] [--rate 100] [--quick]

Every subject runs alone in its own 120x40 pty, one after the other, and each is measured
the same way: its whole process tree's CPU time (py-spy children and reaped ones counted)
over `--window` seconds after a warm-up, as % of one core. The rounds alternate the order
so a drifting machine does not favour one side. Medians over the rounds are printed.

pg-peer: a throwaway cluster (tests/pg_cluster.py) with `pgbench --rate TPS` running
against it throughout. Subjects: perftop's dashboard alone (`perftop -d 1`), perftop with
`--dsn` and the PostgreSQL screen open (`p`), and pg_activity at a 1 s refresh
(`pip install pg_activity psycopg[binary]` once into this venv; `--install` does it). The
PostgreSQL part is the second minus the first; the figure that matters is its ratio to
pg_activity's whole cost.

stacks-peer: a Python target spending about 70 % of its time in one function and 30 % in
another. Subjects: perftop's dashboard alone, `perftop --pid PID` with the attach approved
(the Stacks screen), and `py-spy top --nonblocking` at the same rate. The stacks part is
the second minus the first, against py-spy top's whole cost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import probes
from .subjects import clean_env
from .terminal import PtySession

ROOT = Path(__file__).resolve().parents[1]

TARGET = textwrap.dedent(
    """
    import time

    def heavy():
        x = 0
        for i in range(7000):
            x += i * i
        return x

    def light():
        x = 0
        for i in range(3000):
            x += i * i
        return x

    print("ready", flush=True)
    while True:
        heavy()
        light()
    """
)

Keys = Sequence[tuple[str, str]]  # (text the screen shows before typing, what to type)


@dataclass(frozen=True, slots=True)
class Subject:
    name: str
    argv: tuple[str, ...]
    ready: str  # a regular expression the screen matches once the subject is measuring
    keys: Keys = ()


def measure(subject: Subject, env: dict[str, str], warmup: float, window: float) -> float:
    """One window of `subject`'s tree CPU, % of one core; raises when it never got ready."""
    with PtySession(subject.argv, env, emulate=True) as session:
        for shown, typed in subject.keys:
            if session.wait_for(_shows(shown), timeout=60) is None:
                words = session.last_words()
                raise RuntimeError(f"{subject.name}: never showed {shown!r}: {words}")
            session.send(typed)
        if session.wait_for(_shows(subject.ready), timeout=60) is None:
            raise RuntimeError(
                f"{subject.name}: never showed {subject.ready!r}: {session.last_words()}"
            )
        time.sleep(warmup)
        start_wall, start_cpu = time.perf_counter(), probes.tree_cpu_seconds(session.pid)
        time.sleep(window)
        end_wall, end_cpu = time.perf_counter(), probes.tree_cpu_seconds(session.pid)
        if not session.alive():
            raise RuntimeError(f"{subject.name} exited: {session.last_words()}")
    return 100 * (end_cpu - start_cpu) / (end_wall - start_wall)


def _shows(pattern: str) -> Callable[[Sequence[str]], bool]:
    compiled = re.compile(pattern)
    return lambda lines: any(compiled.search(line) for line in lines)


def rounds(
    subjects: Sequence[Subject], env: dict[str, str], warmup: float, window: float, count: int
) -> dict[str, list[float]]:
    """Every subject measured `count` times, the order reversed every other round."""
    figures: dict[str, list[float]] = {s.name: [] for s in subjects}
    for n in range(count):
        order = subjects if n % 2 == 0 else list(reversed(subjects))
        for subject in order:
            percent = measure(subject, env, warmup, window)
            print(f"  round {n + 1}: {subject.name} {percent:.2f} %", file=sys.stderr)
            figures[subject.name].append(percent)
    return figures


def perftop_argv(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "perftop", "-d", "1", *args)


def report(
    figures: dict[str, list[float]], base: str, part: str, peer: str, label: str
) -> dict[str, object]:
    medians = {name: statistics.median(values) for name, values in figures.items()}
    own = medians[part] - medians[base]
    ratio = own / medians[peer] if medians[peer] > 0 else float("inf")
    print("| subject | % of a core (median) | rounds |\n|---|---:|---|")
    for name, values in figures.items():
        print(f"| {name} | {medians[name]:.2f} | {', '.join(f'{v:.2f}' for v in values)} |")
    print(f"| perftop's {label} part ({part} - {base}) | {own:.2f} | |")
    print(f"\n{label} part / {peer}: {ratio:.2f} (target: at most 1.00)")
    return {"figures": figures, "medians": medians, f"{label}_part": own, "ratio": ratio}


# pg-peer ---------------------------------------------------------------------------------


def _pg_activity(install: bool) -> str:
    exe = Path(sys.executable).parent / "pg_activity"
    if not exe.exists() and install:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "pg_activity", "psycopg[binary]"],
            check=True,
        )
    if not exe.exists():
        raise SystemExit("pg_activity is not installed in this venv: run with --install")
    return str(exe)


@contextlib.contextmanager
def _pgbench(cluster: object, tps: int) -> Iterator[None]:
    bindir = Path(cluster.client_bindir)  # type: ignore[attr-defined]
    pgbench = str(bindir / "pgbench") if (bindir / "pgbench").exists() else "pgbench"
    dsn = cluster.dsn  # type: ignore[attr-defined]
    subprocess.run([pgbench, "-i", "-q", "-s", "2", dsn], check=True, capture_output=True)
    load = subprocess.Popen(
        [pgbench, "-n", "-c", "4", "-R", str(tps), "-T", "36000", dsn],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        load.terminate()
        load.wait(timeout=10)


def pg_peer(args: argparse.Namespace) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from tests.pg_cluster import throwaway_cluster

    pg_activity = _pg_activity(args.install)
    with (
        tempfile.TemporaryDirectory(prefix="perftop-peer-") as home,
        throwaway_cluster() as cluster,
        _pgbench(cluster, args.tps),
    ):
        env = clean_env(Path(home))
        subjects = [
            Subject("perftop dashboard", perftop_argv(), ready=r"PID.*COMMAND"),
            Subject(
                "perftop --dsn, PostgreSQL screen",
                perftop_argv("--dsn", cluster.dsn),
                keys=((r"PID.*COMMAND", "p"),),
                ready=r"pgbench_",
            ),
            Subject(
                "pg_activity",
                (
                    pg_activity,
                    "--refresh",
                    "1",
                    "-h",
                    cluster.host,
                    "-p",
                    str(cluster.port),
                    "-U",
                    "postgres",
                    "-d",
                    cluster.database,
                ),
                ready=r"RUNNING QUERIES",
            ),
        ]
        figures = rounds(subjects, env, args.warmup, args.window, args.rounds)
    return report(figures, subjects[0].name, subjects[1].name, subjects[2].name, "PostgreSQL")


# stacks-peer -----------------------------------------------------------------------------


def _py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("py-spy is not installed")
    return found


def stacks_peer(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="perftop-peer-") as home:
        script = Path(home) / "target.py"
        script.write_text(TARGET)
        target = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
        try:
            assert target.stdout is not None
            target.stdout.readline()  # "ready"
            env = clean_env(Path(home))
            pid = str(target.pid)
            subjects = [
                Subject("perftop dashboard", perftop_argv(), ready=r"PID.*COMMAND"),
                Subject(
                    "perftop --pid, Stacks screen",
                    perftop_argv("--pid", pid, "--rate", str(args.rate)),
                    keys=((r"\by\b.*Yes|Yes", "y"),),
                    ready=r"heavy",
                ),
                Subject(
                    "py-spy top",
                    (_py_spy(), "top", "--pid", pid, "--rate", str(args.rate), "--nonblocking"),
                    ready=r"heavy",
                ),
            ]
            figures = rounds(subjects, env, args.warmup, args.window, args.rounds)
        finally:
            target.kill()
            target.wait()
    return report(figures, subjects[0].name, subjects[1].name, subjects[2].name, "stacks")


def main(part: str, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks {part}")
    parser.add_argument("--window", type=float, default=40.0 if part == "pg-peer" else 30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="3 s windows, one round")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    if part == "pg-peer":
        parser.add_argument("--tps", type=int, default=300)
        parser.add_argument("--install", action="store_true", help="pip install pg_activity")
    else:
        parser.add_argument("--rate", type=int, default=100)
    args = parser.parse_args(argv)
    if args.quick:
        args.window, args.warmup, args.rounds = 3.0, 1.0, 1
    result = pg_peer(args) if part == "pg-peer" else stacks_peer(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


def pg_main(argv: list[str]) -> int:
    return main("pg-peer", argv)


def stacks_main(argv: list[str]) -> int:
    return main("stacks-peer", argv)
