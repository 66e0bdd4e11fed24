"""The event-type names the queries filter on, taken from the schema catalogue by Avro record name."""

from __future__ import annotations

from functools import cache

from pdtrail.schemas import EVENT_CLASSES


@cache
def event_type(avro_name: str) -> str:
    for cls in EVENT_CLASSES:
        if cls.avro_name == avro_name:
            return str(cls.model_fields["type"].default)
    raise KeyError(f"no event class {avro_name}")


def source_types() -> list[str]:
    """Events that bring the subject's data in."""
    names = ("pdtrail.PersonalDataCollected", "pdtrail.LeadReceived", "pdtrail.PublicRegisterLookup")
    return [event_type(n) for n in names]


def end_types() -> list[str]:
    """Events after which the data of their categories is gone (or due to be)."""
    return [event_type("pdtrail.DataErased"), event_type("pdtrail.RetentionExpired")]


def record_types() -> list[str]:
    """Events that record the subject's requests and choices, or their handling: not processing of the data."""
    names = (
        "RightsRequestReceived", "RightsRequestAnswered", "ConsentGiven", "ConsentWithdrawn",
        "ProcessingRestricted", "RestrictionLifted", "DataErased", "ErasureRefused", "RetentionExpired",
        "SubjectIdentifiersLinked", "SubjectIdentifiersUnlinked",
    )  # fmt: skip
    return [event_type(f"pdtrail.{n}") for n in names]
