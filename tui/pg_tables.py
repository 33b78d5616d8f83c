"""The two PostgreSQL tables (statements and activity) and the lines of text above them.

Both draw with the line API (`LineTable`): only visible lines are formatted, so 5,000
statements cost what a screenful costs. Figures are formatted here, never in the collector;
SQL, database, user, client and application names are untrusted and shown literally.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import ClassVar

from rich.text import Text

from ..collectors.postgres.activity import blocking_tree
from ..collectors.postgres.samples import (
    Backend,
    ServerInfo,
    StatementKey,
    StatementRate,
    StatementsSample,
)
from ..redact import redact
from ..store import SourceStatus
from .line_table import Column, LineTable, one_line
from .text import literal, neutralise
from .units import fmt_bytes, fmt_count, fmt_duration, fmt_time_ms

IDLE_XACT_WARNING = 5.0
"""Seconds "idle in transaction" after which a backend stands out ($warning)."""
IDLE_XACT_ERROR = 60.0
"""... and after which it is an error ($error): it holds locks and blocks vacuum."""

HIDDEN_QUERY = "<insufficient privilege>"
NOT_FETCHED = "<text not fetched yet>"


def figure(value: float) -> str:
    """A rate or a count in a few cells: 0, 0.4, 12, 950, 1.2k, 35k.

    Anything that would print as 0.0 prints as 0, so a column never mixes two zeros.
    """
    if round(value, 1) == 0:
        return "0"
    if value < 9.95:
        return f"{value:.1f}"
    if value < 999.5:
        return f"{value:.0f}"
    return fmt_count(value)


def tenths(value: float) -> str:
    """A percentage to one decimal, with zero written "0" as `figure` writes it."""
    return "0" if round(value, 1) == 0 else f"{value:.1f}"


def seconds_text(seconds: float | None) -> str:
    """How long something has run: 0.3s, 9.9s, 45s, 3m20s, 2h05m; blank when unknown."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 9.95:
        return f"{seconds:.1f}s"
    return fmt_duration(seconds)


def query_line(query: str, hidden: bool) -> str:
    """A statement's text on one line, or why it cannot be shown."""
    if hidden:
        return HIDDEN_QUERY
    return one_line(query) if query.strip() else NOT_FETCHED


WINDOWS: dict[str, str] = {
    "interval": "last interval",
    "minute": "last minute",
    "session": "since perftop started",
    "reset": "since the stats reset",
}
"""The statement windows the collector offers, with the words the screen uses."""


def status_text(status: SourceStatus) -> str:
    """A failing or starting source in plain words; "" when it is fine."""
    if status.state == "starting":
        return "PostgreSQL: connecting…"
    if status.state != "failing":
        return ""
    retry = f" (retrying in {status.retry_in:.0f}s)" if status.retry_in is not None else ""
    return f"PostgreSQL: {redact(status.message)}{retry}"


