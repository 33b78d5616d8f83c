"""What the PostgreSQL collectors return.

Statement figures are per interval: deltas of pg_stat_statements' cumulative counters over
the real time between two reads. Query texts, database and user names are untrusted text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """The server perftop is connected to, and what it may see there."""

    version: str  # e.g. "15.18"
    version_num: int  # server_version_num, e.g. 150018
    pgss_version: str | None  # pg_stat_statements extension version, None when not installed
    pgss_preloaded: bool  # in shared_preload_libraries
    user: str
    database: str
    can_read_all_stats: bool  # superuser, pg_read_all_stats or pg_monitor
    dsn_display: str  # the connection target with any password masked


@dataclass(frozen=True, slots=True, order=True)
class StatementKey:
    """pg_stat_statements' own identity of an entry."""

    userid: int
    dbid: int
    queryid: int
    toplevel: bool = True


@dataclass(frozen=True, slots=True)
class StatementCounters:
    """The cumulative counters of one entry at one read (what deltas are taken from)."""

    calls: int
    total_exec_ms: float
    total_plan_ms: float  # 0 where planning is not tracked
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    temp_blks_written: int
    wal_bytes: float  # 0 before PostgreSQL 13


@dataclass(frozen=True, slots=True)
class StatementRate:
    """One statement's figures over a window (the last interval, a minute, ...)."""

    key: StatementKey
    user: str
    database: str
    query: str  # normalised text; "" until fetched, or when hidden by privileges
    query_hidden: bool  # the text is not visible to this role (another user's statement)
    seconds: float  # length of the window, measured
    calls: int
    calls_per_s: float
    total_ms: float  # execution time in the window
    ms_per_s: float  # execution ms per wall second: "how busy this keeps the server"
    share: float  # % of all statements' execution time in the window
    mean_ms: float  # in the window (0 without calls)
    mean_ms_overall: float  # since the entry was created
    rows_per_s: float
    hit_percent: float | None  # shared-buffer hits / (hits + reads); None without block access
    blks_read_per_s: float
    temp_written_per_s: float  # temp blocks written per second (spills)
    wal_bytes_per_s: float
    plan_ms: float  # planning time in the window (0 where not tracked)
    # The text exactly as the server holds it, when it differs from `query` (a secret value
    # was masked there); None when `query` is that text already. Never shown or written:
    # read it through `server_text`, and only to send the statement back to the server.
    raw_query: str | None = field(default=None, repr=False)

    @property
    def server_text(self) -> str:
        """The statement as the server holds it: what EXPLAIN must be given (`query` is what
        the screen shows, secret values masked)."""
        return self.query if self.raw_query is None else self.raw_query


@dataclass(frozen=True, slots=True)
class StatementsSample:
    """The store's "pg.statements" source."""

    time: float  # monotonic
    window: str  # "interval", "minute", "session" or "reset"
    seconds: float  # the window's measured length
    statements: tuple[StatementRate, ...]
    total_ms_per_s: float
    reset_seen: bool = False  # a pg_stat_statements_reset() was detected at this read
    dealloc: int | None = None  # entries evicted since the stats reset (pg_stat_statements_info)
    notices: tuple[str, ...] = field(default=())  # plain words: missing roles, gaps, resets
    # perftop's own statements (run by perftop's role, texts perftop sends), left out of
    # `statements` and `total_ms_per_s`, measured apart: "perftop's own queries: 0.4 ms/s".
    # In the "interval" window they cover the time between the last two full reads
    # (`own_seconds`): a quiet tick does not read pg_stat_statements at all.
    own_ms_per_s: float = 0.0
    own_calls_per_s: float = 0.0
    own_seconds: float = 0.0  # the measured time the own figures cover (0: not measured yet)
    own_statements: tuple[StatementRate, ...] = field(default=())  # share: % of perftop's own
    quiet: bool = False  # nothing but perftop ran since the last tick: pg_stat_statements not read


@dataclass(frozen=True, slots=True)
class Backend:
    """One row of pg_stat_activity."""

    pid: int
    database: str
    user: str
    client: str  # address:port, "local" for a Unix socket, "" for background workers
    application: str
    backend_type: str  # "client backend", "autovacuum worker", ...
    state: str  # "active", "idle", "idle in transaction", ...
    query_seconds: float | None  # since query_start
    xact_seconds: float | None  # since xact_start
    state_seconds: float | None  # since state_change
    wait_event_type: str
    wait_event: str
    query: str  # untrusted; "" when hidden
    query_hidden: bool
    blocked_by: tuple[int, ...]  # pg_blocking_pids()

    @property
    def is_client(self) -> bool:
        return self.backend_type == "client backend"


@dataclass(frozen=True, slots=True)
class ActivitySample:
    """The store's "pg.activity" source."""

    time: float
    backends: tuple[Backend, ...]  # everyone's but perftop's own
    notices: tuple[str, ...] = field(default=())
    # perftop's other collector connections (known by backend pid, never by
    # application_name, which any client may set): shown apart, in no row and no count.
    own: tuple[Backend, ...] = field(default=())
