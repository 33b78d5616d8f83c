-- perftop: Normalised texts of the given queryids only (the text file is the expensive part of
-- pg_stat_statements; perftop asks once per queryid). $1: bigint[].
-- A top-level entry's text first: a nested entry of the same queryid (a statement inside
-- someone's EXPLAIN, DO block or function) may hold its caller's whole text instead, and
-- perftop asks again once the queryid runs at top level.
SELECT DISTINCT ON (queryid) queryid, query, toplevel
FROM pg_stat_statements(true)
WHERE queryid = ANY($1::bigint[])
ORDER BY queryid, toplevel DESC
