"""perftop's benchmarks: what perftop costs, measured next to the tools it replaces.

`python -m benchmarks` (`make bench`) runs perftop, htop, glances and top in real
pseudo-terminals and reports, as one Markdown table (and optionally JSON): CPU use as % of
one core at a 1 s refresh with the machine's processes and with extra idle ones, peak RSS,
time to the first complete frame, and the cost of one in-process collection tick.

This package is tooling, not part of the installed `perftop` distribution; it runs from the
repository root.
"""
