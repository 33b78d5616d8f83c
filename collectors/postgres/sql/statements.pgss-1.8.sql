-- perftop: pg_stat_statements 1.8 (PostgreSQL 13): total_time split into total_exec_time and
-- total_plan_time, WAL counters added; no toplevel yet.
SELECT userid, dbid, queryid, true AS toplevel,
       -- One float8[] in perftop's order: asyncpg decodes it in C, far cheaper than 8 columns.
       ARRAY[calls, total_exec_time, total_plan_time, rows,
             shared_blks_hit, shared_blks_read, temp_blks_written, wal_bytes]::float8[] AS counters,
       NULL::timestamptz AS stats_since
FROM pg_stat_statements(false)
