-- Data categories the register does not declare for the event's purpose.
SELECT
    'category_not_declared' AS kind,
    subject_key, event_id, occurred_at, event_type, purpose, legal_basis, actor_id, actor_role,
    concat(arrayStringConcat(arrayFilter(c -> concat(purpose, '|', c) NOT IN {purpose_categories:Array(String)},
                                         data_categories), ', '),
           ' not declared for ', purpose) AS detail
FROM events
WHERE purpose IN {purposes:Array(String)}
  AND arrayExists(c -> concat(purpose, '|', c) NOT IN {purpose_categories:Array(String)}, data_categories)
  AND subject_key IN {subject_keys:Array(String)}
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY occurred_at, event_id
-- Lazy column materialisation costs more than it saves on a per-subject read (measured at 300k rows: 19 -> 7 ms).
SETTINGS query_plan_optimize_lazy_materialization = 0
