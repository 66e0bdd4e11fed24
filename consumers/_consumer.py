"""The ingest loop: Kafka → decode → validate → batch per partition → intent → insert → checkpoint → commit.

Offsets are committed only after the rows are in ClickHouse, their checkpoints are due-or-written, and
the dead letters of the same range are confirmed by the broker. A batch is inserted one month at a time
(each insert one atomic part, with its own deduplication token) after an intent record names its range.
On partition assignment the consumer resumes after the highest offset already stored, so a crash
between insert and commit does not store twice, and replays a batch whose intent promised more rows
than are stored, so a crash between two months neither loses nor doubles. An event whose event_id is
stored already (the SDK's spool delivers at least once) is dropped and counted, not stored again.
On revocation a partition's batch is stored and committed while the partition is still ours; on
assignment the positions are read again from the store, so a rebalance neither loses nor doubles.
The store's reads and writes, and the back-off they are retried with, are in ``_store_writes``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.client import Client
from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, Message, TopicPartition

from pdtrail.config import Settings
from pdtrail.consumers._dead_letter import DeadLetterWriter
from pdtrail.consumers._metrics import RUNNING, STOPPED, ConsumerMetrics, MetricsServer
from pdtrail.consumers._redrive import recent_origins
from pdtrail.consumers._rows import event_row
from pdtrail.consumers._store_writes import Abandoned, Batch, ConsumeStats, StoreWrites, first_line
from pdtrail.errors import LIBRDKAFKA_LOGGER
from pdtrail.producers import producer_config
from pdtrail.schemas import EventCodec, InvalidEventError, UndecodableMessageError, UnknownSchemaError

if TYPE_CHECKING:
    from pdtrail.integrity import IntegrityRecorder

logger = logging.getLogger("pdtrail.consumers")
__all__ = ["AuditConsumer", "ConsumeStats"]


class AuditConsumer:
    """Consumes the audit topic into the ``events`` table of ``client``'s database.

    ``run(drain=True)`` stops once every assigned partition is read to its end (for batch jobs and the
    demo); ``run()`` consumes until ``stop()`` (call it from a signal handler). A message that cannot
    be decoded or validated, or is larger than ``consumer.max_event_bytes``, goes to the dead-letter
    topic with its reason; the loop carries on. A failed insert is retried with back-off, committing
    nothing, until it succeeds or ``stop()`` is called. ``metrics`` holds its Prometheus metrics; with
    ``consumer.metrics_port`` set, ``run()`` serves them and ``/health`` on 127.0.0.1.
    """

    def __init__(
        self,
        settings: Settings,
        client: Client,
        *,
        codec: EventCodec | None = None,
        on_progress: Callable[[ConsumeStats], None] | None = None,
        recorder: IntegrityRecorder | None = None,
        metrics: ConsumerMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._codec = codec or EventCodec()
        self._on_progress = on_progress
        self._topic = settings.kafka.topic
        self._stop = threading.Event()
        self.stats = ConsumeStats()
        self.metrics = metrics or ConsumerMetrics()
        self._next: dict[int, int] = {}  # partition -> next offset to handle; older ones are stale
        self._lag_at = 0.0
        self._lag: dict[int, int] = {}  # partition -> messages behind its high watermark, once known
        self._resumed: dict[int, int] = {}  # partition -> offset the store is ahead of the group's commit
        self._sent_before: set[tuple[str | None, int | None, int | None]] = set()
        self._batches: dict[int, Batch] = {}
        self._assigned: set[int] = set()
        self._replay: dict[int, tuple[int, int]] = {}  # partition -> offset range of an unfinished batch
        self._at_end: set[int] = set()
        self._leave = False  # the store failed a batch past the write budget: step aside until it answers
        self._stepping_aside = False
        self._dead_letters = DeadLetterWriter(producer_config(settings), settings.kafka.dead_letter_topic)
        if recorder is None:
            from pdtrail.integrity import IntegrityRecorder, signer_from_settings  # imports consumers itself

            recorder = IntegrityRecorder(settings, client, signer_from_settings(settings), producer_config(settings))
        self._recorder = recorder
        config = self._consumer_config()
        self._consumer = Consumer(config, logger=LIBRDKAFKA_LOGGER)
        self._store = StoreWrites(
            client,
            self._topic,
            stats=self.stats,
            metrics=self.metrics,
            stop=self._stop,
            progress=self._progress,
            max_poll_interval_ms=int(config.get("max.poll.interval.ms", 300_000)),
        )

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
        return self._store.stored_positions()

    def unfinished_batch(self, partition: int) -> tuple[int, int] | None:
        """The offset range of the partition's last batch if fewer of its rows are stored than promised."""
        return self._store.unfinished_batch(partition)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            self._resume_positions(consumer, partitions)
        except Abandoned:
            # Kafka's assignment stands until this member leaves, but nothing of it is read here
            # (the partitions are not in _assigned): the next owner starts from the store's position.
            logger.warning("the store failed while partitions were assigned; leaving them to other members")
            self._assigned = set()
            self._leave = True
        consumer.assign(partitions)
        self._at_end -= self._assigned
        logger.info("assigned partitions %s", sorted(self._assigned))

    def _resume_positions(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Read the positions from the store every time: another consumer may have stored since.
        stored = self._store.retrying("reading stored positions", self._store.stored_positions, bounded=True)
        committed = {tp.partition: tp.offset for tp in consumer.committed(partitions, timeout=30)}
        for tp in partitions:
            self._replay.pop(tp.partition, None)
            self._batches.pop(tp.partition, None)
            resume = stored.get(tp.partition, -1) + 1
            if resume > 0 and resume > committed.get(tp.partition, OFFSET_INVALID):
                tp.offset = resume
                self._resumed[tp.partition] = resume
            unfinished = self._store.retrying(
                "reading batch intents", functools.partial(self._store.unfinished_batch, tp.partition), bounded=True
            )
            if unfinished is not None and not self._start_at_gap_before(tp, unfinished[0], committed):
                logger.warning("partition %d: batch %d-%d was cut short; replaying it", tp.partition, *unfinished)
                self._replay[tp.partition] = unfinished
                tp.offset = unfinished[0]
                self._resumed.pop(tp.partition, None)
            start = tp.offset if tp.offset >= 0 else committed.get(tp.partition, OFFSET_INVALID)
            self._next[tp.partition] = max(start, 0)
        self._remember_dead_letters(len(partitions))
        for tp in partitions:
            resume = functools.partial(self._recorder.resume, tp.partition)
            self._store.retrying("resuming checkpoints", resume, bounded=True)
        self._assigned = {tp.partition for tp in partitions}

    def _start_at_gap_before(self, tp: TopicPartition, first: int, committed: dict[int, int]) -> bool:
        """If offsets before an unfinished batch were never stored, start the partition there (returns True).
        A batch's intent is written only once everything before it is stored or committed, so a gap is the
        trace of an earlier version's bug (a batch formed after one left unwritten): replaying the batch
        would skip the gap for good. The rows of the batch that did land are dropped by their event ids."""
        below = functools.partial(self._store.stored_below, tp.partition, first)
        stored = self._store.retrying("reading stored positions", below, bounded=True)
        done = committed.get(tp.partition, OFFSET_INVALID)
        if stored < 0 and done < 0:
            return False  # nothing stored or committed before it: the partition's first batch
        start = max(stored + 1, done)
        if start >= first:
            return False
        logger.error(
            "partition %d: offsets %d-%d before the unfinished batch from %d were never stored; reading from %d",
            tp.partition, start, first - 1, first, start,
        )  # fmt: skip
        tp.offset = start
        self._resumed.pop(tp.partition, None)  # the store's highest offset is past the gap: not a position
        return True

    def _remember_dead_letters(self, partitions: int) -> None:
        # The uncommitted tail of a partition is at most a batch; its poison may be in the DLQ already.
        window = max(1000, self._settings.consumer.batch_size * partitions)
        try:
            self._sent_before = recent_origins(self._settings, window)
        except Exception as exc:
            logger.warning("could not read the dead-letter topic (%s); a letter may be sent twice", exc)
            self._sent_before = set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._stepping_aside:
            # Leaving because the store does not answer: nothing more is written from here.
            self._on_lost(consumer, partitions)
            return
        # Store what was read from these partitions while they are still ours to commit.
        for tp in partitions:
            batch, replay = self._batches.get(tp.partition), self._replay.get(tp.partition)
            if batch is not None and replay is not None and batch.last_offset < replay[1]:
                # Half a replay stored under new tokens could double the months that had landed; the next
                # owner replays the whole range instead.
                del self._batches[tp.partition]
            self._flush_partition(tp.partition)
            self._checkpoint(tp.partition, force=True)
            self._recorder.forget(tp.partition)
            self._forget(tp.partition)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Lost, not revoked: another member may own them already, so nothing of theirs is stored or committed.
        logger.warning(
            "partitions %s %s; their unstored batches are left to the next owner",
            sorted(tp.partition for tp in partitions), "given up" if self._stepping_aside else "lost",
        )  # fmt: skip
        for tp in partitions:
            self._batches.pop(tp.partition, None)
            self._recorder.forget(tp.partition)
            self._forget(tp.partition)

    def _forget(self, partition: int) -> None:
        self._assigned.discard(partition)
        self._replay.pop(partition, None)
        self._next.pop(partition, None)
        self._at_end.discard(partition)
        self._resumed.pop(partition, None)
        if self._lag.pop(partition, None) is not None:
            self.metrics.lag.remove(str(partition))

    # -- the loop -------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The state for a probe: state, last error, counters and the assigned partitions."""
        known = bool(self._assigned) and self._assigned <= self._lag.keys()
        lag = sum(self._lag[p] for p in self._assigned) if known else None
        return {**self.stats.__dict__, "partitions": sorted(self._assigned), "topic": self._topic, "lag": lag}

    def run(self, *, drain: bool = False) -> ConsumeStats:
        settings = self._settings.consumer
        server = None
        if settings.metrics_port:
            server = MetricsServer(self.metrics, self.health, port=settings.metrics_port).start()
            logger.info("metrics on http://127.0.0.1:%d/metrics", server.port)
        self._subscribe()
        self._store.set_state(RUNNING)
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                messages = self._consumer.consume(num_messages=min(settings.batch_size, 2000), timeout=0.2)
                received = dt.datetime.now(dt.UTC)
                self._store.polled_at = time.monotonic()
                self._commit_resumed()  # assignment happens inside consume(); before any batch commits
                for msg in messages:
                    self._handle(msg, received)
                if messages:
                    idle_since = time.monotonic()
                self._flush_due()
                if self._leave:
                    self._step_aside()
                    idle_since = time.monotonic()
                self._update_lag()
                if drain and self._drained():
                    break
                if drain and time.monotonic() - idle_since > settings.drain_idle_s and not self._assigned:
                    logger.warning("no partition assigned after %.0fs; stopping", settings.drain_idle_s)
                    break
            self._flush_all()
            # Everything stored is covered when a run ends, so a drained log verifies to its last row.
            self._store.retrying("checkpoint", self._recorder.checkpoint_all)
        finally:
            self._store.set_state(STOPPED)
            self._consumer.close()
            self._dead_letters.close()
            if server is not None:
                server.stop()
            self._progress()
        return self.stats

    def _subscribe(self) -> None:
        self._consumer.subscribe(
            [self._topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )

    def _step_aside(self) -> None:
        """Leave the group while the store does not answer, so that members whose store does take the
        partitions instead of waiting here; join again once it answers."""
        self._leave = False
        self.stats.left_group += 1
        logger.warning(
            "the store failed for over %.0fs: leaving the group until it answers", self._store.write_budget_s
        )
        self._stepping_aside = True
        self._batches.clear()  # read, not stored, not committed: the next owner reads them again
        try:
            self._consumer.unsubscribe()
            delay = 0.5
            while not self._stop.is_set():
                self._consumer.consume(num_messages=1, timeout=0.1)  # serves the revocation; reads nothing
                if self._assigned:
                    continue
                try:
                    self._store.stored_positions()
                    break
                except Exception as exc:
                    self.stats.last_error = f"store still failing: {first_line(exc)}"
                    self._progress()
                    self._stop.wait(delay)
                    delay = min(delay * 2, 30.0)
        finally:
            self._stepping_aside = False
        if not self._stop.is_set():
            logger.warning("the store answers again: joining the group")
            self._subscribe()
            self._store.set_state(RUNNING)

    def _update_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_at < 1.0:
            return
        self._lag_at = now
        for partition, position in self._next.items():
            try:
                _, high = self._consumer.get_watermark_offsets(TopicPartition(self._topic, partition), cached=True)
            except KafkaException:
                continue
            if high >= 0:
                self._lag[partition] = max(high - position, 0)
                self.metrics.lag.labels(str(partition)).set(self._lag[partition])

    def _commit_resumed(self) -> None:
        # Rows stored by a run killed before its commit: the group's offsets catch up with the store, so
        # lag as Kafka's own tools show it is true, and a restart does not count that tail as unread.
        if not self._resumed:
            return
        offsets = [TopicPartition(self._topic, p, o) for p, o in self._resumed.items() if p in self._assigned]
        self._resumed.clear()
        if not offsets:
            return
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            logger.warning("commit of the stored position failed (%s); the store's position stands", exc)

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
        if self._leave:
            # A batch was just left unwritten: this member steps aside before it handles anything more, or
            # the rest of this poll (fetched before the seek back) would form a batch after the gap, and
            # its intent would send the next owner past the rows never stored.
            return
        partition, offset = msg.partition() or 0, msg.offset() or 0  # always set on a message without error
        if partition not in self._assigned or offset < self._next.get(partition, 0):
            return  # fetched before a rebalance: handled already, or now another member's to handle
        self._next[partition] = offset + 1
        replay = self._replay.get(partition)
        if replay is not None and offset > replay[1]:
            self._flush_partition(partition)  # the replayed batch ends exactly where the first try did
            if self._leave:
                return  # left unwritten: this message is read again after the batch, by whoever owns it
        self._at_end.discard(partition)
        self.stats.consumed += 1
        self.metrics.consumed.inc()
        batch = self._batches.setdefault(partition, Batch())
        if batch.first_offset < 0:
            batch.first_offset = offset
        batch.last_offset = offset
        value = msg.value()
        limit = self._settings.consumer.max_event_bytes
        if value is not None and len(value) > limit:
            self._dead_letter(msg, f"message of {len(value)} bytes is above max_event_bytes ({limit})", "oversized")
            return
        try:
            event, schema = self._codec.decode_versioned(value)
        except UnknownSchemaError as exc:
            self._dead_letter(msg, exc.reason, "unknown_schema")
            return
        except UndecodableMessageError as exc:
            self._dead_letter(msg, exc.reason, "undecodable")
            return
        except InvalidEventError as exc:
            problems = "; ".join(f"{f}: {r}" for f, r in exc.problems)
            self._dead_letter(msg, problems, "invalid")
            return
        batch.rows.append(event_row(event, schema, self._topic, partition, offset, received))

    def _dead_letter(self, msg: Message, reason: str, error: str) -> None:
        if (msg.topic(), msg.partition(), msg.offset()) in self._sent_before:
            logger.info("%s[%d]@%d is in the DLQ already", msg.topic(), msg.partition(), msg.offset())
            return
        logger.warning("dead letter %s[%d]@%d: %s", msg.topic(), msg.partition(), msg.offset(), reason)
        self._dead_letters.send(msg, reason, error)
        self._sent_before.add((msg.topic(), msg.partition(), msg.offset()))  # read again after an abandon
        self.stats.dead_lettered += 1
        self.metrics.dead_lettered.labels(error).inc()

    def _drop_duplicates(self, batch: Batch) -> int:
        """Keep the first row of each event_id not stored yet; count the others."""
        dropped = self._store.drop_stored(batch)
        if dropped:
            logger.info("dropped %d events stored already (same event_id)", dropped)
            self.stats.duplicates_dropped += dropped
            self.metrics.duplicates.inc(dropped)
        return dropped

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
        intent_written = replaying
        try:
            dropped = self._drop_duplicates(batch)
            if batch.rows:
                if not replaying:
                    self._store.write_intent(partition, batch)
                    intent_written = True
                self._store.insert(partition, batch)
                if replaying or dropped:  # some rows were there already: read them all back in offset order
                    record = functools.partial(self._recorder.resume, partition)
                else:
                    record = functools.partial(self._recorder.stored, partition, batch.rows)
                self._store.retrying("reading stored rows for the checkpoint", record, bounded=True)
        except Abandoned:
            self._abandon(partition, batch, intent_written)
            return
        self._replay.pop(partition, None)
        self._checkpoint(partition)
        self._dead_letters.confirm()
        try:
            self._consumer.commit(
                offsets=[TopicPartition(self._topic, partition, batch.last_offset + 1)], asynchronous=False
            )
        except KafkaException as exc:
            # The rows are stored; the next owner resumes after them whatever Kafka's offsets say.
            logger.warning("commit of partition %d failed (%s); the store's position stands", partition, exc)
        self._batches.pop(partition, None)
        self.stats.stored += len(batch.rows)
        self.stats.batches += 1
        if batch.rows:
            self.metrics.stored.inc(len(batch.rows))
            self.metrics.batch_size.observe(len(batch.rows))
        self._progress()

    def _checkpoint(self, partition: int, *, force: bool = False) -> None:
        try:
            self._store.retrying(
                "checkpoint", functools.partial(self._recorder.maybe_checkpoint, partition, force=force),
                bounded=True,
            )  # fmt: skip
        except Abandoned:
            # The rows are stored; whoever holds the partition next covers them with its own checkpoint.
            logger.warning("partition %d: checkpoint deferred, the store failed for over %.0fs", partition,
                           self._store.write_budget_s)  # fmt: skip

    def _abandon(self, partition: int, batch: Batch, intent_written: bool) -> None:
        logger.warning(
            "partition %d: the store failed for over %.0fs; batch %d-%d is left unwritten and read again",
            partition, self._store.write_budget_s, batch.first_offset, batch.last_offset,
        )  # fmt: skip
        self._batches.pop(partition, None)
        self._recorder.forget(partition)  # some rows may be stored: the next checkpoint reads them back
        self.stats.batches_abandoned += 1
        self.metrics.abandoned.inc()
        if partition not in self._assigned:
            return
        self._leave = True
        if intent_written:
            # Some of its months may have landed: read again, it is replayed as exactly this range.
            self._replay[partition] = (batch.first_offset, batch.last_offset)
        self._next[partition] = batch.first_offset
        try:
            self._consumer.seek(TopicPartition(self._topic, partition, batch.first_offset))
        except KafkaException as exc:
            # Not ours any more (the next poll says so): its next owner resumes from the store's position.
            logger.info("partition %d: seek back failed (%s)", partition, exc)

    def _progress(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.stats)
