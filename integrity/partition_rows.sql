-- The stored rows of one partition in an offset range, in offset order: what a checkpoint covers.
SELECT *
FROM events
WHERE kafka_topic = {topic:String}
  AND kafka_partition = {partition:UInt16}
  AND kafka_offset >= {first:UInt64}
  AND kafka_offset <= {last:UInt64}
ORDER BY kafka_offset
