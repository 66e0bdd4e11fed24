-- The subject's data flows, aggregated: for each kind of event, purpose and other organisation, how
-- often, when, and which categories. The lineage graph (sources -> purposes -> recipients) is built from these.
SELECT
    event_type,
    purpose,
    collection_source,
    party_name,
    party_country,
    party_role,
    groupUniqArray(legal_basis) AS legal_bases,
    groupUniqArrayArray(data_categories) AS data_categories,
    count() AS events,
    min(occurred_at) AS first_at,
    max(occurred_at) AS last_at
FROM events
WHERE subject_key IN {subject_keys:Array(String)}
  AND occurred_at >= {since:DateTime64(6, 'UTC')}
  AND occurred_at < {until:DateTime64(6, 'UTC')}
GROUP BY event_type, purpose, collection_source, party_name, party_country, party_role
ORDER BY first_at
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
