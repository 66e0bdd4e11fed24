-- Who accessed the subject's data: one row per access (view, search, export, print, modify), newest first.
-- subject_keys holds the subject's key under every pseudonymisation key version.
SELECT
    occurred_at,
    actor_type,
    actor_id,
    actor_role,
    access_kind,
    resource,
    purpose,
    legal_basis,
    data_categories,
    source_system,
    event_id,
    -- '' for the searched identifier's own keys, else the kind and link event it was found through
    transform(subject_key, {via_keys:Array(String)}, {via_labels:Array(String)}, '') AS found_via
FROM events
WHERE subject_key IN {subject_keys:Array(String)}
  AND event_type = 'personal_data.accessed'
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY occurred_at DESC, event_id
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
-- Lazy column materialisation costs more than it saves on a lookup this narrow (measured: p50 21 -> 15 ms).
SETTINGS query_plan_optimize_lazy_materialization = 0
