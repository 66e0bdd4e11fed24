-- The highest Kafka offset stored per partition of a topic: where ingest resumes, whatever Kafka's
-- committed offsets say (they lag the store after a crash between insert and commit).
SELECT kafka_partition, max(kafka_offset)
FROM events
WHERE kafka_topic = {topic:String}
GROUP BY kafka_partition
