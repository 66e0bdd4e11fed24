-- Sharing (and credit enquiries) with a recipient the register does not list for the purpose. A recipient
-- is matched by organisation number, or by name and country when it has none.
SELECT
    'unregistered_recipient' AS kind,
    subject_key, event_id, occurred_at, event_type, purpose, legal_basis, actor_id, actor_role,
    concat(party_name, if(party_org_no = '', '', concat(' (', party_org_no, ')')),
           ' is not a recipient registered for ', purpose) AS detail
FROM events
WHERE event_type IN ('personal_data.shared', 'credit_check.performed')
  AND purpose IN {purposes:Array(String)}
  AND concat(purpose, '|', party_org_no) NOT IN {purpose_recipients:Array(String)}
  AND concat(purpose, '|', lowerUTF8(party_name), '|', party_country) NOT IN {purpose_recipients:Array(String)}
  AND subject_key IN {subject_keys:Array(String)}
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY occurred_at, event_id
-- Lazy column materialisation costs more than it saves on a per-subject read (measured at 300k rows: 19 -> 7 ms).
SETTINGS query_plan_optimize_lazy_materialization = 0
