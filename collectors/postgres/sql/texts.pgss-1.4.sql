-- perftop: Normalised texts of the given queryids only (the text file is the expensive part of
-- pg_stat_statements; perftop asks once per queryid). $1: bigint[].
-- Before 1.9 nothing tells a nested entry from a top-level one: every text counts as its own.
SELECT DISTINCT ON (queryid) queryid, query, true AS toplevel
FROM pg_stat_statements(true)
WHERE queryid = ANY($1::bigint[])