def summary(
    server: ServerInfo | None, sample: StatementsSample | None, window: str, read_only: bool
) -> Text:
    """The top lines: server, extension, connection, window, totals, and every notice."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if server is not None:
        text.append(f"PostgreSQL {server.version}", "bold")
        pgss = server.pgss_version
        text.append(f" · pg_stat_statements {pgss}" if pgss else " · no pg_stat_statements")
        text.append(" · ")
        text.append_text(literal(redact(server.dsn_display)))
    else:
        text.append("PostgreSQL", "bold")
    text.append("\n")
    text.append(f"window: {WINDOWS.get(window, window)}")
    if sample is not None and sample.window == window:
        calls = sum(r.calls_per_s for r in sample.statements)
        text.append(f" ({sample.seconds:.1f}s)")
        text.append(f" · {figure(sample.total_ms_per_s)} ms/s · {figure(calls)} calls/s")
        text.append(f" · {len(sample.statements)} statements")
        text.append(" · perftop's own queries: ")
        text.append(
            f"{figure(sample.own_ms_per_s)} ms/s, {figure(sample.own_calls_per_s)} calls/s"
            if sample.own_seconds > 0
            else "not measured yet",
            "dim",
        )
    elif sample is not None:
        text.append(" (waiting for the first figures)")
    for notice in notices(server, sample, read_only):
        text.append("\n")
        text.append_text(literal(notice, "italic"))
    return text


def notices(
    server: ServerInfo | None, sample: StatementsSample | None, read_only: bool
) -> list[str]:
    """The sample's notices, plus what the server info says that they do not."""
    lines = list(sample.notices) if sample is not None else []
    said = " ".join(lines).casefold()
    if sample is not None and sample.reset_seen and "reset" not in said:
        lines.append("pg_stat_statements was reset: the figures started over")
    if server is not None and not server.can_read_all_stats and "pg_read_all_stats" not in said:
        lines.append(
            f"role {server.user} is not a member of pg_read_all_stats (or pg_monitor):"
            " other users' query texts are hidden"
        )
    if server is not None and not server.pgss_preloaded:
        lines.append(
            "pg_stat_statements is not loaded: add shared_preload_libraries ="
            " 'pg_stat_statements' to postgresql.conf and restart the server"
        )
    elif server is not None and server.pgss_version is None:
        if read_only:
            lines.append(
                f"pg_stat_statements is preloaded but not created in {server.database}:"
                " run CREATE EXTENSION pg_stat_statements (perftop is read-only)"
            )
        else:
            lines.append(
                f"pg_stat_statements is preloaded but not created in {server.database}:"
                " press E to create it (asks first)"
            )
    return lines


# statements ---------------------------------------------------------------------------------

STATEMENT_COLUMNS: tuple[Column, ...] = (
    Column("share", "DB%", 5),
    Column("ms_per_s", "ms/s", 6),
    Column("calls_per_s", "calls/s", 8),
    Column("mean_ms", "mean", 7),
    Column("mean_ms_overall", "mean∞", 7),
    Column("rows_per_s", "rows/s", 7),
    Column("hit_percent", "hit%", 5),
    Column("blks_read_per_s", "read/s", 7),
    Column("temp_written_per_s", "temp/s", 7),
    Column("wal_bytes_per_s", "WAL/s", 6),
    Column("plan_ms", "plan", 6),
    Column("database", "DATABASE", 9, False, grow=24),
    Column("user", "USER", 8, False, grow=24),
)
STATEMENT_QUERY = Column("query", "QUERY", 0, False)

STATEMENT_SORTS: dict[str, Callable[[StatementRate], float | str]] = {
    "share": lambda r: r.share,
    "ms_per_s": lambda r: r.ms_per_s,
    "calls_per_s": lambda r: r.calls_per_s,
    "mean_ms": lambda r: r.mean_ms,
    "mean_ms_overall": lambda r: r.mean_ms_overall,
    "rows_per_s": lambda r: r.rows_per_s,
    "hit_percent": lambda r: -1.0 if r.hit_percent is None else r.hit_percent,
    "blks_read_per_s": lambda r: r.blks_read_per_s,
    "temp_written_per_s": lambda r: r.temp_written_per_s,
    "wal_bytes_per_s": lambda r: r.wal_bytes_per_s,
    "plan_ms": lambda r: r.plan_ms,
    "database": lambda r: r.database.casefold(),
    "user": lambda r: r.user.casefold(),
    "query": lambda r: " ".join(r.query.split()).casefold(),
}
"""Every sort key of the statements table (the keys of its columns)."""

STATEMENT_LABELS: dict[str, str] = {
    "share": "DB% (share of database time)",
    "ms_per_s": "ms/s (execution ms per second)",
    "calls_per_s": "calls/s",
    "mean_ms": "mean ms in the window",
    "mean_ms_overall": "mean∞ (mean ms since the entry was created)",
    "rows_per_s": "rows/s",
    "hit_percent": "hit% (shared-buffer hits)",
    "blks_read_per_s": "read/s (blocks read)",
    "temp_written_per_s": "temp/s (temp blocks written: spills)",
    "wal_bytes_per_s": "WAL/s (WAL bytes)",
    "plan_ms": "plan (planning ms)",
    "database": "database",
    "user": "user",
    "query": "query text",
}

