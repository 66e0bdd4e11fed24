"""The dead-letter path: a message pdtrail cannot store goes, byte for byte, to the DLQ topic.

Headers say why and where it came from, so it can be inspected and re-driven after a fix:
``pdtrail-dlq-reason``, ``-error``, ``-topic``, ``-partition``, ``-offset``, ``-timestamp``.
"""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from pdtrail.consumers.exceptions import DeadLetterError
from pdtrail.errors import LIBRDKAFKA_LOGGER

HEADER_PREFIX = "pdtrail-dlq-"


class DeadLetterWriter:
    def __init__(self, producer_config: dict[str, Any], topic: str) -> None:
        self.topic = topic
        # An oversized event goes to the DLQ whole (it is re-driven after a fix), so the producer's own
        # size limit must not be the one that stops it; the topic's limit still applies.
        config = {"message.max.bytes": 16 * 1024 * 1024, **producer_config, "client.id": "pdtrail-dead-letters"}
        self._producer = Producer(config, logger=LIBRDKAFKA_LOGGER)
        self._failures: list[DeadLetterError] = []
        self._lock = threading.Lock()
        self.sent = 0

    def send(self, msg: Message, reason: str, error: str) -> None:
        # The reason may quote the message's own fields; headers stay small and never echo raw values.
        headers: list[tuple[str, str | bytes | None]] = [
            (HEADER_PREFIX + "reason", reason[:1000].encode()),
            (HEADER_PREFIX + "error", error.encode()),
            (HEADER_PREFIX + "topic", (msg.topic() or "").encode()),
            (HEADER_PREFIX + "partition", str(msg.partition()).encode()),
            (HEADER_PREFIX + "offset", str(msg.offset()).encode()),
            (HEADER_PREFIX + "timestamp", str(msg.timestamp()[1]).encode()),
        ]
        origin = (msg.topic() or "", msg.partition() or 0, msg.offset() or 0)

        def delivered(err: KafkaError | None, _: Message) -> None:
            if err is not None:
                with self._lock:
                    self._failures.append(DeadLetterError(*origin, err.str()))

        self._producer.produce(self.topic, value=msg.value(), key=msg.key(), headers=headers, on_delivery=delivered)
        self._producer.poll(0)
        self.sent += 1

    def confirm(self, timeout_s: float = 30.0) -> None:
        """Wait until every dead letter is stored by the broker; raise if one was not."""
        left = self._producer.flush(timeout_s)
        with self._lock:
            failures, self._failures = self._failures, []
        if failures:
            raise failures[0]
        if left:
            raise DeadLetterError(self.topic, -1, -1, f"{left} dead letters unconfirmed after {timeout_s}s")

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is queued; a consumer closes it when its run ends."""
        self._producer.flush(timeout_s)
