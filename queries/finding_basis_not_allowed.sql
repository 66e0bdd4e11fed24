-- A legal basis the register does not allow for the event's purpose.
SELECT
    'basis_not_allowed' AS kind,
    subject_key, event_id, occurred_at, event_type, purpose, legal_basis, actor_id, actor_role,
    concat(legal_basis, ' is not a legal basis the register allows for ', purpose) AS detail
FROM events
WHERE purpose IN {purposes:Array(String)}
  AND concat(purpose, '|', legal_basis) NOT IN {purpose_bases:Array(String)}
  AND subject_key IN {subject_keys:Array(String)}
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY occurred_at, event_id
-- Lazy column materialisation costs more than it saves on a per-subject read (measured at 300k rows: 19 -> 7 ms).
SETTINGS query_plan_optimize_lazy_materialization = 0
