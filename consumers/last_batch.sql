-- The newest batch intent of a partition. Its stored rows are counted by range_stored.sql in a second
-- query: as a correlated subquery here, a range with no stored row at all (a run killed after writing
-- the intent, before any insert landed) counted as NULL instead of 0.
SELECT first_offset, last_offset, rows
FROM ingest_batches
WHERE topic = {topic:String} AND partition = {partition:UInt16}
ORDER BY first_offset DESC
LIMIT 1
