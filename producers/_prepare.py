"""The first half of emit(): an event checked against the processing register, pseudonymised and encoded.

What comes out is what librdkafka takes (key, value, headers) and the event id, so that a batch can be
checked and encoded whole before any of it is sent. Nothing here touches Kafka or the spool.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from pdtrail.producers._links import with_linked_pseudonymised
from pdtrail.producers._producer import HEADERS
from pdtrail.producers._pseudonym import Pseudonymiser
from pdtrail.producers._spool import Headers
from pdtrail.schemas import (
    EVENT_CLASS_BY_TYPE,
    EventCodec,
    InvalidEventError,
    ProcessingEvent,
    ProcessingRegister,
    SubjectIdentifier,
)
from pdtrail.schemas._time_bounds import ClockWindow, TimeBounds

logger = logging.getLogger("pdtrail.producers")

Prepared = tuple[bytes, bytes, Headers, UUID]  # key, value, headers, event id


class Preparer:
    """Checks, pseudonymises and encodes events for one emitter (its settings, register and key)."""

    def __init__(
        self,
        pseudonymiser: Pseudonymiser,
        codec: EventCodec,
        register: ProcessingRegister,
        bounds: TimeBounds,
        *,
        enforce: bool,
        default_source: str | None,
    ) -> None:
        self._pseudonymiser = pseudonymiser
        self._codec = codec
        self._register = register
        self._bounds = bounds
        self._window = ClockWindow(register, bounds)
        self._enforce = enforce
        self._default_source = default_source
        self._lock = threading.Lock()
        self._outside_register = 0

    @property
    def outside_register(self) -> int:
        with self._lock:
            return self._outside_register

    def coerce(self, event: ProcessingEvent | Mapping[str, Any]) -> ProcessingEvent:
        if isinstance(event, ProcessingEvent):
            return event  # validated when it was built; frozen since
        data = dict(event)
        if self._default_source and "source_system" not in data:
            data["source_system"] = self._default_source
        event_class = EVENT_CLASS_BY_TYPE.get(str(data.pop("type", "")))
        if event_class is None:
            raise InvalidEventError("type", f"must be one of {', '.join(EVENT_CLASS_BY_TYPE)}")
        return event_class(**data)

    def prepare(self, event: ProcessingEvent | Mapping[str, Any]) -> Prepared:
        """Check, pseudonymise and encode one event; raises InvalidEventError naming every bad field."""
        checked = event if isinstance(event, ProcessingEvent) else self.coerce(event)
        checked = with_linked_pseudonymised(checked, self._pseudonymiser)
        problems = self._register.problems(checked, bounds=self._bounds, window=self._window)
        if problems:
            self._outside(checked, problems)
        subject = checked.subject
        if isinstance(subject, SubjectIdentifier):
            subject = self._pseudonymiser.pseudonymise(subject)
        value = self._codec.encode_as(checked, subject, self._register.version)
        return subject.key.encode(), value, HEADERS[checked.type], checked.event_id

    def _outside(self, event: ProcessingEvent, problems: list[tuple[str, str]]) -> None:
        if self._enforce:
            raise InvalidEventError(problems[0][0], problems[0][1], problems)
        with self._lock:
            self._outside_register += 1
        # Names of fields and register entries only: never a value that could identify the subject.
        reasons = "; ".join(f"{f}: {r}" for f, r in problems)
        logger.warning("event %s is outside the processing register: %s", event.event_id, reasons)

    def register_stamp(self, event: ProcessingEvent) -> dict[str, Any]:
        """Check ``event`` against the processing register; the version it passed (what goes on the event)."""
        problems = self._register.problems(event, bounds=self._bounds, window=self._window)
        if problems:
            self._outside(event, problems)
        return {"register_version": self._register.version}
