"""`perftop snapshot --json`: run the collectors headless for N seconds, print one JSON document.

How the rates are measured: every collector takes a baseline when it is built, then each is
ticked once right at the start (all together, so every source's baseline is the same moment,
whatever the order and cost of construction), the snapshot sleeps N seconds, and each is
ticked once more. Every rate in the document (CPU %, ctx/s, disk and network bytes/s, a
process's CPU % and I/O) is therefore the average over those N seconds, and never a
near-zero interval. `base.tick` runs each `collect()` in a worker thread and writes the
sample or the failure into a `Store`, exactly as the live app's collector loop does.

The document (no TUI, and nothing here imports Textual):

    {
      "perftop": "0.1.0",
      "taken_at": "2025-01-01T12:00:00.000+00:00",   # UTC, when the last tick ended
      "seconds": 1.0,                                # the interval the rates cover
      "hostname": "db-3",
      "system": {"cpu": {...} | null, "memory": {...} | null},
      "cpus": [{"cpu": 0, "user": ..., "system": ..., "iowait": ..., "steal": ...,
                "busy": ...}, ...] | null,
      "disks": [{"name": "sda", "read_bytes_per_s": ..., ...}, ...] | null,
      "nics": [{"name": "eth0", "rx_bytes_per_s": ..., ...}, ...] | null,
      "processes": [{"pid": ..., "cmdline": "<redacted>", "read_bytes_per_s": null, ...}]
                   | null,
      "status": {"cpu": {"state": "ok", "message": ""}, ...}
    }

`null` for a section means its collector failed at the final tick ("status" says why); a
field that is `null` could not be read (another user's /proc/PID/io). Units are raw: bytes,
seconds, percent (a process's CPU % is of one core, up to 100 × cores). Command lines pass
through `redact`, so passwords on them read `****`.

With `--pid PID --approve attach`, a "stacks" section is added: py-spy attached through the
approval gate (the flag is the answer; without it the gate declines and the section says
so), sampled over the same N seconds (sessions/stacks.py); a window py-spy could
not read even retried is counted there ("windows_lost", "lost": "1 of 6 windows lost"),
"idle" is the share of its samples that were idle (the top lists leave those out), and
only a section none of whose windows worked is an error. With `--dsn` (or the
PG* environment), a "postgres" section: statements over the N seconds and the activity at
the end (sessions/postgres.py). Both run concurrently with the machine's
collectors, on the same loop. A section whose part failed carries an "error"/"errors" entry
and makes the exit code 1.

Each machine section is one function of the store; `SECTIONS` lists them in document order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import math
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from . import __version__
from .actions.gate import Gate
from .collectors.base import Collector, tick
from .collectors.samples import (
    CoreUsage,
    CpuSample,
    DiskSample,
    MemorySample,
    NetSample,
    ProcessRow,
    ProcessSample,
)
from .collectors.system import default_collectors
from .redact import redact
from .store import Store

Section = Callable[[Store], object]


def _record(sample: object) -> dict[str, object]:
    """A sample's fields as a dict, without its monotonic `time` (meaningless outside)."""
    assert dataclasses.is_dataclass(sample) and not isinstance(sample, type)
    fields = dataclasses.asdict(sample)
    fields.pop("time", None)
    return fields


def _usage(usage: CoreUsage) -> dict[str, object]:
    return {**dataclasses.asdict(usage), "busy": usage.busy}


def section_system(store: Store) -> dict[str, object]:
    """Machine-wide CPU (total split, load, ctx/s, intr/s, pressure) and memory."""
    cpu = store.latest("cpu", CpuSample)
    memory = store.latest("memory", MemorySample)
    cpu_doc: dict[str, object] | None = None
    if cpu is not None:
        cpu_doc = {
            "total": _usage(cpu.total),
            "load": list(cpu.load),
            "ctx_switches_per_s": cpu.ctx_switches_per_s,
            "interrupts_per_s": cpu.interrupts_per_s,
            "pressure": dataclasses.asdict(cpu.pressure) if cpu.pressure else None,
        }
    return {"cpu": cpu_doc, "memory": _record(memory) if memory is not None else None}


def section_cpus(store: Store) -> list[object] | None:
    """One entry per core, by cpu number."""
    cpu = store.latest("cpu", CpuSample)
    if cpu is None:
        return None
    return [{"cpu": n, **_usage(core)} for n, core in enumerate(cpu.cores)]


