"""Link events: two identifiers a service holds for one person, pseudonymised here like every subject.

A service keys its events by whatever it holds: a personnummer after a credit check, a customer id in the
CRM, an e-mail for a lead. A link says that two of them are one data subject, so a DPO who searches by any
of them gets the whole person. The link is written in both directions (each key's range in the log holds
it), once per key version the SDK knows, both sides under the same version: a lookup tries every version,
and so the link holds across a key rotation too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from pdtrail.producers._pseudonym import Pseudonymiser
from pdtrail.schemas import (
    Actor,
    LegalBasis,
    ProcessingEvent,
    PseudonymousSubject,
    SubjectIdentifier,
    SubjectIdentifiersLinked,
    SubjectIdentifiersUnlinked,
)
from pdtrail.schemas._events import LINK_EVENT_CLASSES

ALSO_KNOWN_AS_REASON = "given with an event as another identifier of its subject"


def link_events(
    pseudonymiser: Pseudonymiser,
    a: SubjectIdentifier | PseudonymousSubject,
    b: SubjectIdentifier | PseudonymousSubject,
    *,
    unlink: bool = False,
    **envelope: Any,
) -> list[ProcessingEvent]:
    """Two link (or unlink) events per key version, ``a`` to ``b`` and ``b`` to ``a``. ``envelope``
    holds actor, purpose, legal basis, categories, source system, reason and optionally occurred_at."""
    cls = SubjectIdentifiersUnlinked if unlink else SubjectIdentifiersLinked
    if isinstance(a, PseudonymousSubject) or isinstance(b, PseudonymousSubject):
        # Already keyed (one version only): pairs by version are all the SDK can vouch for.
        pairs = [(pseudonymiser.pseudonymise(a) if isinstance(a, SubjectIdentifier) else a,
                  pseudonymiser.pseudonymise(b) if isinstance(b, SubjectIdentifier) else b)]  # fmt: skip
    else:
        pairs = list(zip(pseudonymiser.every_version(a), pseudonymiser.every_version(b), strict=True))
    occurred_at = envelope.pop("occurred_at", None) or dt.datetime.now(dt.UTC)
    # Both directions: each key's own range in the log then holds the link, and a lookup finds it there.
    both = [(s, o) for pair in pairs for s, o in (pair, pair[::-1])]
    return [cls(subject=s, linked=o, occurred_at=occurred_at, **envelope) for s, o in both]


def envelope_of(
    *, actor: Actor | dict[str, Any], reason: str, purpose: str, legal_basis: LegalBasis | str,
    data_categories: Sequence[str], source_system: str | None, default_source: str | None,
    occurred_at: dt.datetime | None, correlation_id: str | None,
) -> dict[str, Any]:  # fmt: skip
    source = source_system or default_source
    envelope: dict[str, Any] = {
        "actor": actor, "reason": reason, "purpose": purpose, "legal_basis": legal_basis,
        "data_categories": tuple(data_categories), "occurred_at": occurred_at, "correlation_id": correlation_id,
    }  # fmt: skip
    if source is not None:
        envelope["source_system"] = source
    return envelope


def also_known_as_events(
    pseudonymiser: Pseudonymiser, event: ProcessingEvent, others: Iterable[SubjectIdentifier]
) -> list[ProcessingEvent]:
    """The links an event's ``also_known_as`` asks for: its subject to each other identifier, with the
    event's own actor, purpose, legal basis, categories, source system and time."""
    envelope = {
        "actor": event.actor, "purpose": event.purpose, "legal_basis": event.legal_basis,
        "data_categories": event.data_categories, "source_system": event.source_system,
        "correlation_id": event.correlation_id, "occurred_at": event.occurred_at, "reason": ALSO_KNOWN_AS_REASON,
    }  # fmt: skip
    found: list[ProcessingEvent] = []
    for other in others:
        found += link_events(pseudonymiser, event.subject, other, **envelope)
    return found


def with_linked_pseudonymised(event: ProcessingEvent, pseudonymiser: Pseudonymiser) -> ProcessingEvent:
    """A link event built by the service with the other identifier raw: keyed here, never sent as it is."""
    if type(event) in LINK_EVENT_CLASSES:
        linked = event.linked
        if isinstance(linked, SubjectIdentifier):
            subject = event.subject
            version = subject.key_version if isinstance(subject, PseudonymousSubject) else None
            keyed = pseudonymiser.pseudonymise(linked, version=version)
            return event.model_copy(update={"linked": keyed})
    return event
