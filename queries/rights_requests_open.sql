-- Every rights request in the log that has no final answer (fulfilled or refused) yet: the DPO's open cases.
-- Whether and when its deadline was extended comes along; the deadline itself is calendar arithmetic in
-- Python (pdtrail.queries._rights_cases), one rule for the desk and its tests. The table is ordered by
-- subject, so this reads every month's rights events: a scan of one event type, not a lookup.
WITH answers AS
(
    SELECT
        subject_key,
        reference,
        countIf(outcome IN ('fulfilled', 'refused')) > 0 AS answered,
        minIf(occurred_at, outcome = 'extended') AS extended_at,
        countIf(outcome = 'extended') > 0 AS extended
    FROM events
    WHERE event_type = 'rights_request.answered'
    GROUP BY subject_key, reference
)
SELECT
    toString(r.subject_key) AS subject_key,
    r.subject_key_version AS key_version,
    r.subject_kind AS subject_kind,
    r.gdpr_right AS gdpr_right,
    r.reference AS request_id,
    r.occurred_at AS received_at,
    r.event_id AS event_id,
    a.extended AS extended,
    a.extended_at AS extended_at
FROM events AS r
LEFT JOIN answers AS a ON r.subject_key = a.subject_key AND r.reference = a.reference
WHERE r.event_type = 'rights_request.received'
  AND NOT a.answered
  AND r.occurred_at >= {since:DateTime64(6, 'UTC')}
  AND r.occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY received_at, event_id
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
