-- Signed checkpoints over the events of one Kafka partition, in offset order (integrity/).
-- offsets and leaf_prefixes list every covered row, so verification names the event that changed;
-- months (yyyymm of each row's occurred_at) tell which rows a retention drop was entitled to remove;
-- root is the RFC 9162 Merkle root over the full leaf hashes, signed with Ed25519.
CREATE TABLE IF NOT EXISTS checkpoints
(
    topic           LowCardinality(String),
    partition       UInt16,
    seq             UInt64,
    first_offset    UInt64,
    last_offset     UInt64,
    leaf_count      UInt32,
    root            String,
    offsets         Array(UInt64) CODEC(Delta, ZSTD(3)),
    leaf_prefixes   Array(String) CODEC(ZSTD(3)),
    months          Array(UInt32) CODEC(Delta, ZSTD(3)),
    min_occurred_at String,
    max_occurred_at String,
    prev            String,
    key_id          LowCardinality(String),
    signature       String,
    written_at      DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (topic, partition, seq);
