-- perftop: PostgreSQL 14: never quiet. Its statistics collector counts a session that came
-- and went (pg_stat_database.sessions) about half a second after it left, so a client that
-- ran statements and disconnected between two checks leaves no trace in time: every tick
-- reads pg_stat_statements. Same columns and parameters as quiet.server-15.sql; $1 (the
-- previous check) and $2 (perftop's own backend pids) are named only so the server knows
-- their types.
SELECT now() AS checked_at,
       $1::timestamptz IS NULL OR $2::int[] IS NULL OR true AS busy,
       (SELECT count(*) FROM pg_stat_activity) AS backends,
       (SELECT sum(sessions) FROM pg_stat_database)::float8 AS sessions
