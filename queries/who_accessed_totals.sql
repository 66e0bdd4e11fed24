-- How many accesses of the subject's data in the period are business accesses and how many are the
-- audit log's own lookups (purpose dpo.*, category audit_log): the totals of who_accessed_scoped.
SELECT
    countIf(NOT (startsWith(purpose, 'dpo.') AND has(data_categories, 'audit_log'))) AS business,
    countIf(startsWith(purpose, 'dpo.') AND has(data_categories, 'audit_log')) AS audit_log,
    count() AS all
FROM events
WHERE subject_key IN {subject_keys:Array(String)}
  AND event_type = 'personal_data.accessed'
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
-- One row; paged like every lineage query (limit 1, offset 0), so the runner's rules hold for it too.
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
