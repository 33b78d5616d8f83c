-- perftop: Before 1.9 the extension records neither its last reset nor its evictions.
SELECT NULL::bigint AS dealloc, NULL::timestamptz AS stats_reset, now() AS now, pg_postmaster_start_time() AS server_start
