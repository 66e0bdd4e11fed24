-- Consent per purpose as it stood at {until}: the latest consent event per purpose decides.
-- The envelope's purpose is the purpose consented to or withdrawn.
SELECT
    purpose,
    if(argMax(event_type, (occurred_at, event_id)) = {given_type:String}, 'given', 'withdrawn') AS state,
    max(occurred_at) AS changed_at,
    minIf(occurred_at, event_type = {given_type:String}) AS first_given_at,
    countIf(event_type = {given_type:String}) AS times_given,
    countIf(event_type != {given_type:String}) AS times_withdrawn
FROM events
WHERE subject_key IN {subject_keys:Array(String)}
  AND event_type IN ({given_type:String}, {withdrawn_type:String})
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
GROUP BY purpose
ORDER BY purpose
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
