"""PostgreSQL: the statements costing time now (pg_stat_statements deltas) and what is
running and waiting (pg_stat_activity), read over asyncpg on the app's own loop."""
