-- The audit log: one row per processing event, never updated or deleted by pdtrail.
-- Ordered by subject then time, so a DPO's per-subject lookup reads one narrow range;
-- partitioned by month, so retention drops whole partitions.
-- party_* is the other organisation of the event: the source of a collection, the recipient of a
-- sharing, the bureau of a credit check. The Kafka position of each row makes ingest exactly-once.
CREATE TABLE IF NOT EXISTS events
(
    event_id            UUID,
    event_type          LowCardinality(String),
    occurred_at         DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(3)),
    subject_key         FixedString(64) CODEC(ZSTD(3)),
    subject_key_version UInt16 CODEC(ZSTD(3)),
    subject_kind        LowCardinality(String),
    actor_type          LowCardinality(String),
    actor_id            LowCardinality(String),
    actor_role          LowCardinality(String),
    purpose             LowCardinality(String),
    legal_basis         LowCardinality(String),
    data_categories     Array(LowCardinality(String)),
    source_system       LowCardinality(String),
    correlation_id      String CODEC(ZSTD(3)),
    collection_source   LowCardinality(String),
    access_kind         LowCardinality(String),
    resource            String CODEC(ZSTD(3)),
    party_name          LowCardinality(String),
    party_org_no        LowCardinality(String),
    party_country       LowCardinality(String),
    party_role          LowCardinality(String),
    reference           String CODEC(ZSTD(3)),
    outcome             LowCardinality(String),
    schema_name         LowCardinality(String),
    schema_version      UInt16 CODEC(ZSTD(3)),
    kafka_topic         LowCardinality(String),
    kafka_partition     UInt16 CODEC(ZSTD(3)),
    kafka_offset        UInt64 CODEC(ZSTD(3)),
    ingested_at         DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (subject_key, occurred_at, event_id)
-- A retried batch carries the same deduplication token and is dropped by the engine.
-- Granules of 1024 rows: a subject has a handful of rows per month, so a lookup decompresses 8x less
-- than with the default 8192 (measured at 1M rows: p50 16 -> 13 ms) for the same bytes on disk.
SETTINGS non_replicated_deduplication_window = 1000, index_granularity = 1024;
