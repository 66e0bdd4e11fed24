"""A decoded event as a row of the ``events`` table (infra/clickhouse/migrations)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pdtrail.schemas import (
    ConsentGiven,
    ConsentWithdrawn,
    CreditCheckPerformed,
    DataErased,
    DataRectified,
    ErasureRefused,
    IdentifiersCollected,
    LeadReceived,
    MarketingSent,
    Party,
    PersonalDataAccessed,
    PersonalDataCollected,
    PersonalDataShared,
    ProcessingEvent,
    ProcessingRestricted,
    PseudonymousSubject,
    PublicRegisterLookup,
    RestrictionLifted,
    RetentionExpired,
    RightsRequestAnswered,
    RightsRequestReceived,
    SchemaVersion,
    SubjectChecked,
)
from pdtrail.schemas._events import LINK_EVENT_CLASSES
from pdtrail.store._columns import COLUMNS, LATER_COLUMNS

__all__ = ["COLUMNS", "LATER_COLUMNS", "event_row"]


def _party(party: Party | None, role: str = "") -> dict[str, str]:
    if party is None:
        return {}
    return {
        "party_name": party.name,
        "party_org_no": party.organisation_number or "",
        "party_country": party.country,
        "party_role": role,
    }


def _specific(event: ProcessingEvent) -> dict[str, Any]:
    if isinstance(event, PersonalDataCollected):
        return {"collection_source": event.source.value, **_party(event.source_party)}
    if isinstance(event, PersonalDataAccessed):
        return {"access_kind": event.access_kind.value, "resource": event.resource}
    if isinstance(event, PersonalDataShared):
        return _party(event.recipient, event.recipient_role.value)
    if isinstance(event, CreditCheckPerformed):
        outcome = event.outcome.value if event.outcome else ""
        return {**_party(event.bureau), "reference": event.reference, "outcome": outcome}
    if isinstance(event, RightsRequestReceived):
        return {"gdpr_right": event.right.value, "reference": event.request_id, "action": "received"}
    if isinstance(event, RightsRequestAnswered):
        return {
            "gdpr_right": event.right.value,
            "reference": event.request_id,
            "action": "answered",
            "outcome": event.outcome.value,
            "reason": event.reason or "",
        }
    if isinstance(event, ConsentGiven):
        return {"reference": event.consent_text or ""}
    if isinstance(event, ConsentWithdrawn | DataRectified | DataErased):
        return {"reference": event.request_id or ""}
    if isinstance(event, ProcessingRestricted | RestrictionLifted):
        return {"reference": event.request_id or "", "reason": event.reason or ""}
    if isinstance(event, ErasureRefused):
        return {"reference": event.request_id or "", "reason": event.legal_ground}
    if isinstance(event, RetentionExpired):
        return {"action": event.disposal.value}
    if isinstance(event, SubjectChecked):
        return {**_party(event.provider), "action": event.check.value, "outcome": event.outcome.value}
    if isinstance(event, LeadReceived):
        return {
            **_party(event.lead_source),
            "collection_source": "third_party_lead",
            "reference": event.reference or "",
        }
    if isinstance(event, PublicRegisterLookup):
        return {
            **_party(event.public_register),
            "collection_source": "public_register",
            "reference": event.reference or "",
        }
    if isinstance(event, MarketingSent):
        return {"action": event.channel.value, "reference": event.campaign}
    if isinstance(event, LINK_EVENT_CLASSES):
        linked = event.linked
        assert isinstance(linked, PseudonymousSubject)  # decoded events always are
        # The other key in reference, its kind in action; its key version is the subject's (the model's rule).
        return {"reference": linked.key, "action": linked.kind.value, "reason": event.reason}
    if isinstance(event, IdentifiersCollected):
        return {"resource": ", ".join(event.identifiers)}
    raise TypeError(f"no row mapping for {type(event).__name__}")


def event_row(
    event: ProcessingEvent, schema: SchemaVersion, topic: str, partition: int, offset: int, ingested_at: dt.datetime
) -> list[Any]:
    subject = event.subject
    assert isinstance(subject, PseudonymousSubject)  # decoded events always are
    values: dict[str, Any] = {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "occurred_at": event.occurred_at,
        "subject_key": subject.key,
        "subject_key_version": subject.key_version,
        "subject_kind": subject.kind.value,
        "actor_type": event.actor.type.value,
        "actor_id": event.actor.id,
        "actor_role": event.actor.role,
        "purpose": event.purpose,
        "legal_basis": event.legal_basis.value,
        "data_categories": list(event.data_categories),
        "source_system": event.source_system,
        "correlation_id": event.correlation_id or "",
        "register_version": event.register_version or "",
        "schema_name": schema.name,
        "schema_version": schema.version,
        "kafka_topic": topic,
        "kafka_partition": partition,
        "kafka_offset": offset,
        "ingested_at": ingested_at,
        **_specific(event),
    }
    return [values.get(column, "") for column in COLUMNS]
