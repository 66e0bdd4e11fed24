"""Creating the audit topic and its dead-letter topic with explicit partitions and retention."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from pdtrail.config import Settings
from pdtrail.errors import RetryableError


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Create the event, dead-letter and checkpoint topics if missing; returns the names it created."""
    kafka = settings.kafka
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers, **kafka.security_options()})
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise RetryableError(f"Kafka at {kafka.bootstrap_servers} did not answer: {exc}") from None
    min_isr = str(min(2, kafka.replication_factor))
    wanted = [
        NewTopic(kafka.topic, kafka.partitions, kafka.replication_factor,
                 config={"retention.ms": str(kafka.retention_ms), "min.insync.replicas": min_isr}),
        NewTopic(kafka.dead_letter_topic, 1, kafka.replication_factor,
                 config={"retention.ms": str(kafka.dead_letter_retention_ms), "min.insync.replicas": min_isr}),
        # Checkpoints are the witness outside ClickHouse: kept forever.
        NewTopic(settings.integrity.checkpoint_topic, 1, kafka.replication_factor,
                 config={"retention.ms": "-1", "min.insync.replicas": min_isr}),
    ]  # fmt: skip
    missing = [t for t in wanted if t.topic not in existing]
    if not missing:
        return []
    for topic, future in admin.create_topics(missing, operation_timeout=timeout_s).items():
        try:
            future.result()
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise RetryableError(f"creating topic {topic} failed: {exc}") from None
    return [t.topic for t in missing]
