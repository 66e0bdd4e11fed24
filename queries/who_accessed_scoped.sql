-- Who accessed, with the audit log's own lookups (purpose dpo.*, category audit_log: the DPO's, recorded
-- by the meta-audit) apart: scope 'business' leaves them out, 'audit_log' keeps only them, 'all' both.
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
    event_id
FROM events
WHERE subject_key IN {subject_keys:Array(String)}
  AND event_type = 'personal_data.accessed'
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
  AND ({scope:String} = 'all'
       OR (startsWith(purpose, 'dpo.') AND has(data_categories, 'audit_log')) = ({scope:String} = 'audit_log'))
ORDER BY occurred_at DESC, event_id
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
SETTINGS query_plan_optimize_lazy_materialization = 0
