"""Errors the SDK raises to the service that emits."""

from __future__ import annotations

from pdtrail.errors import PdtrailError, RetryableError
from pdtrail.schemas.exceptions import InvalidEventError


class EmitterClosedError(PdtrailError):
    """emit() was called after close()."""


class EmitQueueFullError(RetryableError):
    """The local queue stayed full for ``timeout_s``: the broker is too slow or unreachable.

    Nothing was sent; the caller still holds the event and may retry.
    """

    def __init__(self, timeout_s: float, pending: int) -> None:
        self.timeout_s = timeout_s
        self.pending = pending
        super().__init__(f"local queue full for {timeout_s}s with {pending} events pending delivery")


class SpoolFullError(RetryableError):
    """The on-disk spool is at its bound (``emitter.spool_max_bytes``) and the broker still does not take
    events. Nothing was sent or kept; the caller still holds the event. Never a silent drop."""

    def __init__(self, max_bytes: int, spooled: int, waited_s: float) -> None:
        self.max_bytes = max_bytes
        self.spooled = spooled
        self.waited_s = waited_s
        super().__init__(f"spool full ({spooled} events, bound {max_bytes} bytes) after waiting {waited_s:.1f}s")


class DeliveryError(PdtrailError):
    """The broker refused an event. Passed to the on_delivery_error callback; emit() never raises it."""

    def __init__(self, event_id: str, topic: str, reason: str, retriable: bool) -> None:
        self.event_id = event_id
        self.topic = topic
        self.reason = reason
        self.retriable = retriable
        super().__init__(f"event {event_id} not delivered to {topic}: {reason}")


__all__ = ["DeliveryError", "EmitQueueFullError", "EmitterClosedError", "InvalidEventError", "SpoolFullError"]
