"""Spooled events on their way out again, one batch at a time, in emit order."""

from __future__ import annotations

import threading
from collections.abc import Callable

from confluent_kafka import KafkaError, Message

from pdtrail.producers._spool import Spool


class Replay:
    """One batch of spooled events on their way out again. A row leaves the spool when Kafka confirms it;
    a late confirmation (after the batch stopped waiting) still removes its row."""

    def __init__(self, spool: Spool, delivered: Callable[[int], None]) -> None:
        self._spool = spool
        self._delivered = delivered
        self._answers = threading.Condition()
        self.answered = 0
        self.failed = False

    def confirmed(self, seq: int, err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            self._spool.remove([seq])
            self._delivered(1)
        with self._answers:
            self.failed |= err is not None
            self.answered += 1
            self._answers.notify_all()

    def wait(self, timeout: float) -> None:
        with self._answers:
            self._answers.wait(timeout)
