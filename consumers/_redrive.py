"""Reading the dead-letter topic back, and re-driving its letters to the event topic after a fix.

A re-drive publishes each letter's original bytes and key to the event topic, so the consumer judges
it again: what is still poison returns to the DLQ with a fresh reason, what now passes is stored.
Re-driving is remembered by the consumer group ``<group_id>.redrive`` (only letters not re-driven
before go again, unless ``from_start``); re-driving a letter twice stores its event once all the
same, because the consumer drops an event whose event_id is stored already.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from pdtrail.config import Settings
from pdtrail.consumers._dead_letter import HEADER_PREFIX
from pdtrail.errors import LIBRDKAFKA_LOGGER, RetryableError
from pdtrail.producers import producer_config

REDRIVEN_HEADER = HEADER_PREFIX + "redriven-from"


@dataclass(frozen=True)
class DeadLetter:
    """One letter of the DLQ: where it sits, why it is there, where it came from. ``value`` is the
    original message, byte for byte (never printed: it may hold an event's content)."""

    partition: int
    offset: int
    reason: str
    error: str
    origin_topic: str
    origin_partition: int
    origin_offset: int
    time: dt.datetime | None
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class RedriveResult:
    letters: list[DeadLetter]
    published: int
    dry_run: bool


def _reader(settings: Settings, group: str) -> Consumer:
    kafka = settings.kafka
    return Consumer(
        {
            "bootstrap.servers": kafka.bootstrap_servers, "group.id": group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "enable.partition.eof": True, **kafka.security_options(),
        },
        logger=LIBRDKAFKA_LOGGER,
    )  # fmt: skip


def _letter(msg: object) -> DeadLetter:
    headers = {k.removeprefix(HEADER_PREFIX): (v or b"").decode(errors="replace") for k, v in msg.headers() or []}  # type: ignore[attr-defined]

    def number(name: str) -> int:
        try:
            return int(headers.get(name, "-1"))
        except ValueError:
            return -1

    millis = number("timestamp")
    return DeadLetter(
        partition=msg.partition(), offset=msg.offset(),  # type: ignore[attr-defined]
        reason=headers.get("reason", ""), error=headers.get("error", ""),
        origin_topic=headers.get("topic", ""), origin_partition=number("partition"), origin_offset=number("offset"),
        time=dt.datetime.fromtimestamp(millis / 1000, dt.UTC) if millis > 0 else None,
        key=msg.key(), value=msg.value(),  # type: ignore[attr-defined]
    )  # fmt: skip


def _read(
    consumer: Consumer, settings: Settings, *, from_committed: bool, timeout_s: float, window: int = 0
) -> list[DeadLetter]:
    topic = settings.kafka.dead_letter_topic
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
    except KafkaException as exc:
        raise RetryableError(f"Kafka at {settings.kafka.bootstrap_servers} did not answer: {exc}") from None
    if metadata is None or metadata.error is not None or not metadata.partitions:
        return []
    partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(metadata.partitions)]
    if from_committed:
        for tp, done in zip(partitions, consumer.committed(partitions, timeout=timeout_s), strict=True):
            if done.offset >= 0:
                tp.offset = done.offset
    marks = {tp.partition: consumer.get_watermark_offsets(tp, timeout=timeout_s) for tp in partitions}
    ends = {p: high for p, (_, high) in marks.items()}
    if window:
        for tp in partitions:
            tp.offset = max(marks[tp.partition][0], ends[tp.partition] - window)
    todo = {tp.partition for tp in partitions if (tp.offset if tp.offset >= 0 else 0) < ends[tp.partition]}
    consumer.assign([tp for tp in partitions if tp.partition in todo])
    letters: list[DeadLetter] = []
    while todo:
        msg = consumer.poll(timeout_s)
        if msg is None:
            raise RetryableError(f"reading {topic} stalled for {timeout_s:.0f}s")
        partition = msg.partition() or 0
        if msg.error() is None:
            letters.append(_letter(msg))
        if msg.error() is not None or (msg.offset() or 0) + 1 >= ends[partition]:
            todo.discard(partition)
    return letters


def read_dead_letters(settings: Settings, *, timeout_s: float = 15.0) -> list[DeadLetter]:
    """Every letter in the dead-letter topic, oldest first per partition."""
    consumer = _reader(settings, f"{settings.kafka.group_id}.dlq-list")
    try:
        return _read(consumer, settings, from_committed=False, timeout_s=timeout_s)
    finally:
        consumer.close()


def recent_origins(settings: Settings, window: int, *, timeout_s: float = 30.0) -> set[tuple[str, int, int]]:
    """Where the last ``window`` letters of each DLQ partition came from: (topic, partition, offset).

    A consumer that restarts after a crash reads again the messages it had not committed; the poison
    among them went to the DLQ before the crash, and this tells it not to send them twice."""
    consumer = _reader(settings, f"{settings.kafka.group_id}.dlq-list")
    try:
        letters = _read(consumer, settings, from_committed=False, timeout_s=timeout_s, window=window)
    finally:
        consumer.close()
    return {(letter.origin_topic, letter.origin_partition, letter.origin_offset) for letter in letters}


def redrive(
    settings: Settings, *, dry_run: bool = False, from_start: bool = False, timeout_s: float = 30.0
) -> RedriveResult:
    """Publish the letters not re-driven yet (all of them with ``from_start``) to the event topic."""
    consumer = _reader(settings, f"{settings.kafka.group_id}.redrive")
    try:
        letters = _read(consumer, settings, from_committed=not from_start, timeout_s=timeout_s)
        if dry_run or not letters:
            return RedriveResult(letters, 0, dry_run)
        producer = Producer({**producer_config(settings), "client.id": "pdtrail-redrive"}, logger=LIBRDKAFKA_LOGGER)
        failures: list[str] = []
        for letter in letters:
            headers: list[tuple[str, str | bytes | None]] = [(REDRIVEN_HEADER, f"{letter.partition}/{letter.offset}")]
            producer.produce(
                settings.kafka.topic, value=letter.value, key=letter.key, headers=headers,
                on_delivery=lambda err, _m: failures.append(err.str()) if err is not None else None,
            )  # fmt: skip
            producer.poll(0)
        left = producer.flush(timeout_s)
        if failures or left:
            raise RetryableError(f"re-drive not confirmed: {failures[0] if failures else f'{left} pending'}")
        last: dict[int, int] = {}
        for letter in letters:
            last[letter.partition] = max(last.get(letter.partition, -1), letter.offset)
        consumer.commit(
            offsets=[TopicPartition(settings.kafka.dead_letter_topic, p, o + 1) for p, o in last.items()],
            asynchronous=False,
        )
        return RedriveResult(letters, len(letters), dry_run)
    finally:
        consumer.close()
