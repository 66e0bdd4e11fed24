-- The reverse view, for insider investigations: every subject one actor's events touched in a period,
-- as pseudonymous keys (a DPO re-identifies a subject only by looking up an identifier they hold).
-- The table is ordered by subject, so this reads the period's months in full: a scan, not a lookup.
SELECT
    toString(subject_key) AS subject,
    subject_kind,
    subject_key_version AS key_version,
    count() AS events,
    min(occurred_at) AS first_at,
    max(occurred_at) AS last_at,
    groupUniqArray(event_type) AS event_types,
    groupUniqArray(purpose) AS purposes,
    groupUniqArray(access_kind) AS access_kinds,
    groupUniqArrayArray(data_categories) AS data_categories
FROM events
WHERE actor_id = {actor_id:String}
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
GROUP BY subject_key, subject_kind, subject_key_version
ORDER BY last_at DESC, subject
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
