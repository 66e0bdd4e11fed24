-- The newest batch intent of a partition, and how many of its rows are stored.
SELECT b.first_offset, b.last_offset, b.rows,
       (SELECT count() FROM events
        WHERE kafka_topic = {topic:String} AND kafka_partition = {partition:UInt16}
          AND kafka_offset BETWEEN b.first_offset AND b.last_offset) AS stored
FROM (
    SELECT first_offset, last_offset, rows
    FROM ingest_batches
    WHERE topic = {topic:String} AND partition = {partition:UInt16}
    ORDER BY first_offset DESC
    LIMIT 1
) AS b
