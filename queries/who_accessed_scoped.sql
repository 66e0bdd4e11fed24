-- Who accessed, with the audit log's own lookups (purpose dpo.*, category audit_log: the DPO's, recorded
-- by the meta-audit) apart: scope 'business' leaves them out, 'audit_log' keeps only them, 'all' both.
-- Every row carries the period's totals of each scope, counted in the same read as the rows: the log grows
-- while the DPO reads it (each page is a lookup too), and a page's totals must agree with its rows.
SELECT
    occurred_at, actor_type, actor_id, actor_role, access_kind, resource, purpose, legal_basis, data_categories,
    source_system, event_id, found_via, total_business, total_audit_log, total_all
FROM
(
    SELECT
        occurred_at, actor_type, actor_id, actor_role, access_kind, resource, purpose, legal_basis, data_categories,
        source_system, event_id,
        transform(subject_key, {via_keys:Array(String)}, {via_labels:Array(String)}, '') AS found_via,
        startsWith(purpose, 'dpo.') AND has(data_categories, 'audit_log') AS audit_lookup,
        countIf(NOT audit_lookup) OVER () AS total_business,
        countIf(audit_lookup) OVER () AS total_audit_log,
        count() OVER () AS total_all
    FROM events
    WHERE subject_key IN {subject_keys:Array(String)}
      AND event_type = 'personal_data.accessed'
      AND occurred_at >= {since:DateTime64(6, 'UTC')}
      AND occurred_at < {until:DateTime64(6, 'UTC')}
)
WHERE {scope:String} = 'all' OR audit_lookup = ({scope:String} = 'audit_log')
ORDER BY occurred_at DESC, event_id
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
SETTINGS query_plan_optimize_lazy_materialization = 0
