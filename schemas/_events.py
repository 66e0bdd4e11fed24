"""The typed processing events: one pydantic model per Avro event schema.

A service builds an event with the raw identifier of the data subject (:class:`SubjectIdentifier`);
the SDK swaps it for a :class:`PseudonymousSubject` before anything is encoded. Decoded events always
carry the pseudonymous form. Errors never echo input values (``hide_input_in_errors``): an invalid
personnummer must not end up in a log line through its own error message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar
from uuid import UUID

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

from pdtrail.schemas._free_text import (
    ActorIdText,
    CheckedIdentifier,
    CookieName,
    FreeText,
    IdText,
    PartyName,
    PathText,
    RegisterVersionText,
    RoleIdentifier,
    foreign_organisation_number,
)
from pdtrail.schemas._identifiers import normalise_identifier, normalise_organisation_number
from pdtrail.schemas._uuid7 import uuid7
from pdtrail.schemas._vocabulary import (
    AccessKind,
    ActorType,
    CheckKind,
    CheckOutcome,
    CollectionSource,
    CountryCode,
    CreditDecision,
    Disposal,
    GdprRight,
    LegalBasis,
    MarketingChannel,
    RecipientRole,
    RequestOutcome,
    SubjectKind,
)
from pdtrail.schemas.exceptions import InvalidEventError

_T = TypeVar("_T")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    def __init__(self, /, **data: Any) -> None:  # positional-only: a field called "self" is refused, not a crash
        # One error type for the caller, naming every bad field, whichever model found it; a nested
        # model's InvalidEventError is unfolded again by InvalidEventError.from_validation_error.
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidEventError.from_validation_error(exc) from None

    # Marked as pydantic's own __init__: a model nested in an event is then validated by pydantic-core
    # directly instead of through this method (2.4 nested models per event: building one took 17.0-17.7
    # µs of CPU with it, 13.3-14.1 without), and its errors reach the outer __init__ with their full path,
    # as they did unfolded. pydantic-core no longer calls it from model_validate*, so those convert too.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        return _one_error_type(lambda: super(_Model, cls).model_validate(obj, **options))

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        return _one_error_type(lambda: super(_Model, cls).model_validate_json(json_data, **options))

    @classmethod
    def model_validate_strings(cls, obj: Any, **options: Any) -> Self:
        return _one_error_type(lambda: super(_Model, cls).model_validate_strings(obj, **options))


def _one_error_type(validate: Callable[[], _T]) -> _T:
    """pydantic's ValidationError as the caller's InvalidEventError (as ``_Model.__init__`` does inline)."""
    try:
        return validate()
    except ValidationError as exc:
        raise InvalidEventError.from_validation_error(exc) from None


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
    id: ActorIdText
    role: RoleIdentifier


class Party(_Model):
    """An organisation. Swedish ones (country SE) must give a valid organisationsnummer."""

    name: PartyName
    country: CountryCode
    # validate_default: a Swedish party that leaves it out is caught by the validator below, by name.
    organisation_number: str | None = Field(None, validate_default=True)

    @field_validator("organisation_number")
    @classmethod
    def _valid_in_sweden(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("country") != "SE":
            return None if value is None else foreign_organisation_number(value, info)
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
        "register_version",
    )

    event_id: UUID = Field(default_factory=uuid7)  # time-ordered: RFC 9562 v7
    occurred_at: Annotated[AwareDatetime, AfterValidator(_utc_micros)] = Field(
        default_factory=lambda: dt.datetime.now(dt.UTC)
    )
    subject: Annotated[
        Annotated[SubjectIdentifier, Tag("identifier")] | Annotated[PseudonymousSubject, Tag("pseudonym")],
        Discriminator(_subject_form),
    ]
    actor: Actor
    purpose: CheckedIdentifier
    legal_basis: LegalBasis
    data_categories: tuple[CheckedIdentifier, ...] = Field(min_length=1, max_length=32)
    source_system: IdText
    correlation_id: IdText | None = None
    # Set by the SDK once the event has passed the processing register (pdtrail.schemas.ProcessingRegister).
    register_version: RegisterVersionText | None = None

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
    resource: PathText


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
    reference: IdText
    outcome: CreditDecision | None = None


class RightsRequestReceived(ProcessingEvent):
    """The subject asked to exercise ``right``; ``request_id`` is the case number its answer will carry."""

    avro_name: ClassVar[str] = "pdtrail.RightsRequestReceived"
    type: Literal["rights_request.received"] = "rights_request.received"
    right: GdprRight
    request_id: IdText


class RightsRequestAnswered(ProcessingEvent):
    """The request ``request_id`` was fulfilled, refused or its deadline extended; the last two need a reason."""

    avro_name: ClassVar[str] = "pdtrail.RightsRequestAnswered"
    type: Literal["rights_request.answered"] = "rights_request.answered"
    right: GdprRight
    request_id: IdText
    outcome: RequestOutcome
    reason: FreeText | None = Field(None, validate_default=True)

    @field_validator("reason")
    @classmethod
    def _reason_when_not_fulfilled(cls, value: str | None, info: ValidationInfo) -> str | None:
        outcome = info.data.get("outcome")
        if value is None and outcome in (RequestOutcome.REFUSED, RequestOutcome.EXTENDED):
            raise ValueError(f"is required when the outcome is {outcome.value}")
        return value


class _ConsentEvent(ProcessingEvent):
    @field_validator("legal_basis")
    @classmethod
    def _consent_basis(cls, value: LegalBasis) -> LegalBasis:
        if value is not LegalBasis.CONSENT:
            raise ValueError("must be 'consent' for a consent being given or withdrawn")
        return value


class ConsentGiven(_ConsentEvent):
    """The subject consented to ``purpose`` (the envelope's); ``consent_text`` names the wording agreed to."""

    avro_name: ClassVar[str] = "pdtrail.ConsentGiven"
    type: Literal["consent.given"] = "consent.given"
    consent_text: FreeText | None = None


class ConsentWithdrawn(_ConsentEvent):
    """The subject withdrew consent for ``purpose`` (the envelope's)."""

    avro_name: ClassVar[str] = "pdtrail.ConsentWithdrawn"
    type: Literal["consent.withdrawn"] = "consent.withdrawn"
    request_id: IdText | None = None


class DataRectified(ProcessingEvent):
    """Inaccurate data in ``data_categories`` was corrected."""

    avro_name: ClassVar[str] = "pdtrail.DataRectified"
    type: Literal["data.rectified"] = "data.rectified"
    request_id: IdText | None = None


class ProcessingRestricted(ProcessingEvent):
    """Processing of the subject's data was restricted (GDPR Art. 18) until a :class:`RestrictionLifted`."""

    avro_name: ClassVar[str] = "pdtrail.ProcessingRestricted"
    type: Literal["processing.restricted"] = "processing.restricted"
    request_id: IdText | None = None
    reason: FreeText | None = None


class RestrictionLifted(ProcessingEvent):
    avro_name: ClassVar[str] = "pdtrail.RestrictionLifted"
    type: Literal["restriction.lifted"] = "restriction.lifted"
    request_id: IdText | None = None
    reason: FreeText | None = None


class DataErased(ProcessingEvent):
    """The subject's data in ``data_categories`` was erased."""

    avro_name: ClassVar[str] = "pdtrail.DataErased"
    type: Literal["data.erased"] = "data.erased"
    request_id: IdText | None = None


class ErasureRefused(ProcessingEvent):
    """Erasure of ``data_categories`` was refused on ``legal_ground`` (GDPR Art. 17(3))."""

    avro_name: ClassVar[str] = "pdtrail.ErasureRefused"
    type: Literal["erasure.refused"] = "erasure.refused"
    request_id: IdText | None = None
    legal_ground: FreeText


class RetentionExpired(ProcessingEvent):
    """The retention period of ``data_categories`` for ``purpose`` ended; the data was disposed of."""

    avro_name: ClassVar[str] = "pdtrail.RetentionExpired"
    type: Literal["retention.expired"] = "retention.expired"
    disposal: Disposal


class SubjectChecked(ProcessingEvent):
    """An identity, age or address check before a contract, by the company or by ``provider``."""

    avro_name: ClassVar[str] = "pdtrail.SubjectChecked"
    type: Literal["subject.checked"] = "subject.checked"
    check: CheckKind
    outcome: CheckOutcome
    provider: Party | None = None


class LeadReceived(ProcessingEvent):
    """A company the person contacted (``lead_source``) passed on their details."""

    avro_name: ClassVar[str] = "pdtrail.LeadReceived"
    type: Literal["lead.received"] = "lead.received"
    lead_source: Party
    reference: IdText | None = None


class PublicRegisterLookup(ProcessingEvent):
    """The subject's data was looked up in ``public_register`` (e.g. a public address register)."""

    avro_name: ClassVar[str] = "pdtrail.PublicRegisterLookup"
    type: Literal["public_register.looked_up"] = "public_register.looked_up"
    public_register: Party
    reference: IdText | None = None


class MarketingSent(ProcessingEvent):
    avro_name: ClassVar[str] = "pdtrail.MarketingSent"
    type: Literal["marketing.sent"] = "marketing.sent"
    channel: MarketingChannel
    campaign: FreeText


class IdentifiersCollected(ProcessingEvent):
    """Cookies or other electronic identifiers were set or read: their names, never their values."""

    avro_name: ClassVar[str] = "pdtrail.IdentifiersCollected"
    type: Literal["identifiers.collected"] = "identifiers.collected"
    identifiers: tuple[CookieName, ...] = Field(min_length=1, max_length=32)


class _LinkEvent(ProcessingEvent):
    """Two identifiers a service holds for one person (a personnummer after a credit check, a customer id in
    the CRM, an e-mail for a lead). ``linked`` is the other identifier: raw when a service builds the event
    (the SDK pseudonymises it with the subject), pseudonymous on the wire, under the subject's key version."""

    linked: Annotated[
        Annotated[SubjectIdentifier, Tag("identifier")] | Annotated[PseudonymousSubject, Tag("pseudonym")],
        Discriminator(_subject_form),
    ]
    reason: FreeText

    @field_validator("linked")
    @classmethod
    def _another_key(cls, value: Any, info: ValidationInfo) -> Any:
        subject = info.data.get("subject")
        if isinstance(value, PseudonymousSubject) and isinstance(subject, PseudonymousSubject):
            if value.key_version != subject.key_version:
                raise ValueError("must be keyed under the subject's key version")
            if value.key == subject.key:
                raise ValueError("is the subject itself")
        elif isinstance(value, SubjectIdentifier) and isinstance(subject, SubjectIdentifier):
            same = value.kind == subject.kind and value.value.get_secret_value() == subject.value.get_secret_value()
            if same:
                raise ValueError("is the subject itself")
        return value


class SubjectIdentifiersLinked(_LinkEvent):
    """The subject and ``linked`` are one person; every per-subject answer covers both from now on."""

    avro_name: ClassVar[str] = "pdtrail.SubjectIdentifiersLinked"
    type: Literal["subject.identifiers_linked"] = "subject.identifiers_linked"


class SubjectIdentifiersUnlinked(_LinkEvent):
    """A mistaken link of the subject and ``linked`` is undone."""

    avro_name: ClassVar[str] = "pdtrail.SubjectIdentifiersUnlinked"
    type: Literal["subject.identifiers_unlinked"] = "subject.identifiers_unlinked"


_ENVELOPE = frozenset(ProcessingEvent.ENVELOPE_FIELDS)
EVENT_CLASSES: tuple[type[ProcessingEvent], ...] = (
    PersonalDataCollected,
    PersonalDataAccessed,
    PersonalDataShared,
    CreditCheckPerformed,
    RightsRequestReceived,
    RightsRequestAnswered,
    ConsentGiven,
    ConsentWithdrawn,
    DataRectified,
    ProcessingRestricted,
    RestrictionLifted,
    DataErased,
    ErasureRefused,
    RetentionExpired,
    SubjectChecked,
    LeadReceived,
    PublicRegisterLookup,
    MarketingSent,
    IdentifiersCollected,
    SubjectIdentifiersLinked,
    SubjectIdentifiersUnlinked,
)
LINK_EVENT_CLASSES: tuple[type[ProcessingEvent], ...] = (SubjectIdentifiersLinked, SubjectIdentifiersUnlinked)
AnyEvent = Annotated[
    PersonalDataCollected
    | PersonalDataAccessed
    | PersonalDataShared
    | CreditCheckPerformed
    | RightsRequestReceived
    | RightsRequestAnswered
    | ConsentGiven
    | ConsentWithdrawn
    | DataRectified
    | ProcessingRestricted
    | RestrictionLifted
    | DataErased
    | ErasureRefused
    | RetentionExpired
    | SubjectChecked
    | LeadReceived
    | PublicRegisterLookup
    | MarketingSent
    | IdentifiersCollected
    | SubjectIdentifiersLinked
    | SubjectIdentifiersUnlinked,
    Field(discriminator="type"),
]
EVENT_CLASS_BY_AVRO_NAME = {cls.avro_name: cls for cls in EVENT_CLASSES}
EVENT_CLASS_BY_TYPE: dict[str, type[ProcessingEvent]] = {cls.model_fields["type"].default: cls for cls in EVENT_CLASSES}
EVENT_TYPES = tuple(EVENT_CLASS_BY_TYPE)
