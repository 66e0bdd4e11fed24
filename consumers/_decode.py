"""One message at a time: the slow path, and the reference for what is poison and why.

Every message the columnar path cannot vouch for comes here: decoded with fastavro, validated by the
event models, mapped to a row; or judged poison with its reason (``oversized``, ``undecodable``,
``unknown_schema``, ``invalid``). The differential test holds the columnar path to these answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pdtrail.consumers._rows import event_row
from pdtrail.schemas import EventCodec, InvalidEventError, UndecodableMessageError, UnknownSchemaError
from pdtrail.schemas._free_text import is_identifier_refusal


@dataclass(frozen=True)
class Poison:
    """A message for the dead-letter topic: ``error`` is the kind, ``reason`` says why (never the value)."""

    message: Any
    reason: str
    error: str


# A check of one decoded message's free text: the reason to refuse it, or None. Wired by the caller
# (e.g. ``identifier_in_clear``); it runs on the slow path only, for the messages a bytes-level
# pre-filter (``Prefilter``) sends there.
TextCheck = Callable[[Any], str | None]
OUTSIDE_WINDOW = (
    "outside the time window accepted at ingest "
    "(time_bounds: the register's longest retention plus slack, a small future skew)"
)


def judge(
    codec: EventCodec,
    message: Any,
    *,
    topic: str,
    partition: int,
    offset: int,
    received: dt.datetime,
    max_event_bytes: int,
    text_check: TextCheck | None = None,
    window: tuple[dt.datetime, dt.datetime] | None = None,
) -> list[Any] | Poison:
    """The row of one message, or why it is poison. ``window``: the earliest and latest ``occurred_at``
    accepted (the SDK's time bounds, judged at ``received``)."""
    value = message.value()
    if value is not None and len(value) > max_event_bytes:
        return Poison(
            message, f"message of {len(value)} bytes is above max_event_bytes ({max_event_bytes})", "oversized"
        )
    try:
        event, schema = codec.decode_versioned(value)
    except UnknownSchemaError as exc:
        return Poison(message, exc.reason, "unknown_schema")
    except UndecodableMessageError as exc:
        return Poison(message, exc.reason, "undecodable")
    except InvalidEventError as exc:
        kind = "identifier_in_clear" if any(is_identifier_refusal(r) for _, r in exc.problems) else "invalid"
        return Poison(message, "; ".join(f"{f}: {r}" for f, r in exc.problems), kind)
    if window is not None and not window[0] <= event.occurred_at <= window[1]:
        return Poison(message, f"occurred_at: {OUTSIDE_WINDOW}", "invalid")
    if text_check is not None:
        refused = text_check(event)
        if refused is not None:
            return Poison(message, refused, "identifier_in_clear")
    return event_row(event, schema, topic, partition, offset, received)
