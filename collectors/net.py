"""Network: per-interface throughput, packets, errors and drops."""

from __future__ import annotations

import time
from collections.abc import Callable

from .procfs import PROC, NicCounters, read_net_dev
from .rates import CounterDeltas
from .samples import NetSample, NicRate

LOOPBACK = "lo"


def _order(name: str) -> tuple[bool, str]:
    # Loopback last: it is kept (local database traffic shows up there) but is rarely
    # what a person scans the network pane for.
    return (name == LOOPBACK, name)


class NetCollector:
    """Samples /proc/net/dev (source "net").

    /proc/net/dev is per network namespace: inside a container this is the container's
    interfaces. Interfaces are sorted by name, loopback last. An interface that appears
    reads zero for its first tick; one whose counters went down (driver reload, interface
    re-created under the same name) reads zero for that tick instead of a negative or
    absurd rate. The constructor takes a baseline read, so the first `collect()` already
    has real rates.
    """

    inline = True  # small /proc reads: run on the loop (collectors/base.py)

    source = "net"

    def __init__(
        self,
        interval: float = 1.0,
        proc: str = PROC,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.proc = proc
        self._clock = clock
        self._deltas: CounterDeltas[str] = CounterDeltas()
        try:
            self._deltas.update(clock(), read_net_dev(proc))
        except (OSError, ValueError):
            pass  # collect() will raise the same error and the runner reports it.

    def collect(self) -> NetSample:
        """Per-interface rates since the previous call (or since construction)."""
        nics = read_net_dev(self.proc)
        now = self._clock()
        rates = self._deltas.update(now, nics)
        rows = []
        for name in sorted(nics, key=_order):
            c: NicCounters = nics[name]
            # The same fields as NicCounters, in its order, as per-second rates.
            rx_b, rx_p, rx_e, rx_d, tx_b, tx_p, tx_e, tx_d = rates[name]
            rows.append(
                NicRate(
                    name=name,
                    rx_bytes_per_s=rx_b,
                    tx_bytes_per_s=tx_b,
                    rx_packets_per_s=rx_p,
                    tx_packets_per_s=tx_p,
                    rx_errors_per_s=rx_e,
                    tx_errors_per_s=tx_e,
                    rx_drops_per_s=rx_d,
                    tx_drops_per_s=tx_d,
                    rx_errors_total=c.rx_errors,
                    tx_errors_total=c.tx_errors,
                    rx_drops_total=c.rx_drops,
                    tx_drops_total=c.tx_drops,
                )
            )
        return NetSample(time=now, nics=tuple(rows))

    def series(self, sample: object) -> dict[str, float]:
        """Series "net.rx" and "net.tx": bytes/s summed over every interface but loopback."""
        if not isinstance(sample, NetSample):
            return {}
        outside = [n for n in sample.nics if n.name != LOOPBACK]
        return {
            "net.rx": sum(n.rx_bytes_per_s for n in outside),
            "net.tx": sum(n.tx_bytes_per_s for n in outside),
        }
