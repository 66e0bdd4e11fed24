"""The typed processing events: one pydantic model per Avro event schema.

A service builds an event with the raw identifier of the data subject (:class:`SubjectIdentifier`);
the SDK swaps it for a :class:`PseudonymousSubject` before anything is encoded. Decoded events always
carry the pseudonymous form. Errors never echo input values (``hide_input_in_errors``): an invalid
personnummer must not end up in a log line through its own error message.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal, Self
from uuid import UUID, uuid4

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from pdtrail.schemas._identifiers import (
    looks_like_personal_identifier,
    normalise_identifier,
    normalise_organisation_number,
)
from pdtrail.schemas._vocabulary import (
    AccessKind,
    ActorRole,
    ActorType,
    CollectionSource,
    CountryCode,
    CreditDecision,
    DataCategory,
    Label,
    LegalBasis,
    Purpose,
    RecipientRole,
    SubjectKind,
)
from pdtrail.schemas.exceptions import InvalidEventError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    def __init__(self, **data: Any) -> None:
        # One error type for the caller, naming every bad field, whichever model found it; a nested
        # model's InvalidEventError is unfolded again by InvalidEventError.from_validation_error.
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidEventError.from_validation_error(exc) from None


def _no_personal_identifier(value: str) -> str:
    if looks_like_personal_identifier(value):
        raise ValueError("looks like an e-mail address or personnummer; use a pseudonymous id or a label")
    return value


SafeLabel = Annotated[Label, AfterValidator(_no_personal_identifier)]


class SubjectIdentifier(_Model):
    """A data subject as the service knows them. The value is normalised and kept secret (not in repr)."""

    kind: SubjectKind
    value: SecretStr

    @field_validator("value")
    @classmethod
    def _normalise(cls, value: SecretStr, info: Any) -> SecretStr:
        kind = info.data.get("kind")
        if kind is None:
            return value
        return SecretStr(normalise_identifier(kind, value.get_secret_value()))


class PseudonymousSubject(_Model):
    """A data subject as the log knows them: HMAC-SHA256 key in hex and the version of its secret."""

    key: str = Field(pattern=r"^[0-9a-f]{64}$")
    key_version: int = Field(ge=1, le=65535)
    kind: SubjectKind


class Actor(_Model):
    """Who processed the data: an employee (by employee number), a service, a processor, the subject."""

    type: ActorType
    id: SafeLabel
    role: ActorRole


class Party(_Model):
    """An organisation. Swedish ones (country SE) must give a valid organisationsnummer."""

    name: SafeLabel
    country: CountryCode
    # validate_default: a Swedish party that leaves it out is caught by the validator below, by name.
    organisation_number: str | None = Field(None, validate_default=True)

    @field_validator("organisation_number")
    @classmethod
    def _valid_in_sweden(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("country") != "SE":
            return value
        if value is None:
            raise ValueError("required for a Swedish (SE) party")
        return normalise_organisation_number(value)


def _avro_value(value: Any) -> Any:
    # Plain values first: isinstance against BaseModel goes through ABCMeta and is slow.
    if value is None or isinstance(value, str | int | dt.datetime):
        return value  # str enums included: fastavro takes them as their symbol
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, UUID):
        return str(value)
    return {k: _avro_value(v) for k, v in value.__dict__.items()}  # a nested model


def _subject_form(value: Any) -> str:
    if isinstance(value, PseudonymousSubject) or (isinstance(value, dict) and "key" in value):
        return "pseudonym"
    return "identifier"


def _utc_micros(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


class ProcessingEvent(_Model):
    """The envelope every event carries. Use one of the concrete event classes."""

    avro_name: ClassVar[str]
    ENVELOPE_FIELDS: ClassVar[tuple[str, ...]] = (
        "event_id",
        "occurred_at",
        "subject",
        "actor",
        "purpose",
        "legal_basis",
        "data_categories",
        "source_system",
        "correlation_id",
    )

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: Annotated[AwareDatetime, AfterValidator(_utc_micros)] = Field(
        default_factory=lambda: dt.datetime.now(dt.UTC)
    )
    subject: Annotated[
        Annotated[SubjectIdentifier, Tag("identifier")] | Annotated[PseudonymousSubject, Tag("pseudonym")],
        Discriminator(_subject_form),
    ]
    actor: Actor
    purpose: Purpose
    legal_basis: LegalBasis
    data_categories: tuple[DataCategory, ...] = Field(min_length=1, max_length=32)
    source_system: SafeLabel
    correlation_id: SafeLabel | None = None

    @field_validator("data_categories")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists a category twice")
        return value

    @property
    def event_type(self) -> str:
        return str(getattr(self, "type"))  # noqa: B009 - set by each concrete class

    def to_avro(self) -> dict[str, Any]:
        """The Avro record for this event; the subject must already be pseudonymous."""
        if not isinstance(self.subject, PseudonymousSubject):
            raise ValueError("subject must be pseudonymised before encoding")
        # By hand rather than model_dump(): this runs for every emitted event, at a third of the cost.
        fields = self.__dict__
        envelope = {name: _avro_value(fields[name]) for name in self.ENVELOPE_FIELDS}
        specific = {k: _avro_value(v) for k, v in fields.items() if k != "type" and k not in _ENVELOPE}
        return {"envelope": envelope, **specific}

    @classmethod
    def from_avro(cls, record: dict[str, Any]) -> Self:
        fields = dict(record)
        envelope = fields.pop("envelope")
        try:
            return cls.model_validate({**envelope, **fields})
        except ValidationError as exc:
            raise InvalidEventError.from_validation_error(exc) from None


class PersonalDataCollected(ProcessingEvent):
    """Personal data entered the company's systems from ``source`` (``source_party``: which third party)."""

    avro_name: ClassVar[str] = "pdtrail.PersonalDataCollected"
    type: Literal["personal_data.collected"] = "personal_data.collected"
    source: CollectionSource
    source_party: Party | None = None


