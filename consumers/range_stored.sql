-- How many rows of one partition's offset range are stored.
SELECT count()
FROM events
WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt16}
  AND kafka_offset BETWEEN {first:UInt64} AND {last:UInt64}
