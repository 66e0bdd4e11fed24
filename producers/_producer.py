"""The librdkafka side of the emitter: the producer's options, the callback a delivery is answered with,
what a failed delivery means, and a forked child's inherited producer."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from pdtrail.config import Settings
from pdtrail.errors import ConfigError
from pdtrail.producers._spool import Headers
from pdtrail.schemas import EVENT_CLASS_BY_TYPE

# An audit event that may be lost or reordered is worthless; these are not the caller's to weaken.
_GUARANTEES = {"enable.idempotence": True, "acks": "all"}
EVENT_TYPE_HEADER = "pdtrail-event-type"
# One header list per event type, built once: librdkafka copies it for each message.
HEADERS: dict[str, Headers] = {t: [(EVENT_TYPE_HEADER, t.encode())] for t in EVENT_CLASS_BY_TYPE}
# Delivery failures that say "not now" rather than "never": the event goes to the spool and out again later.
SPOOL_CODES = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._PURGE_QUEUE,
        KafkaError._PURGE_INFLIGHT,
    }
)


def producer_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    """librdkafka producer options: pdtrail's defaults, then the configured pass-through options.

    The defaults are tuned for many small events from a request path: ``linger.ms`` 5 (at most 5 ms more
    latency to the broker, batches of hundreds of events under load), ``batch.size`` 1 MiB, lz4 (cheap
    on the CPU, and the events share most of their bytes).
    """
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "client.id": "pdtrail-emitter",
        "linger.ms": 5,
        "batch.size": 1024 * 1024,
        "compression.type": "lz4",
        "message.timeout.ms": int(settings.emitter.delivery_timeout_s * 1000),
        **_GUARANTEES,
    }
    config.update(settings.kafka.producer)
    config.update(extra)
    if str(config["enable.idempotence"]).lower() not in ("true", "1"):
        raise ConfigError("PDTRAIL_KAFKA__PRODUCER", "enable.idempotence must stay true for an audit trail")
    if str(config["acks"]).lower() not in ("all", "-1"):  # librdkafka reads -1 as all
        raise ConfigError("PDTRAIL_KAFKA__PRODUCER", "acks must stay all for an audit trail")
    if str(config.get("delivery.report.only.error", False)).lower() in ("true", "1"):
        # Every confirmation counts (delivered, and the spool's rows leave on it).
        raise ConfigError("PDTRAIL_KAFKA__PRODUCER", "delivery.report.only.error cannot be used with pdtrail")
    return config


def never_destroy(inherited: Producer) -> None:
    """Keep the parent's producer, inherited by a forked child, from ever being destroyed in the child.

    Its librdkafka threads did not come across the fork, but its locks did, in whatever state those threads
    left them: destroying it waits on a lock that no thread will release (seen: a forked child hung for
    good in ``Producer_dealloc`` when the first emit replaced it). One extra reference that is never
    dropped, not even when the interpreter exits, costs the child that copy's memory and nothing else.
    """
    import ctypes  # only a forked child needs it

    ctypes.pythonapi.Py_IncRef(ctypes.py_object(inherited))


class Report(tuple[Any, ...]):
    """The callback librdkafka answers one produced event with: (emitter, event id, emit number, headers).

    A tuple that is called, so that an event waiting for its answer holds one object the garbage collector
    tracks; a partial of the bound method held three (itself, its arguments, the method), and librdkafka
    holds hundreds between two serves. Measured in 50,000 emit() calls: 103-128 collections with the
    partial, 38-40 with this."""

    __slots__ = ()

    def __call__(self, err: KafkaError | None, msg: Message[bytes, bytes]) -> None:
        if err is None:
            self[0]._confirmed.add()  # the common case: one lock-free count
            return
        self[0]._on_failure(self[1], self[2], self[3], err, msg)
