-- The purposes the subject's data was processed for, each with its legal bases, categories and span.
SELECT
    purpose,
    groupUniqArray(legal_basis) AS legal_bases,
    groupUniqArrayArray(data_categories) AS data_categories,
    min(occurred_at) AS first_at,
    max(occurred_at) AS last_at,
    count() AS events
FROM events
WHERE subject_key IN {subject_keys:Array(String)}
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
GROUP BY purpose
ORDER BY first_at, purpose
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
