-- Processing under consent after the subject withdrew that consent (and did not give it again).
-- The ASOF join pairs each consent-based event with the subject's latest consent event for the same
-- purpose before it; when that one is a withdrawal, the event had no consent to rest on.
WITH consents AS
(
    SELECT subject_key, purpose, occurred_at AS at, event_type = 'consent.withdrawn' AS withdrawn
    FROM events
    WHERE event_type IN ('consent.given', 'consent.withdrawn')
      AND subject_key IN {subject_keys:Array(String)}
)
SELECT
    'consent_withdrawn' AS kind,
    e.subject_key AS subject_key,
    e.event_id AS event_id,
    e.occurred_at AS occurred_at,
    e.event_type AS event_type,
    e.purpose AS purpose,
    e.legal_basis AS legal_basis,
    e.actor_id AS actor_id,
    e.actor_role AS actor_role,
    concat('consent for ', e.purpose, ' was withdrawn at ', formatDateTime(c.at, '%Y-%m-%d %H:%i:%S')) AS detail
FROM events AS e
ASOF INNER JOIN consents AS c ON e.subject_key = c.subject_key AND e.purpose = c.purpose AND e.occurred_at > c.at
WHERE e.legal_basis = 'consent'
  AND e.event_type NOT IN ('consent.given', 'consent.withdrawn')
  AND c.withdrawn
  AND e.subject_key IN {subject_keys:Array(String)}
  AND e.occurred_at >= {since:DateTime64(6, 'UTC')}
  AND e.occurred_at < {until:DateTime64(6, 'UTC')}
ORDER BY occurred_at, event_id
-- Lazy column materialisation costs more than it saves on a per-subject read (measured at 300k rows: 19 -> 7 ms).
SETTINGS query_plan_optimize_lazy_materialization = 0
