-- Every checkpoint, in chain order per partition.
SELECT topic, partition, seq, first_offset, last_offset, leaf_count, root, offsets, leaf_prefixes, months,
       min_occurred_at, max_occurred_at, prev, key_id, signature
FROM checkpoints
ORDER BY topic, partition, seq