_STATEMENT_CELLS: dict[str, Callable[[StatementRate], str]] = {
    "share": lambda r: tenths(r.share),
    "ms_per_s": lambda r: figure(r.ms_per_s),
    "calls_per_s": lambda r: figure(r.calls_per_s),
    "mean_ms": lambda r: fmt_time_ms(r.mean_ms) if r.calls else "",
    "mean_ms_overall": lambda r: fmt_time_ms(r.mean_ms_overall),
    "rows_per_s": lambda r: figure(r.rows_per_s),
    "hit_percent": lambda r: "" if r.hit_percent is None else tenths(r.hit_percent),
    "blks_read_per_s": lambda r: figure(r.blks_read_per_s),
    "temp_written_per_s": lambda r: figure(r.temp_written_per_s),
    "wal_bytes_per_s": lambda r: fmt_bytes(r.wal_bytes_per_s) if r.wal_bytes_per_s else "0",
    "plan_ms": lambda r: fmt_time_ms(r.plan_ms) if r.plan_ms else "",
    "database": lambda r: neutralise(r.database),
    "user": lambda r: neutralise(r.user),
    "query": lambda r: query_line(r.query, r.query_hidden),
}


def statement_matches(
    rate: StatementRate, needle: str, database: str | None, user: str | None
) -> bool:
    """Whether `rate` passes the filters (`needle` already casefolded)."""
    if database is not None and rate.database != database:
        return False
    if user is not None and rate.user != user:
        return False
    if not needle:
        return True
    return (
        needle in rate.query.casefold()
        or needle in rate.database.casefold()
        or needle in rate.user.casefold()
        or needle in str(rate.key.queryid)
    )


def sort_statements(rates: Iterable[StatementRate], key: str, reverse: bool) -> list[StatementRate]:
    """`rates` ordered by a sort key; ties in pg_stat_statements' key order, so stable."""
    value = STATEMENT_SORTS[key]
    return sorted(rates, key=lambda r: (value(r), r.key), reverse=reverse)


class StatementsTable(LineTable[StatementRate]):
    """pg_stat_statements over the chosen window, one statement a line."""

    COLUMNS = STATEMENT_COLUMNS
    LAST = STATEMENT_QUERY
    # The query text narrows first (to MIN_LAST, and two statements alike for longer than
    # that still read apart: see `distinct_texts`), then the figures least looked at hide;
    # DB%, ms/s, calls/s, mean and USER stay. At 80 columns: DB% ms/s calls/s mean hit%
    # DATABASE USER and 24+ cells of QUERY.
    GIVE_WAY = (
        ("hide", "plan_ms"),
        ("hide", "mean_ms_overall"),
        ("hide", "wal_bytes_per_s"),
        ("hide", "blks_read_per_s"),
        ("hide", "rows_per_s"),
        ("narrow", "database"),
        ("narrow", "user"),
        ("hide", "temp_written_per_s"),
        ("hide", "hit_percent"),
        ("hide", "database"),
    )
    MIN_LAST = 24
    ASCENDING: ClassVar[frozenset[str]] = frozenset(("database", "user", "query"))

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(sort="ms_per_s", reverse=True, id=id)
        self.statements: tuple[StatementRate, ...] = ()
        self.filter_text = ""
        self.database: str | None = None
        self.user: str | None = None

    def update(self, statements: tuple[StatementRate, ...]) -> None:
        """Show a new sample's statements: filter and sort once."""
        self.statements = statements
        self.rebuild()

    def set_filter(
        self, text: str | None = None, database: str | None = "", user: str | None = ""
    ) -> None:
        """Change the text filter and/or the database and user (None: all; "": unchanged)."""
        if text is not None:
            self.filter_text = text
        if database != "":
            self.database = database
        if user != "":
            self.user = user
        self.rebuild()

    def identity(self, row: StatementRate) -> Hashable:
        return row.key

    def order(self) -> tuple[tuple[StatementRate | str, ...], tuple[str, ...]]:
        needle = self.filter_text.casefold()
        rows: Iterable[StatementRate] = self.statements
        if needle or self.database is not None or self.user is not None:
            rows = [r for r in rows if statement_matches(r, needle, self.database, self.user)]
        return tuple(sort_statements(rows, self.sort_key, self.reverse)), ()

    def cell(self, row: StatementRate, key: str) -> tuple[str, str]:
        text = _STATEMENT_CELLS[key](row)
        if key == "temp_written_per_s" and row.temp_written_per_s > 0:
            return text, "line-table--warning"  # it spills to disk: work_mem is too small
        if key == "query" and (row.query_hidden or not row.query.strip()):
            return text, "line-table--muted"
        return text, ""

    def empty_text(self) -> str:
        if self.statements:
            return "no statement matches the filter"
        return "no statement ran in this window"

    def keys_shown(self) -> tuple[StatementKey, ...]:
        return tuple(r.key for r in self.rows_shown if isinstance(r, StatementRate))


