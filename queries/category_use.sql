-- Per purpose and data category: when the subject's data was first and last processed, and when it
-- was last erased (or marked expired). Retention is counted from the last processing.
SELECT
    purpose,
    category,
    minIf(occurred_at, event_type NOT IN {end_types:Array(String)}) AS first_processed,
    maxIf(occurred_at, event_type NOT IN {end_types:Array(String)}) AS last_processed,
    maxIf(occurred_at, event_type IN {end_types:Array(String)}) AS last_ended,
    argMaxIf(event_type, occurred_at, event_type IN {end_types:Array(String)}) AS ended_by,
    countIf(event_type NOT IN {end_types:Array(String)}) AS events
FROM events
ARRAY JOIN data_categories AS category
WHERE subject_key IN {subject_keys:Array(String)}
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
GROUP BY purpose, category
ORDER BY purpose, category
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
