-- perftop: whether anything but perftop may have completed a statement since $1 (the time
-- of perftop's previous check), from pg_stat_activity alone: a fraction of a millisecond,
-- where reading pg_stat_statements costs ~20 ms with 5,000 entries. A backend is "busy"
-- when it started, or changed state (a statement ends with a state change, after
-- pg_stat_statements counted it), since $1, or is running now (nested statements of a
-- long call are counted while it runs; a state hidden from this role counts as running).
-- A backend that ran something and left is seen in the count of backends and, when it
-- also arrived since $1, in the sum of sessions (shared-memory statistics, 15+: flushed
-- when it exits, before it is gone from pg_stat_activity).
-- perftop's own connections ($2: their backend pids, never their application_name, which
-- anyone can set) are left out, and so are the server processes that never run SQL.
-- NULL $1 (no previous check) is busy.
SELECT now() AS checked_at,
       $1::timestamptz IS NULL OR EXISTS (
           SELECT 1 FROM pg_stat_activity a
           WHERE a.pid <> pg_backend_pid() AND a.pid <> ALL($2::int[])
             AND (a.backend_start >= $1 OR a.state_change >= $1
                  OR (coalesce(a.state, '') NOT IN ('idle', 'idle in transaction',
                                                    'idle in transaction (aborted)')
                      AND a.backend_type NOT IN ('autovacuum launcher', 'background writer',
                          'checkpointer', 'walwriter', 'archiver', 'startup', 'walreceiver',
                          'logical replication launcher')
                      AND NOT (a.backend_type = 'walsender'
                               AND starts_with(a.query, 'START_REPLICATION'))))
       ) AS busy,
       (SELECT count(*) FROM pg_stat_activity) AS backends,
       (SELECT sum(sessions) FROM pg_stat_database)::float8 AS sessions
