-- The consumer's intent, written before each insert: this Kafka offset range, this many rows.
-- An insert lands one monthly part at a time; after a crash in between, the consumer finds the last
-- intent with fewer stored rows than promised and replays exactly that range with the same
-- deduplication tokens, so the parts that landed are dropped and the missing ones written.
CREATE TABLE IF NOT EXISTS ingest_batches
(
    topic        LowCardinality(String),
    partition    UInt16,
    first_offset UInt64,
    last_offset  UInt64,
    rows         UInt32,
    written_at   DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (topic, partition, first_offset);
