-- perftop: pg_stat_statements 1.4 to 1.7 (created on PostgreSQL 12 or older, kept through pg_upgrade):
-- one timing column (total_time), no planning time, no WAL, no toplevel.
-- Other users' rows have a NULL queryid without pg_read_all_stats.
SELECT userid, dbid, queryid, true AS toplevel,
       -- One float8[] in perftop's order: asyncpg decodes it in C, far cheaper than 8 columns.
       ARRAY[calls, total_time, 0::float8, rows,
             shared_blks_hit, shared_blks_read, temp_blks_written, 0]::float8[] AS counters,
       NULL::timestamptz AS stats_since
FROM pg_stat_statements(false)