# activity ----------------------------------------------------------------------------------

ACTIVITY_COLUMNS: tuple[Column, ...] = (
    Column("pid", "PID", 7, grow=7),
    Column("database", "DATABASE", 9, False, grow=24),
    Column("user", "USER", 8, False, grow=24),
    Column("client", "CLIENT", 15, False, grow=47),  # [IPv6]:port
    Column("application", "APP", 10, False, grow=32),  # or a worker's backend_type
    Column("state", "STATE", 13, False, grow=14),
    Column("query_seconds", "TIME", 6),
    Column("xact_seconds", "XACT", 6),
    Column("wait", "WAIT", 12, False, grow=40),
)
ACTIVITY_QUERY = Column("query", "QUERY TEXT", 0, False)

STATES = {
    "idle in transaction": "idle in xact",
    "idle in transaction (aborted)": "idle xact abrt",
    "fastpath function call": "fastpath",
}


def _none_last(value: float | None) -> float:
    return -1.0 if value is None else value


def state_time(backend: Backend) -> float | None:
    """Seconds a backend has been in its STATE: the TIME column, one rule for every row.

    Active: how long its query has run (query_start). Not running a query (idle, idle in
    transaction…): how long it has been so (state_change), so an idle-in-transaction root
    blocker shows how long it has held its locks. None only when PostgreSQL gives no state
    (most background workers): the cell is blank then, and only then. XACT follows the same
    idea: blank exactly when there is no open transaction.
    """
    if not backend.state:
        return None
    if backend.state == "active" and backend.query_seconds is not None:
        return backend.query_seconds
    return backend.state_seconds


ACTIVITY_SORTS: dict[str, Callable[[Backend], float | str | tuple[bool, float]]] = {
    "pid": lambda b: b.pid,
    "database": lambda b: b.database.casefold(),
    "user": lambda b: b.user.casefold(),
    "client": lambda b: b.client,
    "application": lambda b: b.application.casefold(),
    "state": lambda b: b.state,
    # Running queries first (the longest on top), then the others by how long in their state.
    "query_seconds": lambda b: (b.state == "active", _none_last(state_time(b))),
    "xact_seconds": lambda b: _none_last(b.xact_seconds),
    "wait": lambda b: f"{b.wait_event_type}:{b.wait_event}",
    "query": lambda b: " ".join(b.query.split()).casefold(),
}


def idle_in_transaction(backend: Backend) -> float | None:
    """Seconds a backend has sat idle inside a transaction, or None when it is not."""
    if not backend.state.startswith("idle in transaction"):
        return None
    seconds = backend.state_seconds if backend.state_seconds is not None else backend.xact_seconds
    return seconds or 0.0


def idle_class(backend: Backend) -> str:
    """The component class of an idle-in-transaction backend's state: by how long."""
    idle = idle_in_transaction(backend)
    if idle is None or idle <= IDLE_XACT_WARNING:
        return ""
    return "line-table--error" if idle > IDLE_XACT_ERROR else "line-table--warning"


def _guide(depth: int) -> str:
    return "" if depth == 0 else "   " * (depth - 1) + "└─ "


