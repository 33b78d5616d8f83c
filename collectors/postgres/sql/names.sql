-- perftop: Role and database names by oid (pg_stat_statements gives oids); cached by perftop.
SELECT 'u' AS kind, oid::bigint AS oid, rolname::text AS name FROM pg_roles
UNION ALL
SELECT 'd', oid::bigint, datname::text FROM pg_database
