"""The copy of every checkpoint outside ClickHouse: a Kafka topic kept forever.

Deleting a checkpoint from ClickHouse, or rewriting one, is then visible against this copy.
"""

from __future__ import annotations

import json
import logging
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

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
    """Every checkpoint in the external topic, from its beginning."""
    admin = AdminClient(
        {"bootstrap.servers": settings.kafka.bootstrap_servers, **settings.kafka.security_options()},
        logger=LIBRDKAFKA_LOGGER,
    )
    try:  # fail in seconds, not after the whole read timeout, when no broker answers
        admin.list_topics(settings.integrity.checkpoint_topic, timeout=5)
    except KafkaException:
        raise IntegrityError(_unreachable(settings)) from None
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": f"pdtrail-verify-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            **settings.kafka.security_options(),
        },
        logger=LIBRDKAFKA_LOGGER,
    )
    found: list[Checkpoint] = []
    try:
        consumer.subscribe([settings.integrity.checkpoint_topic])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return found
                if error.fatal() or error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise IntegrityError(f"cannot read {settings.integrity.checkpoint_topic}: {error.str()}")
                continue
            try:
                found.append(Checkpoint.from_dict(json.loads(msg.value() or b"")))
            except (ValueError, KeyError, TypeError):
                logger.warning("unreadable message in the checkpoint topic at offset %s", msg.offset())
        raise IntegrityError(f"{_unreachable(settings)} (no end reached in {timeout_s:.0f}s)")
    except KafkaException as exc:
        raise IntegrityError(f"cannot read {settings.integrity.checkpoint_topic}: {exc}") from None
    finally:
        consumer.close()