class ActivityTable(LineTable[Backend]):
    """pg_stat_activity: client backends, then background workers in their own section."""

    COLUMNS = ACTIVITY_COLUMNS
    LAST = ACTIVITY_QUERY
    # The query text narrows first (see StatementsTable), then APP, CLIENT and WAIT
    # narrow, APP and CLIENT hide, then DATABASE; PID, USER, STATE, TIME and XACT stay.
    GIVE_WAY = (
        ("narrow", "application"),
        ("narrow", "client"),
        ("narrow", "wait"),
        ("hide", "application"),
        ("hide", "client"),
        ("narrow", "database"),
        ("narrow", "user"),
        ("narrow", "state"),
        ("hide", "database"),
        ("hide", "wait"),
    )
    MIN_LAST = 20
    ASCENDING: ClassVar[frozenset[str]] = frozenset(
        ("pid", "database", "user", "client", "application", "state", "wait", "query")
    )

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(sort="query_seconds", reverse=True, id=id)
        self.backends: tuple[Backend, ...] = ()
        self.blocking_tree = False
        self.show_workers = True
        self.filter_text = ""

    def update(self, backends: tuple[Backend, ...]) -> None:
        self.backends = backends
        self.rebuild()

    def toggle_tree(self) -> None:
        self.blocking_tree = not self.blocking_tree
        self.rebuild()

    def toggle_workers(self) -> None:
        self.show_workers = not self.show_workers
        self.rebuild()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.rebuild()

    def identity(self, row: Backend) -> Hashable:
        return row.pid

    def _matches(self, b: Backend, needle: str) -> bool:
        return any(
            needle in field.casefold()
            for field in (str(b.pid), b.database, b.user, b.application, b.client, b.query)
        )

    def order(self) -> tuple[tuple[Backend | str, ...], tuple[str, ...]]:
        needle = self.filter_text.casefold()
        backends = [b for b in self.backends if not needle or self._matches(b, needle)]
        value = ACTIVITY_SORTS[self.sort_key]
        backends.sort(key=lambda b: (value(b), b.pid), reverse=self.reverse)
        rows: list[Backend | str] = []
        guides: list[str] = []
        workers: list[Backend] = []
        if self.blocking_tree:
            # Who blocks whom first (root blockers at depth 0, any backend type), then the
            # client backends outside any lock wait in the chosen order.
            tree = blocking_tree(backends)
            involved = {b.pid for b, _ in tree}
            rows = [b for b, _ in tree]
            guides = [_guide(depth) for _, depth in tree]
            for b in backends:
                if b.pid not in involved:
                    (rows if b.is_client else workers).append(b)
                    if b.is_client:
                        guides.append("")
        else:
            rows = [b for b in backends if b.is_client]
            guides = [""] * len(rows)
            workers = [b for b in backends if not b.is_client]
        if workers:
            shown = "" if self.show_workers else " hidden (g shows them)"
            rows.append(f"── background workers ({len(workers)}){shown} ──")
            guides.append("")
            if self.show_workers:
                rows.extend(workers)
                guides.extend([""] * len(workers))
        return tuple(rows), tuple(guides) if any(guides) else ()

    def cell(self, row: Backend, key: str) -> tuple[str, str]:
        if key == "pid":
            return str(row.pid), ""
        if key == "database":
            return neutralise(row.database), ""
        if key == "user":
            return neutralise(row.user), ""
        if key == "client":
            return neutralise(row.client), ""
        if key == "application":
            if row.application or row.is_client:
                return neutralise(row.application), ""
            return neutralise(row.backend_type), "line-table--muted"
        if key == "state":
            return neutralise(STATES.get(row.state, row.state)), idle_class(row)
        if key == "query_seconds":
            return seconds_text(state_time(row)), idle_class(row)
        if key == "xact_seconds":
            return seconds_text(row.xact_seconds), idle_class(row)
        if key == "wait":
            wait = f"{row.wait_event_type}:{row.wait_event}" if row.wait_event_type else ""
            return neutralise(wait), "line-table--warning" if row.blocked_by else ""
        hidden = row.query_hidden or not row.query.strip()
        text = HIDDEN_QUERY if row.query_hidden else one_line(row.query)
        return text, "line-table--muted" if hidden or row.state.startswith("idle") else ""

    def empty_text(self) -> str:
        return "no backend matches the filter" if self.backends else "no backend"
