-- Processing while the subject's processing was restricted (GDPR Art. 18): the subject's latest
-- restriction event before it is a restriction, not a lifting. Purposes the register marks
-- allowed_during_restriction (storage, legal claims, the subject's own requests) are exempt.
WITH restrictions AS
(
    SELECT subject_key, occurred_at AS at, event_type = 'processing.restricted' AS restricted
    FROM events
    WHERE event_type IN ('processing.restricted', 'restriction.lifted')
      AND subject_key IN {subject_keys:Array(String)}
)
SELECT
    'during_restriction' AS kind,
    e.subject_key AS subject_key,
    e.event_id AS event_id,
    e.occurred_at AS occurred_at,
    e.event_type AS event_type,
    e.purpose AS purpose,
    e.legal_basis AS legal_basis,
    e.actor_id AS actor_id,
    e.actor_role AS actor_role,
    concat('processing restricted since ', formatDateTime(r.at, '%Y-%m-%d %H:%i:%S')) AS detail
FROM events AS e
ASOF INNER JOIN restrictions AS r ON e.subject_key = r.subject_key AND e.occurred_at > r.at
WHERE r.restricted
  AND e.event_type NOT IN ('rights_request.received', 'rights_request.answered', 'consent.given', 'consent.withdrawn',
                           'processing.restricted', 'restriction.lifted', 'data.erased', 'erasure.refused',
                           'retention.expired', 'subject.identifiers_linked', 'subject.identifiers_unlinked')
  AND e.purpose NOT IN {during_restriction:Array(String)}
  AND e.subject_key IN {subject_keys:Array(String)}
  AND e.occurred_at >= {since:DateTime64(6, 'UTC')}
  AND e.occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY occurred_at, event_id
-- Lazy column materialisation costs more than it saves on a per-subject read (measured at 300k rows: 19 -> 7 ms).
SETTINGS query_plan_optimize_lazy_materialization = 0
