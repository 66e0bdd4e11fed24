-- Access by an actor whose role the register does not allow for the purpose or for a category.
SELECT
    'role_not_allowed' AS kind,
    subject_key, event_id, occurred_at, event_type, purpose, legal_basis, actor_id, actor_role,
    multiIf(actor_role NOT IN {roles:Array(String)}, concat('role ', actor_role, ' is not in the register'),
            concat(actor_role, '|', purpose) NOT IN {role_purposes:Array(String)},
            concat('role ', actor_role, ' may not access data for ', purpose),
            concat('role ', actor_role, ' may not access ',
                   arrayStringConcat(arrayFilter(c -> concat(actor_role, '|', c) NOT IN {role_categories:Array(String)},
                                                 data_categories), ', '))) AS detail
FROM events
WHERE event_type = 'personal_data.accessed'
  AND (actor_role NOT IN {roles:Array(String)}
       OR concat(actor_role, '|', purpose) NOT IN {role_purposes:Array(String)}
       OR arrayExists(c -> concat(actor_role, '|', c) NOT IN {role_categories:Array(String)}, data_categories))
  AND subject_key IN {subject_keys:Array(String)}
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY occurred_at, event_id
-- Lazy column materialisation costs more than it saves on a per-subject read (measured at 300k rows: 19 -> 7 ms).
SETTINGS query_plan_optimize_lazy_materialization = 0
