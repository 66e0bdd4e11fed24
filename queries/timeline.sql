-- Everything that happened to the subject's data, oldest first: collection, access, sharing, credit checks,
-- consent, rights requests and their answers, restriction, erasure, retention, checks, marketing.
-- party_* is the other organisation: source of a collection, recipient of a sharing, bureau of a credit check.
SELECT
    occurred_at,
    event_type,
    actor_type,
    actor_id,
    actor_role,
    purpose,
    legal_basis,
    data_categories,
    source_system,
    collection_source,
    access_kind,
    resource,
    party_name,
    party_org_no,
    party_country,
    party_role,
    reference,
    outcome,
    action,
    gdpr_right,
    reason,
    register_version,
    correlation_id,
    event_id,
    -- '' for the searched identifier's own keys, else the kind and link event it was found through
    transform(subject_key, {via_keys:Array(String)}, {via_labels:Array(String)}, '') AS found_via
FROM events
WHERE subject_key IN {subject_keys:Array(String)}
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY occurred_at, event_id
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
-- Lazy column materialisation costs more than it saves on a lookup this narrow (measured: p50 21 -> 15 ms).
SETTINGS query_plan_optimize_lazy_materialization = 0
