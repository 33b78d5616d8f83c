"""perftop: a terminal UI live profiler for the system, Python stacks and PostgreSQL."""

__version__ = "0.1.0"
