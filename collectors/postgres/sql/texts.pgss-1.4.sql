-- perftop: Normalised texts of the given queryids only (the text file is the expensive part of
-- pg_stat_statements; perftop asks once per queryid). $1: bigint[].
SELECT DISTINCT ON (queryid) queryid, query
FROM pg_stat_statements(true)
WHERE queryid = ANY($1::bigint[])
