"""The ingest loop, an I/O shell around the planner: poll → batch per partition → decode → plan → execute.

Every decision is ``_planner``'s (where a partition resumes, what is replayed, the steps that store a
batch and their order); this module only reads Kafka and the store, and runs those steps:
confirm the batch's dead letters, write its intent, insert month by month with deduplication
tokens, record the leaves and checkpoint, commit. ``_decoder`` turns a batch into rows and poison
(the engine parses the Avro where it can, one message at a time where it must), every partition due in
a round (``_planner.flush_round``) staged together; ``_store_writes``
holds the store's reads and writes and the back-off they are retried with.
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
from pdtrail.consumers import _planner as plan
from pdtrail.consumers._dead_letter import DeadLetterWriter
from pdtrail.consumers._decoder import BatchDecoder, DecodedBatch
from pdtrail.consumers._metrics import RUNNING, STOPPED, ConsumerMetrics, MetricsServer
from pdtrail.consumers._redrive import recent_origins
from pdtrail.consumers._store_writes import Abandoned, ConsumeStats, StoreWrites, first_line
from pdtrail.errors import LIBRDKAFKA_LOGGER
from pdtrail.producers import producer_config
from pdtrail.schemas import EventCodec

if TYPE_CHECKING:
    from pdtrail.integrity import IntegrityRecorder

logger = logging.getLogger("pdtrail.consumers")
__all__ = ["AuditConsumer", "ConsumeStats"]


class AuditConsumer:
    """Consumes the audit topic into the ``events`` table of ``client``'s database, exactly once.

    ``run(drain=True)`` stops once every assigned partition is read to its end (for batch jobs and the
    demo); ``run()`` consumes until ``stop()`` (call it from a signal handler). A message that cannot
    be decoded or validated, or is larger than ``consumer.max_event_bytes``, goes to the dead-letter
    topic with its reason; the loop carries on. A failed insert is retried with back-off, committing
    nothing, until it succeeds or ``stop()`` is called. ``metrics`` holds its Prometheus metrics; with
    ``consumer.metrics_port`` set, ``run()`` serves them and ``/health`` on ``consumer.metrics_host``.
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
        self._topic = settings.kafka.topic
        self._on_progress = on_progress
        self._stop = threading.Event()
        self.stats = ConsumeStats()
        self.metrics = metrics or ConsumerMetrics()
        self._partitions: dict[int, plan.PartitionState] = {}
        self._sent_before: set[tuple[str | None, int | None, int | None]] = set()
        self._lag_at = 0.0
        self._leave = False  # the store failed a batch past the write budget: step aside until it answers
        self._stepping_aside = False
        # Within a round of partitions: the offsets to commit once the round is stored (partition -> next offset).
        self._round_commits: dict[int, int] | None = None
        self._dead_letters = DeadLetterWriter(producer_config(settings), settings.kafka.dead_letter_topic)
        self._decoder = BatchDecoder(settings, client, codec or EventCodec())
        if recorder is None:
            from pdtrail.integrity import IntegrityRecorder, signer_from_settings

            recorder = IntegrityRecorder(settings, client, signer_from_settings(settings), producer_config(settings))
        self._recorder = recorder
        config = self._consumer_config()
        self._consumer = Consumer(config, logger=LIBRDKAFKA_LOGGER)
        self._store = StoreWrites(
            client, self._topic, stats=self.stats, metrics=self.metrics, stop=self._stop, progress=self._progress,
            max_poll_interval_ms=int(config.get("max.poll.interval.ms", 300_000)),
            consistency=self._decoder.consistency,
        )  # fmt: skip

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

    @property
    def pending(self) -> bool:
        """True while some partition holds a batch not stored yet."""
        return any(state.batch is not None for state in self._partitions.values())

    def stored_positions(self) -> dict[int, int]:
        """Highest stored offset per partition of the topic."""
        return self._store.stored_positions()

    def unfinished_batch(self, partition: int) -> tuple[int, int] | None:
        """The offset range of the partition's last batch if fewer of its rows are stored than promised."""
        return self._store.unfinished_batch(partition)

    # -- partition assignment -------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            self._resume(consumer, partitions)
        except Abandoned:
            # Kafka's assignment stands until this member leaves, but nothing of it is read here: the next
            # owner starts from the store's position.
            logger.warning("the store failed while partitions were assigned; leaving them to other members")
            self._partitions = {}
            self._leave = True
        consumer.assign(partitions)
        logger.info("assigned partitions %s", sorted(self._partitions))

    def _resume(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Read the positions from the store every time: another consumer may have stored since.
        stored = self._store.retrying("reading stored positions", self._store.stored_positions, bounded=True)
        committed = {tp.partition: tp.offset for tp in consumer.committed(partitions, timeout=30)}
        states = {}
        for tp in partitions:
            view = functools.partial(self._store.view, tp.partition, stored.get(tp.partition, -1))
            done = committed.get(tp.partition, OFFSET_INVALID)
            resume = plan.plan_resume(self._store.retrying("reading batch intents", view, bounded=True), done)
            if resume.gap is not None:
                logger.error("partition %d: offsets %d-%d before an unfinished batch were never stored; reading "
                             "from %d", tp.partition, *resume.gap, resume.gap[0])  # fmt: skip
            if resume.replay is not None:
                logger.warning("partition %d: batch %d-%d was cut short; replaying it", tp.partition, *resume.replay)
            if resume.start is not None:
                tp.offset = resume.start
            states[tp.partition] = plan.PartitionState.resumed(tp.partition, resume, done)
        self._remember_dead_letters(len(partitions))
        for tp in partitions:
            self._store.retrying("resuming checkpoints", functools.partial(self._recorder.resume, tp.partition),
                                 bounded=True)  # fmt: skip
        self._partitions = states

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
            self._on_lost(consumer, partitions)  # leaving because the store does not answer: write nothing
            return
        for tp in partitions:  # store what was read while the partitions are still ours to commit
            state = self._partitions.get(tp.partition)
            if state is None:
                continue
            if plan.revoke_keeps_batch(state):
                self._flush(state)
            self._checkpoint(tp.partition, force=True)
            self._forget(tp.partition)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Lost, not revoked: another member may own them already, so nothing of theirs is stored or committed.
        how = "given up" if self._stepping_aside else "lost"
        which = sorted(tp.partition for tp in partitions)
        logger.warning("partitions %s %s; their unstored batches are left to the next owner", which, how)
        for tp in partitions:
            self._forget(tp.partition)

    def _forget(self, partition: int) -> None:
        self._recorder.forget(partition)
        if self._partitions.pop(partition, plan.PartitionState(partition)).lag is not None:
            self.metrics.lag.remove(str(partition))

    # -- the loop -------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The state for a probe: state, last error, counters and the assigned partitions."""
        states = list(self._partitions.values())
        lag = sum(s.lag or 0 for s in states) if states and all(s.lag is not None for s in states) else None
        return {**self.stats.__dict__, "partitions": sorted(self._partitions), "topic": self._topic, "lag": lag}

    def run(self, *, drain: bool = False) -> ConsumeStats:
        settings = self._settings.consumer
        server = None
        if settings.metrics_port:
            host = settings.metrics_host
            server = MetricsServer(self.metrics, self.health, host=host, port=settings.metrics_port).start()
            logger.info("metrics on http://%s:%d/metrics", f"[{host}]" if ":" in host else host, server.port)
        self._subscribe()
        self._store.set_state(RUNNING)
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                messages = self._consumer.consume(num_messages=min(settings.batch_size, 10_000), timeout=0.2)
                self._store.polled_at = time.monotonic()
                self._commit_resumed()  # assignment happens inside consume(); before any batch commits
                consumed = self.stats.consumed
                try:
                    for msg in messages:
                        self._handle(msg)
                finally:  # one increment per poll, not per message: the counter takes a lock
                    self.metrics.consumed.inc(self.stats.consumed - consumed)
                if messages:
                    idle_since = time.monotonic()
                self._flush_due()
                if self._leave:
                    self._step_aside()
                    idle_since = time.monotonic()
                self._update_lag()
                if drain and self._drained():
                    break
                if drain and time.monotonic() - idle_since > settings.drain_idle_s and not self._partitions:
                    logger.warning("no partition assigned after %.0fs; stopping", settings.drain_idle_s)
                    break
            for state in list(self._partitions.values()):
                self._flush(state)
            # Everything stored is covered when a run ends, so a drained log verifies to its last row.
            self._store.retrying("checkpoint", self._recorder.checkpoint_all)
        finally:
            self._store.set_state(STOPPED)
            self._consumer.close()
            self._dead_letters.close()
            self._decoder.close()
            if server is not None:
                server.stop()
            self._progress()
        return self.stats

    def _subscribe(self) -> None:
        self._consumer.subscribe(
            [self._topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )

    def _drained(self) -> bool:
        states = self._partitions.values()
        return bool(states) and all(s.at_end and s.batch is None for s in states)

    def _handle(self, msg: Message) -> None:
        error = msg.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                state = self._partitions.get(msg.partition() or 0)
                if state is not None:
                    state.at_end = True
            elif error.fatal():
                raise RuntimeError(f"fatal Kafka error: {error.str()}")
            else:
                logger.warning("Kafka: %s", error.str())
            return
        if self._leave:
            # A batch was just left unwritten: step aside before handling anything more, or the rest of this
            # poll (fetched before the seek back) would form a batch after the gap.
            return
        state = self._partitions.get(msg.partition() or 0)
        offset = msg.offset() or 0  # always set on a message without error
        if state is None:
            return  # fetched before a rebalance: now another member's
        verdict = plan.on_message(state, offset)
        if verdict is plan.Verdict.STALE:
            return
        if verdict is plan.Verdict.FLUSH_FIRST:
            self._flush(state)
            if self._leave:
                return  # left unwritten: this message is read again after the batch, by whoever owns it
        plan.take(state, offset, msg)
        self.stats.consumed += 1

    def _flush_due(self) -> None:
        settings = self._settings.consumer
        states = plan.flush_round(list(self._partitions.values()), now=time.monotonic(),
                                  batch_size=settings.batch_size, linger_s=settings.linger_s)  # fmt: skip
        if len(states) < 2:
            for state in states:
                self._flush(state)
            return
        # One round: the engine stages every partition's batch in one go; each is then stored as before.
        batches = {state.partition: state.batch.messages for state in states if state.batch is not None}
        decode = functools.partial(self._decoder.decode_many, batches, dt.datetime.now(dt.UTC))
        try:
            decoded = self._store.retrying("staging the batches", decode, bounded=True)
        except Abandoned:
            for state in states:
                self._abandon(state, plan.replay_whole(state))
            return
        self._round_commits = {}
        try:
            for state in states:
                self._flush(state, decoded.pop(state.partition))
        finally:  # a flush that raised leaves the round's other batches: their staged files go too
            for rest in decoded.values():
                rest.close()
            commits, self._round_commits = self._round_commits, None
            self._commit(commits)

    # -- one batch ------------------------------------------------------------------------------

    def _flush(self, state: plan.PartitionState, decoded: DecodedBatch | None = None) -> None:
        batch = state.batch
        if batch is None:
            if decoded is not None:
                decoded.close()
            return
        partition, intent_written = state.partition, plan.replay_whole(state)
        try:
            if decoded is None:
                # The engine stages the batch: store I/O, retried like every other (Abandoned past the budget).
                received = dt.datetime.now(dt.UTC)
                decode = functools.partial(self._decoder.decode, partition, batch.messages, received)
                decoded = self._store.retrying("staging the batch", decode, bounded=True)
            for poison in decoded.poison:
                self._dead_letter(poison.message, poison.reason, poison.error)
            dropped = self._store.retrying("reading stored event ids", decoded.drop_stored, bounded=True)
            if dropped:
                logger.info("dropped %d events stored already (same event_id)", dropped)
                self.stats.duplicates_dropped += dropped
                self.metrics.duplicates.inc(dropped)
            months = self._decoder.insert_units(decoded)
            steps = plan.plan_flush(
                state, self._topic, months=months, dead_letters=len(decoded.poison), dropped=dropped
            )
            for step in steps:
                self._execute(step, partition, batch, decoded)
                intent_written |= isinstance(step, plan.WriteIntent)
        except Abandoned:
            self._abandon(state, intent_written)
            return
        finally:
            if decoded is not None:
                decoded.close()
        plan.flushed(state)
        stored = sum(months.values())
        self.stats.stored += stored
        self.stats.batches += 1
        if stored:
            self.metrics.stored.inc(stored)
            self.metrics.batch_size.observe(stored)
        self._progress()

    def _execute(self, step: plan.Step, partition: int, batch: plan.Batch, decoded: DecodedBatch) -> None:
        match step:
            case plan.ConfirmDeadLetters():
                self._dead_letters.confirm()
            case plan.WriteIntent(intent=intent):
                write = functools.partial(self._store.write_intent, partition, intent)
                self._store.retrying("batch intent", write, bounded=True)
            case plan.Insert(month=month, token=token):
                write = functools.partial(decoded.insert, month, token)
                self._store.insert(partition, batch.first_offset, batch.last_offset, write)
            case plan.RecordLeaves(read_back=read_back):
                if read_back:  # some rows were there already: read the tail back in offset order
                    record = functools.partial(self._recorder.resume, partition)
                else:
                    record = functools.partial(self._recorder.stored, partition, *decoded.leaves())
                self._store.retrying("reading stored rows for the checkpoint", record, bounded=True)
            case plan.Commit(offset=offset):
                if self._round_commits is not None:
                    self._round_commits[partition] = offset  # the round commits its partitions together
                else:
                    self._commit({partition: offset})

    def _dead_letter(self, msg: Message, reason: str, error: str) -> None:
        if (msg.topic(), msg.partition(), msg.offset()) in self._sent_before:
            logger.info("%s[%d]@%d is in the DLQ already", msg.topic(), msg.partition(), msg.offset())
            return
        logger.warning("dead letter %s[%d]@%d: %s", msg.topic(), msg.partition(), msg.offset(), reason)
        self._dead_letters.send(msg, reason, error)
        self._sent_before.add((msg.topic(), msg.partition(), msg.offset()))  # read again after an abandon
        self.stats.dead_lettered += 1
        self.metrics.dead_lettered.labels(error).inc()

    def _commit(self, offsets: dict[int, int]) -> None:
        """Checkpoint the stored partitions, then commit their next offsets: one checkpoint write and one
        commit for a whole round of partitions."""
        if not offsets:
            return
        self._checkpoint(*offsets)
        try:
            self._consumer.commit(
                offsets=[TopicPartition(self._topic, p, o) for p, o in offsets.items()], asynchronous=False
            )
        except KafkaException as exc:
            # The rows are stored; the next owner resumes after them whatever Kafka's offsets say.
            logger.warning("commit of partitions %s failed (%s); the store's position stands", sorted(offsets), exc)

    def _checkpoint(self, *partitions: int, force: bool = False) -> None:
        cut = functools.partial(self._recorder.maybe_checkpoint_many, list(partitions), force=force)
        try:
            self._store.retrying("checkpoint", cut, bounded=True)
        except Abandoned:
            # The rows are stored; whoever holds the partition next covers them with its own checkpoint.
            logger.warning("partitions %s: checkpoint deferred, the store failed for over %.0fs", list(partitions),
                           self._store.write_budget_s)  # fmt: skip

    def _abandon(self, state: plan.PartitionState, intent_written: bool) -> None:
        batch = state.batch
        assert batch is not None
        logger.warning("partition %d: the store failed for over %.0fs; batch %d-%d is left unwritten and read again",
                       state.partition, self._store.write_budget_s, batch.first_offset, batch.last_offset)  # fmt: skip
        self._recorder.forget(state.partition)  # some rows may be stored: the next checkpoint reads them back
        self.stats.batches_abandoned += 1
        self.metrics.abandoned.inc()
        seek = plan.abandoned(state, intent_written=intent_written)
        if state.partition not in self._partitions:
            return
        self._leave = True
        try:
            self._consumer.seek(TopicPartition(self._topic, state.partition, seek))
        except KafkaException as exc:
            # Not ours any more (the next poll says so): its next owner resumes from the store's position.
            logger.info("partition %d: seek back failed (%s)", state.partition, exc)

    # -- stepping aside, lag, commits of resumed positions --------------------------------------------

    def _step_aside(self) -> None:
        """Leave the group while the store does not answer, so that members whose store does take the
        partitions instead of waiting here; join again once it answers."""
        self._leave = False
        self.stats.left_group += 1
        logger.warning("the store failed for over %.0fs: leaving the group until it answers",
                       self._store.write_budget_s)  # fmt: skip
        self._stepping_aside = True
        for state in self._partitions.values():
            state.batch = None  # read, not stored, not committed: the next owner reads them again
        try:
            self._consumer.unsubscribe()
            delay = 0.5
            while not self._stop.is_set():
                self._consumer.consume(num_messages=1, timeout=0.1)  # serves the revocation; reads nothing
                if self._partitions:
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
        for partition, state in self._partitions.items():
            try:
                _, high = self._consumer.get_watermark_offsets(TopicPartition(self._topic, partition), cached=True)
            except KafkaException:
                continue
            if high >= 0:
                state.lag = max(high - state.next_offset, 0)
                self.metrics.lag.labels(str(partition)).set(state.lag)

    def _commit_resumed(self) -> None:
        # Rows stored by a run killed before its commit: the group's offsets catch up with the store, so
        # lag as Kafka's own tools show it is true, and a restart does not count that tail as unread.
        offsets = []
        for partition, state in self._partitions.items():
            if state.commit_now is not None:
                offsets.append(TopicPartition(self._topic, partition, state.commit_now))
                state.commit_now = None
        if not offsets:
            return
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            logger.warning("commit of the stored position failed (%s); the store's position stands", exc)

    def _progress(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.stats)
