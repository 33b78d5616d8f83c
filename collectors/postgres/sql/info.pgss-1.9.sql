-- perftop: pg_stat_statements_info (1.9+): entries evicted (dealloc) and the time of the last
-- pg_stat_statements_reset() of everything.
SELECT dealloc, stats_reset, now() AS now, pg_postmaster_start_time() AS server_start
FROM pg_stat_statements_info
