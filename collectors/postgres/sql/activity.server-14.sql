-- perftop: What runs now, PostgreSQL 14+ (leader_pid since 13, query_id since 14). Without
-- pg_read_all_stats other users' query reads '<insufficient privilege>' and their state,
-- waits and client are NULL. perftop's own connection is left out.
SELECT a.pid,
       coalesce(a.datname, '') AS database,
       coalesce(a.usename, '') AS "user",
       CASE WHEN a.client_addr IS NOT NULL
            THEN host(a.client_addr) || ':' || coalesce(a.client_port::text, '')
            WHEN a.client_port = -1 THEN 'local'
            ELSE '' END AS client,
       coalesce(a.application_name, '') AS application,
       coalesce(a.backend_type, '') AS backend_type,
       coalesce(a.state, '') AS state,
       extract(epoch FROM now() - a.query_start)::float8 AS query_seconds,
       extract(epoch FROM now() - a.xact_start)::float8 AS xact_seconds,
       extract(epoch FROM now() - a.state_change)::float8 AS state_seconds,
       coalesce(a.wait_event_type, '') AS wait_event_type,
       coalesce(a.wait_event, '') AS wait_event,
       coalesce(a.query, '') AS query,
       a.leader_pid,
       pg_blocking_pids(a.pid) AS blocked_by
FROM pg_stat_activity a
WHERE a.pid <> pg_backend_pid()
ORDER BY a.pid
