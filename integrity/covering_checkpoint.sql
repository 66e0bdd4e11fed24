-- The checkpoint whose offset range holds a position.
SELECT topic, partition, seq, first_offset, last_offset, leaf_count, root, offsets, leaf_prefixes, months,
       min_occurred_at, max_occurred_at, prev, key_id, signature
FROM checkpoints
WHERE topic = {topic:String} AND partition = {partition:UInt16}
  AND first_offset <= {offset:UInt64} AND last_offset >= {offset:UInt64}
ORDER BY seq
LIMIT 1