def section_disks(store: Store) -> list[object] | None:
    """Whole disks that have done I/O, with their rates."""
    disk = store.latest("disk", DiskSample)
    return None if disk is None else [dataclasses.asdict(d) for d in disk.devices]


def section_nics(store: Store) -> list[object] | None:
    """Network interfaces of this namespace, with their rates and error totals."""
    net = store.latest("net", NetSample)
    return None if net is None else [dataclasses.asdict(n) for n in net.nics]


def _process(row: ProcessRow) -> dict[str, object]:
    fields = dataclasses.asdict(row)
    fields["cmdline"] = redact(row.cmdline)
    return fields


def section_processes(store: Store) -> list[object] | None:
    """Every process, by pid; command lines redacted."""
    sample = store.latest("processes", ProcessSample)
    if sample is None:
        return None
    return [_process(row) for row in sorted(sample.rows, key=lambda r: r.pid)]


SECTIONS: dict[str, Section] = {
    "system": section_system,
    "cpus": section_cpus,
    "disks": section_disks,
    "nics": section_nics,
    "processes": section_processes,
}


def _finite(value: object) -> object:
    """`value` with NaN and infinities as None: JSON has no spelling for them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def document(
    store: Store, sources: list[str], seconds: float, taken_at: dt.datetime
) -> dict[str, object]:
    """The snapshot document from what the collectors left in `store`."""
    doc: dict[str, object] = {
        "perftop": __version__,
        "taken_at": taken_at.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds"),
        "seconds": seconds,
        "hostname": socket.gethostname(),
    }
    for key, section in SECTIONS.items():
        doc[key] = section(store)
    doc["status"] = {
        source: {"state": store.status(source).state, "message": store.status(source).message}
        for source in sources
    }
    result = _finite(doc)
    assert isinstance(result, dict)
    return result


def all_ok(doc: dict[str, object]) -> bool:
    """True when every collector's final tick produced data and every extra part worked."""
    status = doc["status"]
    assert isinstance(status, dict)
    stacks = doc.get("stacks")
    if isinstance(stacks, dict) and stacks.get("error"):
        return False
    postgres = doc.get("postgres")
    if isinstance(postgres, dict) and postgres.get("errors"):
        return False
    return all(entry["state"] == "ok" for entry in status.values())


@dataclass(frozen=True, slots=True)
class Extras:
    """The optional parts of a snapshot: stacks of one process, PostgreSQL."""

    pid: int | None = None
    gate: Gate | None = None  # asks nobody: its asker is the --approve flag
    rate: int = 100
    sampler: str = "auto"  # Settings.sampler
    postgres: bool = False
    dsn: str | None = None


async def _extras(seconds: float, extras: Extras) -> dict[str, object]:
    parts: dict[str, Awaitable[dict[str, object]]] = {}
    if extras.pid is not None:
        from .sessions.stacks import stacks_section

        assert extras.gate is not None, "attaching needs the gate"
        parts["stacks"] = stacks_section(
            extras.pid, seconds, extras.rate, gate=extras.gate, engine=extras.sampler
        )
    if extras.postgres:
        from .sessions.postgres import postgres_section

        parts["postgres"] = postgres_section(extras.dsn, seconds)
    values = await asyncio.gather(*parts.values())
    return dict(zip(parts, values, strict=True))


async def collect(seconds: float, collectors: list[Collector]) -> Store:
    """Tick every collector now and again after `seconds`; returns the store they filled."""
    store = Store(history_len=2)
    await asyncio.gather(*(tick(c, store) for c in collectors))
    await asyncio.sleep(seconds)
    await asyncio.gather(*(tick(c, store) for c in collectors))
    return store


def take(
    seconds: float, collectors: list[Collector] | None = None, extras: Extras | None = None
) -> dict[str, object]:
    """Run the collectors (and the extras) for `seconds` on a fresh event loop; returns the
    document."""
    chosen = default_collectors(seconds) if collectors is None else collectors

    async def everything() -> tuple[Store, dict[str, object]]:
        machine = collect(seconds, chosen)
        if extras is None:
            return await machine, {}
        return await asyncio.gather(machine, _extras(seconds, extras))

    store, more = asyncio.run(everything())
    doc = document(store, [c.source for c in chosen], seconds, dt.datetime.now(dt.timezone.utc))
    for key, part in more.items():
        doc[key] = _finite(part)
    return doc


def dumps(doc: dict[str, object]) -> str:
    """The document as one line of JSON; non-ASCII escaped, so untrusted names carry no
    terminal control characters to the reader's screen."""
    return json.dumps(doc, ensure_ascii=True, allow_nan=False)
