-- Processing of categories the subject's data was erased from, after the erasure. Purposes the register
-- marks continues_after_erasure (bookkeeping law, the subject's own requests) are exempt; records of
-- rights handling themselves are not processing.
WITH erasures AS
(
    SELECT subject_key, occurred_at AS at, data_categories AS erased, event_id AS erasure_id
    FROM events
    WHERE event_type = 'data.erased'
      AND subject_key IN {subject_keys:Array(String)}
)
SELECT
    'after_erasure' AS kind,
    e.subject_key AS subject_key,
    e.event_id AS event_id,
    e.occurred_at AS occurred_at,
    e.event_type AS event_type,
    e.purpose AS purpose,
    e.legal_basis AS legal_basis,
    e.actor_id AS actor_id,
    e.actor_role AS actor_role,
    concat('processes ', arrayStringConcat(arrayIntersect(e.data_categories, x.erased), ', '),
           ', erased at ', formatDateTime(x.at, '%Y-%m-%d %H:%i:%S')) AS detail
FROM events AS e
INNER JOIN erasures AS x ON e.subject_key = x.subject_key
WHERE x.at < e.occurred_at
  AND hasAny(e.data_categories, x.erased)
  AND e.event_type NOT IN ('rights_request.received', 'rights_request.answered', 'consent.given', 'consent.withdrawn',
                           'processing.restricted', 'restriction.lifted', 'data.erased', 'erasure.refused',
                           'retention.expired', 'subject.identifiers_linked', 'subject.identifiers_unlinked')
  AND e.purpose NOT IN {after_erasure:Array(String)}
  AND e.subject_key IN {subject_keys:Array(String)}
  AND e.occurred_at >= {since:DateTime64(6, 'UTC')}
  AND e.occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY occurred_at, event_id
LIMIT 1 BY event_id
-- Lazy column materialisation costs more than it saves on a per-subject read (measured at 300k rows: 19 -> 7 ms).
SETTINGS query_plan_optimize_lazy_materialization = 0
