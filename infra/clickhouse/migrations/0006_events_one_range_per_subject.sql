-- The log rebuilt so that a subject's lookup reads one narrow range of one part, whatever the number of months.
-- Monthly partitions made every lookup read one part per month: 84 parts over seven years of bookkeeping,
-- and the per-part cost dominated (bench/bench_layouts.py: p50 ~4x slower at 84 parts than at one). The log is
-- now one partition, ordered by subject then time; retention forgets whole months with a delete of the rows of
-- those months (infra/_retention.py), not by dropping partitions.
-- Every column is ZSTD-compressed; the times and offsets, in subject order, bit-transposed first (T64: 6.1 B
-- against 7.3 with DoubleDelta, bench/bench_layouts.py).
-- Column names, types and order are those of migrations 0001 and 0005, so every reader, the leaves and the
-- proofs are unchanged.
--
-- The rows move by copy: the new table is filled from the old one, then the two swap names in one atomic
-- EXCHANGE. The old table stays beside it as `events_before_0006` with every row it held; once
-- `pdtrail verify` passes, an administrator may drop it (pdtrail never drops a table of the log).
-- Interrupted before the swap, the migration starts over from the untouched log; after it, the log is complete.
-- cluster: not applied. On a ClickHouse cluster the log keeps the sharded, monthly-partitioned layout of
-- 0001 (a copy and EXCHANGE across shards is an operator's job, not a migration's).
CREATE OR REPLACE TABLE events_before_0006
(
    event_id            UUID CODEC(ZSTD(3)),
    event_type          LowCardinality(String) CODEC(ZSTD(3)),
    occurred_at         DateTime64(6, 'UTC') CODEC(T64, ZSTD(3)),
    subject_key         FixedString(64) CODEC(ZSTD(3)),
    subject_key_version UInt16 CODEC(ZSTD(3)),
    subject_kind        LowCardinality(String) CODEC(ZSTD(3)),
    actor_type          LowCardinality(String) CODEC(ZSTD(3)),
    actor_id            LowCardinality(String) CODEC(ZSTD(3)),
    actor_role          LowCardinality(String) CODEC(ZSTD(3)),
    purpose             LowCardinality(String) CODEC(ZSTD(3)),
    legal_basis         LowCardinality(String) CODEC(ZSTD(3)),
    data_categories     Array(LowCardinality(String)) CODEC(ZSTD(3)),
    source_system       LowCardinality(String) CODEC(ZSTD(3)),
    correlation_id      String CODEC(ZSTD(3)),
    collection_source   LowCardinality(String) CODEC(ZSTD(3)),
    access_kind         LowCardinality(String) CODEC(ZSTD(3)),
    resource            String CODEC(ZSTD(3)),
    party_name          LowCardinality(String) CODEC(ZSTD(3)),
    party_org_no        LowCardinality(String) CODEC(ZSTD(3)),
    party_country       LowCardinality(String) CODEC(ZSTD(3)),
    party_role          LowCardinality(String) CODEC(ZSTD(3)),
    reference           String CODEC(ZSTD(3)),
    outcome             LowCardinality(String) CODEC(ZSTD(3)),
    action              LowCardinality(String) CODEC(ZSTD(3)),
    gdpr_right          LowCardinality(String) CODEC(ZSTD(3)),
    reason              String CODEC(ZSTD(3)),
    register_version    LowCardinality(String) CODEC(ZSTD(3)),
    schema_name         LowCardinality(String) CODEC(ZSTD(3)),
    schema_version      UInt16 CODEC(ZSTD(3)),
    kafka_topic         LowCardinality(String) CODEC(ZSTD(3)),
    kafka_partition     UInt16 CODEC(ZSTD(3)),
    kafka_offset        UInt64 CODEC(T64, ZSTD(3)),
    ingested_at         DateTime64(6, 'UTC') CODEC(T64, ZSTD(3))
)
ENGINE = MergeTree
ORDER BY (subject_key, occurred_at, event_id)
-- A retried batch carries the same deduplication token and is dropped by the engine.
-- Granules of 1024 rows: a subject's hundred events over seven years fill one or two.
SETTINGS non_replicated_deduplication_window = 1000, index_granularity = 1024;

INSERT INTO events_before_0006
    (event_id, event_type, occurred_at, subject_key, subject_key_version, subject_kind, actor_type, actor_id,
     actor_role, purpose, legal_basis, data_categories, source_system, correlation_id, collection_source,
     access_kind, resource, party_name, party_org_no, party_country, party_role, reference, outcome, action,
     gdpr_right, reason, register_version, schema_name, schema_version, kafka_topic, kafka_partition,
     kafka_offset, ingested_at)
SELECT
    event_id, event_type, occurred_at, subject_key, subject_key_version, subject_kind, actor_type, actor_id,
    actor_role, purpose, legal_basis, data_categories, source_system, correlation_id, collection_source,
    access_kind, resource, party_name, party_org_no, party_country, party_role, reference, outcome, action,
    gdpr_right, reason, register_version, schema_name, schema_version, kafka_topic, kafka_partition,
    kafka_offset, ingested_at
FROM events;

-- Atomic: from here on `events` is the new table with every row, and `events_before_0006` the old one.
EXCHANGE TABLES events AND events_before_0006;
