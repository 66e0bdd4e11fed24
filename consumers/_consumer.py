"""The ingest loop: Kafka → decode → validate → batch per partition → intent → insert → checkpoint → commit.

Offsets are committed only after the rows are in ClickHouse, their checkpoints are due-or-written, and
the dead letters of the same range are confirmed by the broker. A batch is inserted one month at a time
(each insert one atomic part, with its own deduplication token) after an intent record names its range.
On partition assignment the consumer resumes after the highest offset already stored, so a crash
between insert and commit does not store twice, and replays a batch whose intent promised more rows
than are stored, so a crash between two months neither loses nor doubles.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.client import Client
from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, Message, TopicPartition

from pdtrail.config import Settings
from pdtrail.consumers._batches import by_month, insert_token
from pdtrail.consumers._dead_letter import DeadLetterWriter
from pdtrail.consumers._rows import COLUMNS, event_row
from pdtrail.consumers.exceptions import StoreWriteError
from pdtrail.errors import LIBRDKAFKA_LOGGER
from pdtrail.producers import producer_config
from pdtrail.schemas import EventCodec, InvalidEventError, UndecodableMessageError

if TYPE_CHECKING:
    from pdtrail.integrity import IntegrityRecorder

logger = logging.getLogger("pdtrail.consumers")
POSITIONS_SQL = (Path(__file__).parent / "positions.sql").read_text()
LAST_BATCH_SQL = (Path(__file__).parent / "last_batch.sql").read_text()
TABLE = "events"


@dataclass
class ConsumeStats:
    """What one run did. ``stored`` rows are in ClickHouse; ``dead_lettered`` went to the DLQ;
    ``insert_retries`` counts every store write tried again (inserts, intents, checkpoints)."""

    consumed: int = 0
    stored: int = 0
    dead_lettered: int = 0
    batches: int = 0
    insert_retries: int = 0
    last_insert_ms: float = 0.0
    state: str = "starting"


@dataclass
class _Batch:
    rows: list[list[Any]] = field(default_factory=list)
    first_offset: int = -1
    last_offset: int = -1
    since: float = field(default_factory=time.monotonic)


class AuditConsumer:
    """Consumes the audit topic into the ``events`` table of ``client``'s database.

    ``run(drain=True)`` stops once every assigned partition is read to its end (for batch jobs and the
    demo); ``run()`` consumes until ``stop()`` (call it from a signal handler). A message that cannot
    be decoded or validated goes to the dead-letter topic with its reason; the loop carries on. A failed
    insert is retried with back-off, committing nothing, until it succeeds or ``stop()`` is called.
    """

    def __init__(
        self,
        settings: Settings,
        client: Client,
        *,
        codec: EventCodec | None = None,
        on_progress: Callable[[ConsumeStats], None] | None = None,
        recorder: IntegrityRecorder | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        self._codec = codec or EventCodec()
        self._on_progress = on_progress
        self._topic = settings.kafka.topic
        self._stop = threading.Event()
        self.stats = ConsumeStats()
        self._batches: dict[int, _Batch] = {}
        self._assigned: set[int] = set()
        self._replay: dict[int, tuple[int, int]] = {}  # partition -> offset range of an unfinished batch
        self._at_end: set[int] = set()
        self._dead_letters = DeadLetterWriter(producer_config(settings), settings.kafka.dead_letter_topic)
        if recorder is None:
            from pdtrail.integrity import IntegrityRecorder, signer_from_settings  # imports consumers itself

            recorder = IntegrityRecorder(settings, client, signer_from_settings(settings), producer_config(settings))
        self._recorder = recorder
        self._consumer = Consumer(self._consumer_config(), logger=LIBRDKAFKA_LOGGER)

    def _consumer_config(self) -> dict[str, Any]:
        kafka = self._settings.kafka
        return {
            "bootstrap.servers": kafka.bootstrap_servers,
            "group.id": kafka.group_id,
            "client.id": "pdtrail-consumer",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            **kafka.consumer,
        }

    def stop(self) -> None:
        """Ask the loop to finish its current batch, commit and return. Safe from a signal handler."""
        self._stop.set()

    # -- partition assignment -------------------------------------------------------------------

    def stored_positions(self) -> dict[int, int]:
        """Highest stored offset per partition of the topic."""
        result = self._client.query(POSITIONS_SQL, parameters={"topic": self._topic})
        return {int(p): int(o) for p, o in result.result_rows}

    def unfinished_batch(self, partition: int) -> tuple[int, int] | None:
        """The offset range of the partition's last batch if fewer of its rows are stored than promised."""
        params = {"topic": self._topic, "partition": partition}
        rows = self._client.query(LAST_BATCH_SQL, parameters=params).result_rows
        if rows and int(rows[0][3]) < int(rows[0][2]):
            return int(rows[0][0]), int(rows[0][1])
        return None

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        stored = self.stored_positions()
        committed = {tp.partition: tp.offset for tp in consumer.committed(partitions, timeout=30)}
        for tp in partitions:
            resume = stored.get(tp.partition, -1) + 1
            if resume > 0 and resume > committed.get(tp.partition, OFFSET_INVALID):
                tp.offset = resume
            unfinished = self.unfinished_batch(tp.partition)
            if unfinished is not None:
                logger.warning("partition %d: batch %d-%d was cut short; replaying it", tp.partition, *unfinished)
                self._replay[tp.partition] = unfinished
                tp.offset = unfinished[0]
        for tp in partitions:
            self._recorder.resume(tp.partition)
        consumer.assign(partitions)
        self._assigned = {tp.partition for tp in partitions}
        self._at_end -= self._assigned
        logger.info("assigned partitions %s", sorted(self._assigned))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Store what was read from these partitions while they are still ours to commit.
        for tp in partitions:
            self._flush_partition(tp.partition)
            self._retrying("checkpoint", functools.partial(self._recorder.maybe_checkpoint, tp.partition, force=True))
            self._recorder.forget(tp.partition)
        self._assigned -= {tp.partition for tp in partitions}

    # -- the loop -------------------------------------------------------------------------------

    def run(self, *, drain: bool = False) -> ConsumeStats:
        settings = self._settings.consumer
        self._consumer.subscribe([self._topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.stats.state = "consuming"
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                messages = self._consumer.consume(num_messages=min(settings.batch_size, 2000), timeout=0.2)
                received = dt.datetime.now(dt.UTC)
                for msg in messages:
                    self._handle(msg, received)
                if messages:
                    idle_since = time.monotonic()
                self._flush_due()
                if drain and self._drained():
                    break
                if drain and time.monotonic() - idle_since > settings.drain_idle_s and not self._assigned:
                    logger.warning("no partition assigned after %.0fs; stopping", settings.drain_idle_s)
                    break
            self._flush_all()
            # Everything stored is covered when a run ends, so a drained log verifies to its last row.
            self._retrying("checkpoint", self._recorder.checkpoint_all)
        finally:
            self.stats.state = "stopped"
            self._consumer.close()
            self._progress()
        return self.stats

    def _drained(self) -> bool:
        return bool(self._assigned) and self._at_end >= self._assigned and not self._batches

    def _handle(self, msg: Message, received: dt.datetime) -> None:
        error = msg.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                self._at_end.add(msg.partition() or 0)
            elif error.fatal():
                raise RuntimeError(f"fatal Kafka error: {error.str()}")
            else:
                logger.warning("Kafka: %s", error.str())
            return
        partition, offset = msg.partition() or 0, msg.offset() or 0  # always set on a message without error
        replay = self._replay.get(partition)
        if replay is not None and offset > replay[1]:
            self._flush_partition(partition)  # the replayed batch ends exactly where the first try did
        self._at_end.discard(partition)
        self.stats.consumed += 1
        batch = self._batches.setdefault(partition, _Batch())
        if batch.first_offset < 0:
            batch.first_offset = offset
        batch.last_offset = offset
        try:
            event, schema = self._codec.decode_versioned(msg.value())
        except UndecodableMessageError as exc:
            self._dead_letter(msg, exc.reason, "undecodable")
            return
        except InvalidEventError as exc:
            problems = "; ".join(f"{f}: {r}" for f, r in exc.problems)
            self._dead_letter(msg, problems, "invalid")
            return
        batch.rows.append(event_row(event, schema, self._topic, partition, offset, received))

    def _dead_letter(self, msg: Message, reason: str, error: str) -> None:
        logger.warning("dead letter %s[%d]@%d: %s", msg.topic(), msg.partition(), msg.offset(), reason)
        self._dead_letters.send(msg, reason, error)
        self.stats.dead_lettered += 1

    def _flush_due(self) -> None:
        settings = self._settings.consumer
        now = time.monotonic()
        for partition, batch in list(self._batches.items()):
            if partition in self._replay and batch.last_offset < self._replay[partition][1]:
                continue  # a replay flushes only once it holds the whole range of the first try
            if len(batch.rows) >= settings.batch_size or now - batch.since >= settings.linger_s:
                self._flush_partition(partition)
        self._at_end_flush()

    def _at_end_flush(self) -> None:
        # A partition read to its end has nothing more coming soon: store it now rather than linger.
        for partition in list(self._batches):
            if partition in self._at_end:
                self._flush_partition(partition)

    def _flush_all(self) -> None:
        for partition in list(self._batches):
            self._flush_partition(partition)

    def _flush_partition(self, partition: int) -> None:
        batch = self._batches.get(partition)
        if batch is None:
            return
        replaying = self._replay.get(partition) == (batch.first_offset, batch.last_offset)
        if batch.rows:
            if not replaying:
                self._retrying("batch intent", functools.partial(self._write_intent, partition, batch))
            self._insert(partition, batch)
            if replaying:
                self._recorder.resume(partition)  # some rows were there already: read them all back in order
            else:
                self._recorder.stored(partition, batch.rows)
        self._replay.pop(partition, None)
        self._retrying("checkpoint", lambda: self._recorder.maybe_checkpoint(partition))
        self._dead_letters.confirm()
        self._consumer.commit(
            offsets=[TopicPartition(self._topic, partition, batch.last_offset + 1)], asynchronous=False
        )
        del self._batches[partition]
        self.stats.stored += len(batch.rows)
        self.stats.batches += 1
        self._progress()

    def _write_intent(self, partition: int, batch: _Batch) -> None:
        self._client.insert(
            "ingest_batches",
            [[self._topic, partition, batch.first_offset, batch.last_offset, len(batch.rows)]],
            column_names=["topic", "partition", "first_offset", "last_offset", "rows"],
        )

    def _insert(self, partition: int, batch: _Batch) -> None:
        started = time.perf_counter()
        for month, rows in by_month(batch.rows).items():
            # Per month, so each insert is one part (atomic); the token makes a retry a no-op if it landed.
            token = insert_token(self._topic, partition, batch.first_offset, batch.last_offset, month)

            def insert(rows: list[Any] = rows, token: str = token) -> None:
                try:
                    self._client.insert(
                        TABLE, rows, column_names=COLUMNS, settings={"insert_deduplication_token": token}
                    )
                except Exception as exc:
                    raise StoreWriteError(
                        self._topic, partition, batch.first_offset, batch.last_offset, str(exc)[:300]
                    ) from None

            self._retrying("insert", insert)
        self.stats.last_insert_ms = (time.perf_counter() - started) * 1000

    def _retrying(self, what: str, step: Callable[[], object]) -> None:
        """Run ``step`` until it succeeds, backing off; nothing is committed meanwhile."""
        delay = 0.5
        while True:
            try:
                step()
                self.stats.state = "consuming"
                return
            except Exception as exc:
                if self._stop.is_set():
                    raise
                self.stats.insert_retries += 1
                self.stats.state = f"{what} failing, retrying"
                logger.error("%s failed: %s; retrying in %.1fs", what, exc, delay)
                self._progress()
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _progress(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.stats)
