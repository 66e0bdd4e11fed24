-- The identifier links of some subjects made before the period's end (queries/_links.py walks them).
-- Links are in force from when they were made whatever the period's start: since is the first moment.
-- The SDK writes each link in both directions, so one lookup by subject_key finds every link of a key.
SELECT
    subject_key,
    subject_kind,
    reference AS linked_key,
    action AS linked_kind,
    event_type,
    occurred_at,
    toString(event_id) AS event_id
FROM events
WHERE subject_key IN {subject_keys:Array(String)}
  AND event_type IN {link_types:Array(String)}
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY occurred_at, event_id
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
