-- The highest offset of a partition stored below a batch's first offset, and how many rows are there
-- (none: the offset reads 0). Where the rows before a batch that was cut short end.
SELECT max(kafka_offset), count()
FROM events
WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt16} AND kafka_offset < {below:UInt64}
