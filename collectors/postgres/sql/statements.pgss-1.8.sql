-- pg_stat_statements 1.8 (PostgreSQL 13): total_time split into total_exec_time and
-- total_plan_time, WAL counters added; no toplevel yet.
SELECT userid, dbid, queryid, true AS toplevel,
       calls, total_exec_time AS total_exec_ms, total_plan_time AS total_plan_ms, rows,
       shared_blks_hit, shared_blks_read, temp_blks_written, wal_bytes::float8 AS wal_bytes,
       NULL::timestamptz AS stats_since
FROM pg_stat_statements(false)
