"""The SDK's per-event path as it was before it was made cheap (commit 3407707), kept callable so that a
differential test can hold the new path to it: same events accepted, same bytes on the wire, same
field-level errors. Copied, not imported: the point is that it does not change with the code under test.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from io import BytesIO
from typing import Any

from fastavro import schemaless_writer

from pdtrail.schemas import (
    EVENT_CLASS_BY_TYPE,
    ConsentGiven,
    ConsentWithdrawn,
    CreditCheckPerformed,
    InvalidEventError,
    LeadReceived,
    LegalBasis,
    PersonalDataAccessed,
    PersonalDataCollected,
    PersonalDataShared,
    ProcessingEvent,
    ProcessingRegister,
    PseudonymousSubject,
    PublicRegisterLookup,
    SchemaCatalog,
    SubjectChecked,
    SubjectIdentifier,
)

_NOT_CONSENT = "does not rest on consent, so consent cannot be given or withdrawn"


def old_problems(register: ProcessingRegister, event: Any) -> list[tuple[str, str]]:
    data = register._data
    entry = data.purposes.get(event.purpose)
    if entry is None:
        return [("purpose", f"{event.purpose!r} is not a purpose in the processing register {register.version}")]
    found: list[tuple[str, str]] = []
    consent_event = isinstance(event, ConsentGiven | ConsentWithdrawn)
    if consent_event and LegalBasis.CONSENT not in entry.legal_bases:
        found.append(("purpose", f"{event.purpose!r} {_NOT_CONSENT}"))
    elif event.legal_basis not in entry.legal_bases:
        allowed = ", ".join(b.value for b in entry.legal_bases)
        found.append(
            ("legal_basis", f"{event.legal_basis.value!r} is not allowed for {event.purpose!r} (allowed: {allowed})")
        )
    undeclared = [c for c in event.data_categories if c not in entry.categories]
    if undeclared:
        found.append(("data_categories", f"{', '.join(undeclared)} not declared for {event.purpose!r}"))

    def recipient(field: str, party: Any) -> list[tuple[str, str]]:
        if any(data.recipients[r].matches(party) for r in entry.recipients):
            return []
        return [(field, f"{party.name!r} is not a recipient registered for {event.purpose!r}")]

    def source(field: str, party: Any) -> list[tuple[str, str]]:
        if any(data.sources[s].matches(party) for s in entry.sources):
            return []
        return [(field, f"{party.name!r} is not a source registered for {event.purpose!r}")]

    if isinstance(event, PersonalDataShared):
        found += recipient("recipient", event.recipient)
    elif isinstance(event, CreditCheckPerformed):
        found += recipient("bureau", event.bureau)
    elif isinstance(event, SubjectChecked) and event.provider is not None:
        found += source("provider", event.provider)
    elif isinstance(event, LeadReceived):
        found += source("lead_source", event.lead_source)
    elif isinstance(event, PublicRegisterLookup):
        found += source("public_register", event.public_register)
    elif isinstance(event, PersonalDataCollected) and event.source_party is not None:
        found += source("source_party", event.source_party)
    if isinstance(event, ConsentGiven | ConsentWithdrawn) and LegalBasis.CONSENT not in entry.legal_bases:
        # The old check said this a second time (the only known difference; the new path says it once).
        found.append(("purpose", f"{event.purpose!r} {_NOT_CONSENT}"))
    if isinstance(event, PersonalDataAccessed):
        role = data.roles.get(event.actor.role)
        if role is None:
            found.append(("actor.role", f"{event.actor.role!r} is not a role in the processing register"))
        else:
            if event.purpose not in role.purposes:
                found.append(("actor.role", f"{event.actor.role!r} may not access data for {event.purpose!r}"))
            denied = [c for c in event.data_categories if c not in role.categories]
            if denied:
                found.append(("actor.role", f"{event.actor.role!r} may not access {', '.join(denied)}"))
    return found


def old_prepare(
    event: ProcessingEvent | Mapping[str, Any],
    register: ProcessingRegister,
    secret: bytes,
    key_version: int,
    catalog: SchemaCatalog,
) -> tuple[bytes, bytes]:
    """(key, value) as the old emit() put them on the wire; raises InvalidEventError as it did."""
    if not isinstance(event, ProcessingEvent):
        data = dict(event)
        event_class = EVENT_CLASS_BY_TYPE.get(str(data.pop("type", "")))
        if event_class is None:
            raise InvalidEventError("type", f"must be one of {', '.join(EVENT_CLASS_BY_TYPE)}")
        event = event_class(**data)
    problems = old_problems(register, event)
    if problems:
        raise InvalidEventError(problems[0][0], problems[0][1], problems)
    update: dict[str, Any] = {"register_version": register.version}
    if isinstance(event.subject, SubjectIdentifier):
        message = f"{event.subject.kind.value}:{event.subject.value.get_secret_value()}".encode()
        key = hmac.new(secret, message, hashlib.sha256).hexdigest()
        kind = event.subject.kind
        update["subject"] = PseudonymousSubject.model_construct(key=key, key_version=key_version, kind=kind)
    linked = getattr(event, "linked", None)  # a link event's other identifier, keyed the same way
    if isinstance(linked, SubjectIdentifier):
        message = f"{linked.kind.value}:{linked.value.get_secret_value()}".encode()
        key = hmac.new(secret, message, hashlib.sha256).hexdigest()
        update["linked"] = PseudonymousSubject.model_construct(key=key, key_version=key_version, kind=linked.kind)
    checked = event.model_copy(update=update)
    writer = catalog.current(checked.avro_name)
    buf = BytesIO()
    buf.write(b"\xc3\x01")
    buf.write(writer.fingerprint)
    schemaless_writer(buf, writer.parsed, checked.to_avro())
    return checked.subject.key.encode(), buf.getvalue()
