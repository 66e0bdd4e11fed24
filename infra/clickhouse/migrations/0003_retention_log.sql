-- Every retention run: the months before `cutoff_month` (yyyymm) were dropped as whole partitions.
-- `pdtrail verify` reads the highest cutoff: rows of earlier months are then expected to be gone.
CREATE TABLE IF NOT EXISTS retention_log
(
    cutoff_month UInt32,
    partitions   Array(String),
    rows         UInt64,
    applied_at   DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY applied_at;
