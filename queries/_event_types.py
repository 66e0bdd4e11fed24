"""The event-type names the queries filter on, taken from the schema catalogue by Avro record name.

Event types added to the vocabulary later are found by name once their classes exist; until then the
name they will carry is used, which simply matches no stored row.
"""

from __future__ import annotations

from functools import cache

from pdtrail.schemas import EVENT_CLASSES

# Avro record name -> the event type it is expected to carry (used only while the class is missing).
_EXPECTED = {
    "pdtrail.PersonalDataCollected": "personal_data.collected",
    "pdtrail.PersonalDataShared": "personal_data.shared",
    "pdtrail.LeadReceived": "lead.received",
    "pdtrail.PublicRegisterLookup": "public_register.lookup",
    "pdtrail.ConsentGiven": "consent.given",
    "pdtrail.ConsentWithdrawn": "consent.withdrawn",
    "pdtrail.DataErased": "data.erased",
    "pdtrail.RetentionExpired": "retention.expired",
}


@cache
def event_type(avro_name: str) -> str:
    for cls in EVENT_CLASSES:
        if cls.avro_name == avro_name:
            return str(cls.model_fields["type"].default)
    return _EXPECTED[avro_name]


def source_types() -> list[str]:
    """Events that bring the subject's data in."""
    names = ("pdtrail.PersonalDataCollected", "pdtrail.LeadReceived", "pdtrail.PublicRegisterLookup")
    return [event_type(n) for n in names]


def end_types() -> list[str]:
    """Events after which the data of their categories is gone (or due to be)."""
    return [event_type("pdtrail.DataErased"), event_type("pdtrail.RetentionExpired")]
