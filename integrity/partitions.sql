-- Every (topic, partition) with stored rows, and the highest offset stored.
SELECT kafka_topic, kafka_partition, max(kafka_offset), count()
FROM events
GROUP BY kafka_topic, kafka_partition
ORDER BY kafka_topic, kafka_partition
