"""Numbers as people read them: short, fixed-width-ish, and blank when unknown.

Pure functions with no Textual import, so the app, the panes, the headless report and the
tests share one way of writing a byte count or a rate. `None` (a value that could not be
read) always becomes the empty string, never "0".
"""

from __future__ import annotations

_BINARY = ("K", "M", "G", "T", "P", "E")
_DECIMAL = ("k", "M", "G", "T", "P", "E")


def _scaled(value: float, base: float, units: tuple[str, ...], small: str) -> str:
    """`value` in the largest unit that keeps it under 1000, with 2-3 significant digits."""
    if value != value:  # NaN: treat like an unreadable value rather than print "nan"
        return ""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value < 1000 and not (base == 1024 and value >= base):
        return f"{sign}{value:.0f}{small}"
    unit = units[-1]
    for candidate in units:
        value /= base
        # 999.6 would print as "1000"; step up a unit instead of printing 4 digits.
        if round(value, 1 if value < 10 else 0) < 1000:
            unit = candidate
            break
    text = f"{value:.1f}" if value < 9.95 else f"{value:.0f}"
    return f"{sign}{text}{unit}"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`1 thread`, `3 threads`, `0 threads`."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def fmt_bytes(n: float | None) -> str:
    """A byte count in binary units: 512B, 1.5K, 38M, 15G. None gives ""."""
    if n is None:
        return ""
    return _scaled(float(n), 1024, _BINARY, "B")


def fmt_rate(n: float | None) -> str:
    """Bytes per second: 0B/s, 1.5K/s, 120M/s. None gives ""."""
    text = fmt_bytes(n)
    return f"{text}/s" if text else ""


def fmt_count(n: float | None) -> str:
    """A count or a per-second count in SI units: 7, 950, 1.2k, 35k, 4.1M. None gives ""."""
    if n is None:
        return ""
    return _scaled(float(n), 1000, _DECIMAL, "")


def fmt_percent(p: float | None, digits: int = 1) -> str:
    """A percentage with `digits` decimals: 37.5%. None gives ""."""
    if p is None or p != p:
        return ""
    return f"{p:.{digits}f}%"


def fmt_ms(ms: float | None) -> str:
    """Milliseconds: 0.4ms, 12ms, 1.3s. None gives ""."""
    if ms is None or ms != ms:
        return ""
    if ms < 10:
        return f"{ms:.1f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    return f"{ms / 1000:.1f}s"


def fmt_time_ms(ms: float | None) -> str:
    """Milliseconds: 0, 38µs, 412µs, 3.2ms, 12ms, 1.24s, 12.3s, 123s. None gives "".

    Below a millisecond in whole µs (as pg_activity and pgcenter do), so statements that
    each take a fraction of a millisecond still read differently. Zero is "0", as in
    every other figure. The statements' times use it; the disk panes keep `fmt_ms`.
    """
    if ms is None or ms != ms:
        return ""
    if ms == 0:
        return "0"
    us = ms * 1000
    if us < 0.5:
        return "<1µs"
    if round(us) < 1000:
        return f"{us:.0f}µs"
    if round(ms, 1) < 10:
        return f"{ms:.1f}ms"
    if round(ms) < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if round(seconds, 2) < 10:
        return f"{seconds:.2f}s"
    if round(seconds, 1) < 100:
        return f"{seconds:.1f}s"
    return f"{seconds:.0f}s"


def fmt_duration(seconds: float | None) -> str:
    """A span of time, coarsest two units: 45s, 3m20s, 2h05m, 4d03h. None gives ""."""
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
