-- perftop: Who and where we are, the extension's version in this database (it follows
-- the extension, not the server), whether its library is loaded (only then are its settings
-- in pg_settings: a placeholder left in postgresql.conf is not; shared_preload_libraries
-- itself is hidden from non-superusers), and the role's
-- privileges to see other users' statistics.
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements')
           AS pgss_version,
       EXISTS (SELECT 1 FROM pg_settings WHERE name = 'pg_stat_statements.max')
           AS pgss_preloaded,
       current_user::text AS "user",
       current_database()::text AS database,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       pg_has_role('pg_read_all_stats', 'USAGE') AS read_all_stats,
       pg_has_role('pg_monitor', 'USAGE') AS monitor,
       CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                 OR pg_has_role('pg_read_all_settings', 'USAGE')
            THEN current_setting('shared_preload_libraries') END AS preload
