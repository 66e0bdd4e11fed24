-- Per purpose and data category: when the subject's data was first and last processed, and when the
-- category was last erased or marked expired (whatever the purpose of that act: an erasure ends the
-- category). Records of the subject's requests and choices are not processing of the data and do not
-- count as "processed". Retention is counted from the last processing.
WITH ended AS
(
    SELECT category, max(occurred_at) AS last_ended, argMax(event_type, occurred_at) AS ended_by
    FROM events
    ARRAY JOIN data_categories AS category
    WHERE subject_key IN {subject_keys:Array(String)}
      AND event_type IN {end_types:Array(String)}
      AND occurred_at < {until:DateTime64(6, 'UTC')}
    GROUP BY category
)
SELECT
    u.purpose AS purpose,
    u.category AS category,
    u.first_processed AS first_processed,
    u.last_processed AS last_processed,
    x.last_ended AS last_ended,
    x.ended_by AS ended_by,
    u.events AS events
FROM
(
    SELECT purpose, category, min(occurred_at) AS first_processed, max(occurred_at) AS last_processed, count() AS events
    FROM events
    ARRAY JOIN data_categories AS category
    WHERE subject_key IN {subject_keys:Array(String)}
      AND event_type NOT IN {record_types:Array(String)}
      AND occurred_at >= {since:DateTime64(6, 'UTC')}
      AND occurred_at < {until:DateTime64(6, 'UTC')}
    GROUP BY purpose, category
) AS u
LEFT JOIN ended AS x ON u.category = x.category
ORDER BY purpose, category
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
