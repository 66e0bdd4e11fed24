"""The pdtrail SDK: what an application service imports to record personal-data processing.

    from pdtrail.producers import AuditEmitter, PersonalDataAccessed, Actor, SubjectIdentifier

    with AuditEmitter() as audit:
        audit.emit(PersonalDataAccessed(
            subject=SubjectIdentifier(kind="personnummer", value=pnr),
            actor=Actor(type="employee", id="emp-1042", role="customer_service"),
            purpose="customer_service", legal_basis="contract", data_categories=["contact_details"],
            source_system="crm", access_kind="view", resource="customer-record"))

The raw identifier is pseudonymised here and never leaves the process.
"""

from pdtrail.producers._emitter import AuditEmitter
from pdtrail.producers._metrics import EmitterStats
from pdtrail.producers._producer import producer_config
from pdtrail.producers._pseudonym import Pseudonymiser
from pdtrail.producers.exceptions import (
    DeliveryError,
    EmitQueueFullError,
    EmitterClosedError,
    InvalidEventError,
    SpoolFullError,
)
from pdtrail.schemas import (
    AccessKind,
    Actor,
    ActorType,
    CollectionSource,
    CreditCheckPerformed,
    CreditDecision,
    LegalBasis,
    Party,
    PersonalDataAccessed,
    PersonalDataCollected,
    PersonalDataShared,
    RecipientRole,
    SubjectIdentifier,
    SubjectIdentifiersLinked,
    SubjectIdentifiersUnlinked,
    SubjectKind,
)

__all__ = [
    "AccessKind",
    "Actor",
    "ActorType",
    "AuditEmitter",
    "CollectionSource",
    "CreditCheckPerformed",
    "CreditDecision",
    "DeliveryError",
    "EmitQueueFullError",
    "EmitterClosedError",
    "EmitterStats",
    "InvalidEventError",
    "LegalBasis",
    "Party",
    "PersonalDataAccessed",
    "PersonalDataCollected",
    "PersonalDataShared",
    "Pseudonymiser",
    "RecipientRole",
    "SpoolFullError",
    "SubjectIdentifier",
    "SubjectIdentifiersLinked",
    "SubjectIdentifiersUnlinked",
    "SubjectKind",
    "producer_config",
]
