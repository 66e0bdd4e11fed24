-- What the log says of a subject known only by one pseudonymous key (from a case or a finding): its kind
-- and key version, so the desk's lookup of it is recorded against the right subject. No rows: not in the log.
SELECT
    subject_kind,
    subject_key_version AS key_version,
    count() AS events
FROM events
WHERE subject_key IN {subject_keys:Array(String)}
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
GROUP BY subject_kind, subject_key_version
ORDER BY events DESC, key_version DESC
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
