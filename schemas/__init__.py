"""The contract between services and the log: Avro schemas, typed event models, the wire codec.

Schemas are files: ``avro/`` as edited, ``history/`` as released (see :mod:`pdtrail.schemas._catalog`).
``python -m pdtrail.schemas freeze`` releases edited schemas; ``check`` tells whether any are unreleased.
"""

from pdtrail.schemas._catalog import SchemaCatalog, SchemaVersion
from pdtrail.schemas._events import (
    EVENT_CLASS_BY_TYPE,
    EVENT_CLASSES,
    EVENT_TYPES,
    Actor,
    AnyEvent,
    CreditCheckPerformed,
    Party,
    PersonalDataAccessed,
    PersonalDataCollected,
    PersonalDataShared,
    ProcessingEvent,
    PseudonymousSubject,
    SubjectIdentifier,
)
from pdtrail.schemas._identifiers import guess_subject_kind, normalise_identifier
from pdtrail.schemas._vocabulary import (
    AccessKind,
    ActorType,
    CollectionSource,
    CreditDecision,
    LegalBasis,
    RecipientRole,
    SubjectKind,
)
from pdtrail.schemas._wire import EventCodec
from pdtrail.schemas.exceptions import (
    InvalidEventError,
    SchemaCompatibilityError,
    UndecodableMessageError,
    UnknownSchemaError,
)

__all__ = [
    "EVENT_CLASSES",
    "EVENT_CLASS_BY_TYPE",
    "EVENT_TYPES",
    "AccessKind",
    "Actor",
    "ActorType",
    "AnyEvent",
    "CollectionSource",
    "CreditCheckPerformed",
    "CreditDecision",
    "EventCodec",
    "InvalidEventError",
    "LegalBasis",
    "Party",
    "PersonalDataAccessed",
    "PersonalDataCollected",
    "PersonalDataShared",
    "ProcessingEvent",
    "PseudonymousSubject",
    "RecipientRole",
    "SchemaCatalog",
    "SchemaCompatibilityError",
    "SchemaVersion",
    "SubjectIdentifier",
    "SubjectKind",
    "UndecodableMessageError",
    "UnknownSchemaError",
    "guess_subject_kind",
    "normalise_identifier",
]
