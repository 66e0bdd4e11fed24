-- Which of a batch's event ids are stored already (the SDK's spool delivers at least once, so a
-- replayed event arrives again at a new offset). The subject keys narrow the read to the index range.
SELECT DISTINCT toString(event_id)
FROM events
WHERE subject_key IN {keys:Array(String)} AND event_id IN {ids:Array(UUID)}
