-- Credit checks on the subject, newest first: which bureau (party_*), its reference, the decision.
SELECT
    occurred_at,
    party_name AS bureau,
    party_org_no AS bureau_org_no,
    party_country AS bureau_country,
    reference,
    outcome,
    purpose,
    legal_basis,
    data_categories,
    actor_id,
    event_id,
    -- '' for the searched identifier's own keys, else the kind and link event it was found through
    transform(subject_key, {via_keys:Array(String)}, {via_labels:Array(String)}, '') AS found_via
FROM events
WHERE subject_key IN {subject_keys:Array(String)}
  AND event_type = 'credit_check.performed'
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY occurred_at DESC, event_id
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
SETTINGS query_plan_optimize_lazy_materialization = 0
