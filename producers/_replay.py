"""Spooled events on their way out again, one batch at a time, in emit order."""

from __future__ import annotations

import functools
import threading
import time
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


_BATCH = 500


def replay_forever(
    spool: Spool,
    produce: Callable[..., None],
    topic: str,
    *,
    pending: Callable[[], int],
    delivered: Callable[[int], None],
    stop: threading.Event,
    delivery_timeout_s: float,
) -> None:
    """Send what the spool holds, oldest first, a batch at a time; each row goes once Kafka confirmed it.

    Older events still in librdkafka (``pending()`` of them) may yet fail and join the spool ahead of what
    it holds: a batch goes out only once they are all answered (no new ones go there while the spool is
    not empty). While the broker stays away, the wait between tries doubles, up to 30 s."""
    backoff = 0.2
    while not stop.is_set():
        batch = spool.head(_BATCH) if not pending() else []
        if not batch:
            stop.wait(0.2)
            continue
        replay = Replay(spool, delivered)
        sent = 0
        for item in batch:
            try:
                produce(
                    topic, value=item.value, key=item.key, headers=item.headers,
                    on_delivery=functools.partial(replay.confirmed, item.seq),
                )  # fmt: skip
            except BufferError:
                break
            sent += 1
        deadline = time.monotonic() + delivery_timeout_s + 5
        while replay.answered < sent and time.monotonic() < deadline and not stop.is_set():
            replay.wait(0.1)
        if replay.failed or sent < len(batch):
            stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)
        else:
            backoff = 0.2
