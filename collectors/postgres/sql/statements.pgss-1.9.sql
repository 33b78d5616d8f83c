-- perftop: pg_stat_statements 1.9 and 1.10 (PostgreSQL 14 to 16): the toplevel column (the same
-- queryid as a top-level and as a nested statement are two entries). 1.10 adds JIT and
-- temp I/O timing columns that perftop does not read.
SELECT userid, dbid, queryid, toplevel,
       -- One float8[] in perftop's order: asyncpg decodes it in C, far cheaper than 8 columns.
       ARRAY[calls, total_exec_time, total_plan_time, rows,
             shared_blks_hit, shared_blks_read, temp_blks_written, wal_bytes]::float8[] AS counters,
       NULL::timestamptz AS stats_since
FROM pg_stat_statements(false)
