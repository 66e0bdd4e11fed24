-- One stored event by id, with its Kafka position (the table is ordered by subject, so this scans).
SELECT *
FROM events
WHERE event_id = {event_id:UUID}
LIMIT 2
