-- The newest checkpoint of one partition: where the next one chains on.
SELECT topic, partition, seq, first_offset, last_offset, leaf_count, root, offsets, leaf_prefixes, months,
       min_occurred_at, max_occurred_at, prev, key_id, signature
FROM checkpoints
WHERE topic = {topic:String} AND partition = {partition:UInt16}
ORDER BY seq DESC
LIMIT 1
