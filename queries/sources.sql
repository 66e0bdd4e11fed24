-- Where the subject's data came from, oldest first: collections (from the subject, a lead, a public
-- register, a bureau) and the source event types of the vocabulary (leads received, register lookups).
-- party_* is the organisation the data came from; empty when the subject gave it themselves.
SELECT
    occurred_at,
    event_type,
    collection_source,
    party_name AS source_party,
    party_org_no AS source_party_org_no,
    party_country AS source_party_country,
    purpose,
    legal_basis,
    data_categories,
    source_system,
    event_id,
    -- '' for the searched identifier's own keys, else the kind and link event it was found through
    transform(subject_key, {via_keys:Array(String)}, {via_labels:Array(String)}, '') AS found_via
FROM events
WHERE subject_key IN {subject_keys:Array(String)}
  AND event_type IN {event_types:Array(String)}
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY occurred_at, event_id
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
SETTINGS query_plan_optimize_lazy_materialization = 0
