-- perftop: pg_stat_statements 1.11 and later (PostgreSQL 17+): blk_read_time renamed
-- shared_blk_read_time (not read here) and stats_since, the entry's creation time, which
-- tells an entry evicted and re-created apart from one that kept counting.
SELECT userid, dbid, queryid, toplevel,
       -- One float8[] in perftop's order: asyncpg decodes it in C, far cheaper than 8 columns.
       ARRAY[calls, total_exec_time, total_plan_time, rows,
             shared_blks_hit, shared_blks_read, temp_blks_written, wal_bytes]::float8[] AS counters,
       stats_since
FROM pg_stat_statements(false)
