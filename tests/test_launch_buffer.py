"""What `perftop run` reads from its agent is bounded: a line longer than any message the
agent sends is dropped (and said), not kept growing; the messages after it still count."""

from __future__ import annotations

import json
import os
import threading
import tracemalloc
from types import SimpleNamespace

from perftop.collectors.stacks.launch import MAX_LINE, LaunchCollector


def test_an_endless_line_is_dropped_and_the_next_message_read() -> None:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    collector = LaunchCollector(SimpleNamespace(pipe_fd=read_fd))  # type: ignore[arg-type]
    hello = {"type": "hello", "python": "3.11.7", "thread_id": 7, "interval": 0.001}
    payload = b"x" * (3 * MAX_LINE) + b"\n" + json.dumps(hello).encode() + b"\n"

    def write() -> None:
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(payload)

    writer = threading.Thread(target=write)
    tracemalloc.start()
    writer.start()
    try:
        while not collector.eof:
            collector.read()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        writer.join(10)
        os.close(read_fd)
    assert peak < 2 * MAX_LINE  # the 24 MiB line was never held whole
    assert "longer than perftop reads" in collector.error
    assert collector.python == "3.11.7" and collector.thread_id == 7


def test_lines_split_across_reads_are_joined() -> None:
    collector = LaunchCollector(SimpleNamespace(pipe_fd=-1))  # type: ignore[arg-type]
    line = json.dumps({"type": "hello", "python": "3.12.1"}).encode() + b"\n"
    for i in range(0, len(line), 5):
        collector._take(line[i : i + 5])  # noqa: SLF001 - the pipe's chunks, by hand
    assert collector.python == "3.12.1" and not collector.error
