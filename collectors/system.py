"""The machine-wide collectors, built in one place for the app and the headless snapshot.

Each collector takes a baseline when it is built, so its first `collect()` already reports
rates over the time since construction.
"""

from __future__ import annotations

from .base import Collector
from .cpu import CpuCollector
from .disk import DiskCollector
from .memory import MemoryCollector
from .net import NetCollector
from .processes import ProcessCollector

SOURCES = ("cpu", "memory", "disk", "net", "processes")
"""The store keys of `default_collectors`, in its order."""


def default_collectors(interval: float) -> list[Collector]:
    """CPU, memory, disk, network and every process, each ticking every `interval` s.

    Building them is blocking (each reads its baseline; the process collector scans every
    process once), so call this before the event loop is busy, or in a thread.
    """
    return [
        CpuCollector(interval=interval),
        MemoryCollector(interval=interval),
        DiskCollector(interval=interval),
        NetCollector(interval=interval),
        ProcessCollector(interval=interval),
    ]
