-- What was shared with whom: one row per disclosure, newest first. party_* is the recipient.
SELECT
    occurred_at,
    party_name AS recipient,
    party_org_no AS recipient_org_no,
    party_country AS recipient_country,
    party_role AS recipient_role,
    purpose,
    legal_basis,
    data_categories,
    actor_id,
    source_system,
    event_id,
    -- '' for the searched identifier's own keys, else the kind and link event it was found through
    transform(subject_key, {via_keys:Array(String)}, {via_labels:Array(String)}, '') AS found_via
FROM events
WHERE subject_key IN {subject_keys:Array(String)}
  AND event_type = 'personal_data.shared'
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY occurred_at DESC, event_id
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
SETTINGS query_plan_optimize_lazy_materialization = 0
