"""The closed vocabularies of the contract, shared by the Avro schemas and the pydantic models.

Enum values are the Avro enum symbols, so a value is spelled the same in Python, on the wire and in
ClickHouse. Open vocabularies (purpose, data category) are identifiers here; the processing register
decides which of them a company actually declares.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, StringConstraints


class LegalBasis(StrEnum):
    """GDPR Art. 6(1), points a to f, in order."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"

    @property
    def article(self) -> str:
        point = "abcdef"[list(LegalBasis).index(self)]
        return f"GDPR Art. 6(1)({point})"


class SubjectKind(StrEnum):
    """What kind of raw identifier a subject key was made from."""

    PERSONNUMMER = "personnummer"  # samordningsnummer included: both are Swedish national identity numbers
    CUSTOMER_ID = "customer_id"
    EMAIL = "email"


class ActorType(StrEnum):
    EMPLOYEE = "employee"
    SERVICE = "service"
    PROCESSOR = "processor"
    DATA_SUBJECT = "data_subject"
    SYSTEM = "system"


class CollectionSource(StrEnum):
    DATA_SUBJECT = "data_subject"
    SERVICE_USAGE = "service_usage"
    THIRD_PARTY_LEAD = "third_party_lead"
    PUBLIC_REGISTER = "public_register"
    CREDIT_BUREAU = "credit_bureau"


class AccessKind(StrEnum):
    VIEW = "view"
    SEARCH = "search"
    EXPORT = "export"
    PRINT = "print"
    MODIFY = "modify"


class RecipientRole(StrEnum):
    PROCESSOR = "processor"
    CONTROLLER = "controller"
    AUTHORITY = "authority"


class GdprRight(StrEnum):
    """The data subject's rights (GDPR Art. 15-18, 20, 21 and 7(3))."""

    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    PORTABILITY = "portability"
    OBJECTION = "objection"
    WITHDRAW_CONSENT = "withdraw_consent"


class RequestOutcome(StrEnum):
    """How a rights request was answered. ``extended``: the deadline was extended (Art. 12(3))."""

    FULFILLED = "fulfilled"
    REFUSED = "refused"
    EXTENDED = "extended"


class CheckKind(StrEnum):
    """The checks made before a contract."""

    IDENTITY = "identity"
    AGE = "age"
    ADDRESS = "address"


class CheckOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


class MarketingChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    POST = "post"
    PHONE = "phone"
    ONLINE = "online"


class Disposal(StrEnum):
    """What happened to data whose retention period ended."""

    DELETED = "deleted"
    ANONYMISED = "anonymised"


class CreditDecision(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    MANUAL_REVIEW = "manual_review"


# Dotted lower-case identifiers, e.g. "booking.handling" or "credit_report".
Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=64)
]
Purpose = Identifier
DataCategory = Identifier
ActorRole = Identifier
# Free text that names a system, resource or organisation; bounded so a log line stays a log line.
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CountryCode = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^[A-Z]{2}$"),
]
