"""The copy of every checkpoint outside ClickHouse: a Kafka topic kept forever.

Deleting a checkpoint from ClickHouse, or rewriting one, is then visible against this copy.
"""

from __future__ import annotations

import json
import logging
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from pdtrail.config import Settings
from pdtrail.errors import LIBRDKAFKA_LOGGER
from pdtrail.integrity._checkpoint import Checkpoint
from pdtrail.integrity.exceptions import IntegrityError

logger = logging.getLogger("pdtrail.integrity")


class ExternalCheckpoints:
    def __init__(self, settings: Settings, producer_config: dict[str, object]) -> None:
        self._settings = settings
        self.topic = settings.integrity.checkpoint_topic
        self._producer = Producer({**producer_config, "client.id": "pdtrail-checkpoints"}, logger=LIBRDKAFKA_LOGGER)

    def publish(self, checkpoint: Checkpoint, timeout_s: float = 30.0) -> None:
        """Write and wait for the broker's confirmation; raise if it does not come."""
        self.publish_all([checkpoint], timeout_s)

    def publish_all(self, checkpoints: list[Checkpoint], timeout_s: float = 30.0) -> None:
        """Write them all, then wait once for the broker's confirmation; raise if one does not come."""
        failures: list[str] = []

        def delivered(err: KafkaError | None, _msg: object) -> None:
            if err is not None:
                failures.append(err.str())

        for checkpoint in checkpoints:
            key = f"{checkpoint.topic}/{checkpoint.partition}/{checkpoint.seq}".encode()
            self._producer.produce(
                self.topic, key=key, value=json.dumps(checkpoint.as_dict()).encode(), on_delivery=delivered
            )
        if self._producer.flush(timeout_s) or failures:
            raise IntegrityError(f"checkpoint not confirmed by topic {self.topic}: {failures or 'timed out'}")


def _unreachable(settings: Settings) -> str:
    return (
        f"the checkpoint topic {settings.integrity.checkpoint_topic} at {settings.kafka.bootstrap_servers} "
        "cannot be read: is Kafka running? (`pdtrail broker start`; or `pdtrail verify --no-external` to check "
        "against ClickHouse alone, which cannot see a checkpoint deleted there)"
    )


def read_external(settings: Settings, timeout_s: float = 30.0) -> list[Checkpoint]:
    """Every checkpoint in the external topic, from its beginning.

    Its partitions are assigned, not subscribed to: no consumer group is joined (a broker's
    ``group.initial.rebalance.delay.ms``, 3 s by default, is not waited for) and none is left behind on
    the broker by each run. The consumer asks for the topic's metadata before the assignment, so it knows
    each partition's leader when it looks for the first offset (without it, librdkafka retried that after
    half a second: 0.55 s for an empty topic, 0.1 s with it)."""
    topic = settings.integrity.checkpoint_topic
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": "pdtrail-verify",  # required by librdkafka; never joined, nothing committed
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            # Read to the end and stop: a fetch at the end is answered at once, not held for new messages.
            "fetch.wait.max.ms": 10,
            **settings.kafka.security_options(),
        },
        logger=LIBRDKAFKA_LOGGER,
    )
    found: list[Checkpoint] = []
    try:
        try:  # fail in seconds, not after the whole read timeout, when no broker answers
            metadata = consumer.list_topics(topic, timeout=5).topics.get(topic)
        except KafkaException:
            raise IntegrityError(_unreachable(settings)) from None
        if metadata is None or metadata.error is not None:
            reason = metadata.error.str() if metadata is not None and metadata.error is not None else "no such topic"
            raise IntegrityError(f"cannot read {topic}: {reason}")
        unread = set(metadata.partitions)
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING) for partition in sorted(unread)])
        deadline = time.monotonic() + timeout_s
        while unread and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    unread.discard(msg.partition())
                elif error.fatal() or error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise IntegrityError(f"cannot read {topic}: {error.str()}")
                continue
            try:
                found.append(Checkpoint.from_dict(json.loads(msg.value() or b"")))
            except (ValueError, KeyError, TypeError):
                logger.warning("unreadable message in the checkpoint topic at offset %s", msg.offset())
        if unread:
            raise IntegrityError(f"{_unreachable(settings)} (no end reached in {timeout_s:.0f}s)")
        return found
    except KafkaException as exc:
        raise IntegrityError(f"cannot read {topic}: {exc}") from None
    finally:
        consumer.close()