class PersonalDataAccessed(ProcessingEvent):
    """An actor read or changed the subject's data (``resource`` names what was opened)."""

    avro_name: ClassVar[str] = "pdtrail.PersonalDataAccessed"
    type: Literal["personal_data.accessed"] = "personal_data.accessed"
    access_kind: AccessKind
    resource: SafeLabel


class PersonalDataShared(ProcessingEvent):
    """Personal data was disclosed to ``recipient`` acting as ``recipient_role``."""

    avro_name: ClassVar[str] = "pdtrail.PersonalDataShared"
    type: Literal["personal_data.shared"] = "personal_data.shared"
    recipient: Party
    recipient_role: RecipientRole


class CreditCheckPerformed(ProcessingEvent):
    """A credit report was obtained from ``bureau`` under the bureau's ``reference``."""

    avro_name: ClassVar[str] = "pdtrail.CreditCheckPerformed"
    type: Literal["credit_check.performed"] = "credit_check.performed"
    bureau: Party
    reference: SafeLabel
    outcome: CreditDecision | None = None


_ENVELOPE = frozenset(ProcessingEvent.ENVELOPE_FIELDS)
EVENT_CLASSES: tuple[type[ProcessingEvent], ...] = (
    PersonalDataCollected,
    PersonalDataAccessed,
    PersonalDataShared,
    CreditCheckPerformed,
)
AnyEvent = Annotated[
    PersonalDataCollected | PersonalDataAccessed | PersonalDataShared | CreditCheckPerformed,
    Field(discriminator="type"),
]
EVENT_CLASS_BY_AVRO_NAME = {cls.avro_name: cls for cls in EVENT_CLASSES}
EVENT_CLASS_BY_TYPE: dict[str, type[ProcessingEvent]] = {cls.model_fields["type"].default: cls for cls in EVENT_CLASSES}
EVENT_TYPES = tuple(EVENT_CLASS_BY_TYPE)
