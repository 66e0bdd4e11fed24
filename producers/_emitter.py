"""The emitter: validate → check the register → pseudonymise → encode → hand to librdkafka, without blocking.

Every service pays this on every request, so the per-event path does only what each event needs: the
event model was validated when the service built it (it is not validated or copied again), the register
check looks up precomputed sets, the pseudonym comes from an LRU when the subject repeats, the Avro body is
written by a compiled writer, and a confirmation from Kafka costs one lock-free count. No lock is taken
on the way while the spool is empty. (Failures-only delivery reports, ``delivery.report.only.error``,
were measured: they saved no CPU time that showed above the noise, and without a report per event the
pending count and the spool's confirmation would have to be guessed from librdkafka's queue length,
which also holds librdkafka's own log and error events.)
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

from confluent_kafka import KafkaError, Message, Producer

from pdtrail.config import Settings, load_settings
from pdtrail.errors import LIBRDKAFKA_LOGGER
from pdtrail.producers._links import also_known_as_events, envelope_of, link_events
from pdtrail.producers._metrics import RETIRED, EmitterStats, Tally, register_emitter_metrics
from pdtrail.producers._prepare import Prepared, Preparer
from pdtrail.producers._producer import SPOOL_CODES, Report, never_destroy, producer_config
from pdtrail.producers._pseudonym import Pseudonymiser
from pdtrail.producers._replay import replay_forever
from pdtrail.producers._spool import Headers, Spool
from pdtrail.producers.exceptions import DeliveryError, EmitQueueFullError, EmitterClosedError
from pdtrail.schemas import (
    Actor,
    EventCodec,
    InvalidEventError,
    LegalBasis,
    ProcessingEvent,
    ProcessingRegister,
    SubjectIdentifier,
    load_register,
)
from pdtrail.schemas._time_bounds import TimeBounds

logger = logging.getLogger("pdtrail.producers")

_SERVE_EVERY_MASK = 7  # emit() serves librdkafka's reports on every 8th event
_SERVE_BATCH_EVERY_MASK = 1023  # emit_many() on every 1,024th
_LIVE: weakref.WeakSet[AuditEmitter] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    # An emitter the service forgot to close still hands its unconfirmed events to the spool.
    for emitter in list(_LIVE):
        emitter.close(timeout=emitter._settings.emitter.enqueue_timeout_s)


class AuditEmitter:
    """Sends processing events to the audit topic.

    ``emit()`` checks the event against the processing register, pseudonymises its subject, encodes it
    and queues it in librdkafka; it returns at once (within ``emitter.enqueue_timeout_s`` when the local
    queue is full, then raises :class:`EmitQueueFullError`). ``emit_many()`` does the same for a batch.
    A background thread serves librdkafka's failure reports: a failed delivery is counted and passed to
    ``on_delivery_error``; it is never silent. ``flush(timeout)`` returns how many events are still
    unconfirmed; ``close()`` flushes and stops. After ``os.fork()`` the child gets a fresh producer on its
    first ``emit()``. Idempotence and ``acks=all`` are always on.

    Use as a context manager, or call ``close()`` before the process exits.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        pseudonymiser: Pseudonymiser | None = None,
        codec: EventCodec | None = None,
        on_delivery_error: Callable[[DeliveryError], None] | None = None,
        register: ProcessingRegister | None = None,
    ) -> None:
        self._settings = settings or load_settings()
        self._config = producer_config(self._settings)
        self._pseudonymiser = pseudonymiser or Pseudonymiser.from_settings(self._settings)
        self._on_delivery_error = on_delivery_error
        self._register = register or load_register(self._settings.processing_register.path)
        self._default_source = self._settings.emitter.source_system
        self._preparer = Preparer(
            self._pseudonymiser, codec or EventCodec(), self._register,
            # The window of occurred_at from the emitter's own settings, not the process's configuration.
            TimeBounds.from_settings(self._settings.time_bounds),
            enforce=self._settings.processing_register.mode == "enforce", default_source=self._default_source,
        )  # fmt: skip
        self._prepare = self._preparer.prepare
        self._register_stamp = self._preparer.register_stamp
        self._spool: Spool | None = None
        self._next_number = 1  # emit order, carried onto the spool so that it replays in that order
        self._topic = self._settings.kafka.topic
        self._lock = threading.Lock()  # counters of the failure path and the replayer, never emit()'s
        self._emitted = Tally()
        self._produced = Tally()  # handed straight to librdkafka by emit(), successfully queued
        self._answered_badly = 0  # of those: reported failed, or spooled by a failure report (under _lock)
        self._confirmed = Tally()  # of those: confirmed by Kafka
        self._replayed = Tally()  # spooled events confirmed on their way out again
        self._failed = 0
        self._closed = False
        self._start()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._producer = Producer(self._config, logger=LIBRDKAFKA_LOGGER)
        self._produce = self._producer.produce
        self._poll = self._producer.poll
        self._served_at = time.monotonic()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_forever, name="pdtrail-emitter", daemon=True)
        self._poller.start()
        options = self._settings.emitter
        if options.spool_max_bytes:
            # A forked child claims a spool file of its own: the parent's stays locked by the parent.
            self._spool = Spool(options.spool_dir or self._settings.home / "spool", options.spool_max_bytes)
            self._next_number = max(self._next_number, self._spool.first_free_number)
            replay = functools.partial(
                replay_forever, self._spool, self._produce, self._topic, pending=self._live_pending,
                delivered=self._replayed.add, stop=self._stop, delivery_timeout_s=options.delivery_timeout_s,
            )  # fmt: skip
            self._replayer = threading.Thread(target=replay, name="pdtrail-spool", daemon=True)
            self._replayer.start()
        # next() of itertools.count is atomic: emit order without a lock.
        self._numbers = itertools.count(self._next_number)
        register_emitter_metrics(lambda: list(_LIVE))
        _LIVE.add(self)

    def _forked(self) -> None:
        # librdkafka's threads did not survive the fork and the parent's queue is not ours: a producer, a
        # spool and counters of the child's own (the parent's events are the parent's to confirm).
        self._emitted, self._produced, self._confirmed, self._replayed = Tally(), Tally(), Tally(), Tally()
        self._lock = threading.Lock()
        self._answered_badly = self._failed = 0
        self._spool = None
        never_destroy(self._producer)
        self._start()

    def _poll_forever(self) -> None:
        # While events are emitted, emit() serves librdkafka's reports itself, a few at a time (see _send);
        # this thread serves them only when nobody emits. Served here under load, each report would take
        # the GIL from the emitting thread: on a busy machine every hand-over waits for the scheduler
        # (measured: emit() mean 50-90 µs against a p50 of 9-13 µs, 0.2x raw throughput).
        while not self._stop.wait(0.05):
            if time.monotonic() - self._served_at >= 0.05:
                self._producer.poll(0)

    # ---- the per-event path ----------------------------------------------------------------------------

    def emit(
        self, event: ProcessingEvent | Mapping[str, Any], *, also_known_as: Iterable[SubjectIdentifier] = ()
    ) -> UUID:
        """Queue one event; returns its event id. Raises InvalidEventError naming the field and reason.

        ``also_known_as``: other identifiers the service holds for the event's subject (a customer id beside
        the personnummer); a link event for each is sent right after the event, nothing if any is invalid."""
        if also_known_as:
            checked = self._preparer.coerce(event)
            links = also_known_as_events(self._pseudonymiser, checked, also_known_as)
            return self.emit_many([checked, *links])[0]
        if self._closed:
            raise EmitterClosedError("emit() after close()")
        if os.getpid() != self._pid:
            self._forked()
        key, value, headers, event_id = self._prepare(event)
        self._send(key, value, headers, event_id)
        self._emitted.add()
        return event_id

    def emit_many(
        self,
        events: Iterable[ProcessingEvent | Mapping[str, Any]],
        *,
        on_invalid: Callable[[int, InvalidEventError], None] | None = None,
    ) -> list[UUID]:
        """Queue a batch (a backfill of historical logs, a file of events); returns the ids sent, in order.

        The whole batch is checked and encoded first. Without ``on_invalid`` an invalid event raises its
        InvalidEventError before anything of the batch is sent; with it, ``on_invalid(index, error)`` is
        told of each invalid one and the valid ones are sent, in their order.
        """
        if self._closed:
            raise EmitterClosedError("emit_many() after close()")
        if os.getpid() != self._pid:
            self._forked()
        prepare, send = self._prepare, self._send
        ready: list[Prepared] = []
        for index, event in enumerate(events):
            try:
                ready.append(prepare(event))
            except InvalidEventError as exc:
                if on_invalid is None:
                    raise
                on_invalid(index, exc)
        # Reports are served every 1,024th event and at the end instead of every eighth: unserved reports
        # hold their events in librdkafka's queue, whose bound sends the rest to the spool.
        for key, value, headers, event_id in ready:
            send(key, value, headers, event_id, _SERVE_BATCH_EVERY_MASK)
        self._poll(0)
        self._served_at = time.monotonic()
        self._emitted.add(len(ready))
        return [event_id for *_, event_id in ready]

    def link(
        self, identifier: SubjectIdentifier, other: SubjectIdentifier, *, actor: Actor | Mapping[str, Any],
        reason: str, purpose: str, legal_basis: LegalBasis | str, data_categories: Iterable[str],
        source_system: str | None = None, occurred_at: dt.datetime | None = None, correlation_id: str | None = None,
    ) -> list[UUID]:  # fmt: skip
        """Record that two identifiers the service holds are one data subject; both are pseudonymised here.

        Every per-subject answer then covers both (as of the link's time). One event per key version is
        sent; returns their ids. ``reason`` is free text and, like every field, may hold no identifier."""
        envelope = envelope_of(
            actor=dict(actor) if isinstance(actor, Mapping) else actor, reason=reason, purpose=purpose,
            legal_basis=legal_basis, data_categories=list(data_categories), source_system=source_system,
            default_source=self._default_source, occurred_at=occurred_at, correlation_id=correlation_id,
        )  # fmt: skip
        return self.emit_many(link_events(self._pseudonymiser, identifier, other, **envelope))

    def unlink(
        self, identifier: SubjectIdentifier, other: SubjectIdentifier, *, actor: Actor | Mapping[str, Any],
        reason: str, purpose: str, legal_basis: LegalBasis | str, data_categories: Iterable[str],
        source_system: str | None = None, occurred_at: dt.datetime | None = None, correlation_id: str | None = None,
    ) -> list[UUID]:  # fmt: skip
        """Undo a mistaken :meth:`link`: from then on the two identifiers are separate subjects again."""
        envelope = envelope_of(
            actor=dict(actor) if isinstance(actor, Mapping) else actor, reason=reason, purpose=purpose,
            legal_basis=legal_basis, data_categories=list(data_categories), source_system=source_system,
            default_source=self._default_source, occurred_at=occurred_at, correlation_id=correlation_id,
        )  # fmt: skip
        return self.emit_many(link_events(self._pseudonymiser, identifier, other, unlink=True, **envelope))

    def _send(
        self, key: bytes, value: bytes, headers: Headers, event_id: UUID, serve_mask: int = _SERVE_EVERY_MASK
    ) -> None:
        """Hand one event to librdkafka (or to the spool), in emit order; emit() and emit_many() both send
        through here. Every ``serve_mask + 1``-th event serves the reports that arrived meanwhile."""
        number = next(self._numbers)
        spool = self._spool
        if spool is not None and spool.depth:
            # Events are waiting on disk: this one queues behind them, so no subject's events overtake.
            self._to_spool(spool, number, key, value, headers, event_id)
            return
        report = Report((self, event_id, number, headers))
        try:
            self._produce(self._topic, value, key, headers=headers, on_delivery=report)
        except BufferError:
            self._queue_full(spool, number, key, value, headers, event_id, report)
            return
        self._produced.add()
        if not number & serve_mask:
            # Serve the reports that arrived meanwhile: about this many, each a lock-free count.
            self._poll(0)
            self._served_at = time.monotonic()

    def _queue_full(
        self, spool: Spool | None, number: int, key: bytes, value: bytes, headers: Headers, event_id: UUID, report: Any
    ) -> None:
        if spool is not None:  # librdkafka's memory is full: the disk takes it, emit() does not wait
            self._to_spool(spool, number, key, value, headers, event_id)
            return
        deadline = time.monotonic() + self._settings.emitter.enqueue_timeout_s
        while True:
            self._producer.poll(0.05)
            try:
                self._produce(self._topic, value, key, headers=headers, on_delivery=report)
            except BufferError:
                if time.monotonic() >= deadline:
                    raise EmitQueueFullError(self._settings.emitter.enqueue_timeout_s, len(self._producer)) from None
                continue
            self._produced.add()
            return

    def _to_spool(self, spool: Spool, number: int, key: bytes, value: bytes, headers: Headers, event_id: UUID) -> None:
        options = self._settings.emitter
        wait_s = 0.0 if options.spool_full_policy == "raise" else options.spool_block_timeout_s
        spool.append_when_room(number, key, value, headers, str(event_id), wait_s=wait_s)

    def _on_failure(self, event_id: UUID, number: int, headers: Headers, err: KafkaError, msg: Message) -> None:
        """librdkafka's failure answer for an event emit() produced (on the poller's thread, or flush()'s;
        a confirmation is only counted, by :class:`Report`).

        ``headers`` are the event's own: confluent-kafka gives none with a report (``msg.headers()`` is
        None), and an event spooled without them would go out again without its type header."""
        spool = self._spool
        if spool is not None and err.code() in SPOOL_CODES:
            # Accepted by emit() already: kept even past the spool's bound (logged), never dropped.
            if not spool.has_room(len(msg.value() or b"")):
                logger.warning("spool over its bound: keeping an undeliverable event anyway")
            spool.append(number, msg.key(), msg.value() or b"", headers, str(event_id))
            with self._lock:
                self._answered_badly += 1
            return
        with self._lock:
            self._answered_badly += 1
            self._failed += 1
        error = DeliveryError(str(event_id), self._topic, err.str(), bool(err.retriable()))
        logger.error("audit event not delivered: %s", error)
        if self._on_delivery_error is not None:
            try:
                self._on_delivery_error(error)
            except Exception:
                logger.exception("on_delivery_error callback raised")

    # ---- what a caller reads -----------------------------------------------------------------------------

    def _live_pending(self) -> int:
        # Produced by emit() and not answered yet. Not len(producer): a spooled event being replayed sits in
        # librdkafka too (it is counted as spooled), and librdkafka counts its own queued events there.
        produced = self._produced.value  # read first: a report counted since only lowers the figure
        return max(0, produced - self._confirmed.value - self._answered_badly)

    def flush(self, timeout: float = 10.0) -> int:
        """Wait up to ``timeout`` seconds for delivery, of the spool too; returns the number still unconfirmed."""
        deadline = time.monotonic() + timeout
        self._producer.flush(timeout)
        while self._spool is not None and self._spool.depth and time.monotonic() < deadline:
            time.sleep(0.05)
        self._producer.flush(max(0.0, deadline - time.monotonic()))
        # A replayed event is in librdkafka and in the spool: counted once, as spooled.
        return self._live_pending() + (self._spool.depth if self._spool is not None else 0)

    def persist(self, timeout: float = 5.0) -> int:
        """Make every accepted event durable: delivered, or on disk in the spool. Waits up to ``timeout``
        for delivery, then moves what librdkafka still holds to the spool (where it goes out, in order, once
        the broker answers). Returns how many are neither — 0 with a spool."""
        left = self.flush(timeout)
        if self._spool is None or not left:
            return left
        if len(self._producer):
            self._producer.purge(in_queue=True, in_flight=True, blocking=False)
            self._producer.flush(5.0)  # serves the purge reports, which put each event on disk
        return self._live_pending()

    def close(self, timeout: float = 10.0) -> int:
        """Flush, then stop. What is still undelivered goes to the spool and out on the next start.
        Returns the number left unconfirmed (0 is good; with a spool they are kept, not lost)."""
        if self._closed:
            return 0
        self._closed = True
        left = self.flush(timeout)
        self._stop.set()
        if self._spool is not None:
            self._replayer.join(timeout=self._settings.emitter.delivery_timeout_s + 10)
            if len(self._producer):
                # Still in librdkafka's memory: purged, each comes back through _on_failure into the spool
                # (one that was in flight may also have landed; the consumer drops a repeated event id).
                self._producer.purge(in_queue=True, in_flight=True, blocking=False)
                self._producer.flush(5.0)
            left = self._spool.depth
            self._spool.close()
            if left:
                logger.warning("closing with %d audit events in the spool; they go out on the next start", left)
        self._poller.join(timeout=1.0)
        if left and self._spool is None:
            logger.error("closing with %d audit events unconfirmed", left)
        RETIRED.retire(self, _LIVE.discard)  # the process's counters keep what this emitter counted
        return left

    @property
    def outside_register(self) -> int:
        """Events emitted in ``processing_register.mode = "record"`` although the register does not cover them."""
        return self._preparer.outside_register

    @property
    def stats(self) -> EmitterStats:
        delivered = self._confirmed.value + self._replayed.value
        spooled = self._spool.depth if self._spool is not None else 0
        with self._lock:
            failed = self._failed
        return EmitterStats(self._emitted.value, delivered, failed, self._live_pending(), spooled)

    def __enter__(self) -> AuditEmitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
