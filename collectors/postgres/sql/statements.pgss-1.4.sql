-- pg_stat_statements 1.4 to 1.7 (created on PostgreSQL 12 or older, kept through pg_upgrade):
-- one timing column (total_time), no planning time, no WAL, no toplevel.
-- Other users' rows have a NULL queryid without pg_read_all_stats.
SELECT userid, dbid, queryid, true AS toplevel,
       calls, total_time AS total_exec_ms, 0::float8 AS total_plan_ms, rows,
       shared_blks_hit, shared_blks_read, temp_blks_written, 0::float8 AS wal_bytes,
       NULL::timestamptz AS stats_since
FROM pg_stat_statements(false)
