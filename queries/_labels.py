"""Plain-language labels for the register's codes, in English and Swedish.

A data subject reads "Handling your bookings and payments", not ``booking.handling``. Purposes,
categories, recipients and sources take their labels from the processing register (``label_en``,
``label_sv``); legal bases, the data subject's rights and the supervisory authority are fixed by the
GDPR, so their words live here. A code the register gives no label keeps a readable form of itself.
"""

from __future__ import annotations

from typing import Any

from pdtrail.schemas import ProcessingRegister

KINDS = (
    "purposes", "categories", "legal_bases", "recipients", "sources", "rights", "collection_sources", "event_types",
)  # fmt: skip

LEGAL_BASES: dict[str, dict[str, str]] = {
    "consent": {"en": "Your consent (Art. 6(1)(a))", "sv": "Ditt samtycke (art. 6.1 a)"},
    "contract": {"en": "A contract with you (Art. 6(1)(b))", "sv": "Avtal med dig (art. 6.1 b)"},
    "legal_obligation": {"en": "A legal obligation (Art. 6(1)(c))", "sv": "Rättslig förpliktelse (art. 6.1 c)"},
    "vital_interests": {"en": "Vital interests (Art. 6(1)(d))", "sv": "Grundläggande intressen (art. 6.1 d)"},
    "public_task": {"en": "A task in the public interest (Art. 6(1)(e))", "sv": "Allmänt intresse (art. 6.1 e)"},
    "legitimate_interests": {
        "en": "Our legitimate interests (Art. 6(1)(f))",
        "sv": "Vårt berättigade intresse (art. 6.1 f)",
    },
}

# The data subject's rights (GDPR Art. 15(1)(e) asks the report to name them), as the GDPR's own events spell them.
RIGHTS: dict[str, dict[str, str]] = {
    "access": {
        "en": "Access (Art. 15): a copy of your data and of how it is processed",
        "sv": "Tillgång (art. 15): en kopia av dina uppgifter och hur de behandlas",
    },
    "rectification": {
        "en": "Rectification (Art. 16): incorrect data corrected",
        "sv": "Rättelse (art. 16): felaktiga uppgifter rättade",
    },
    "erasure": {
        "en": "Erasure (Art. 17): your data deleted",
        "sv": "Radering (art. 17): dina uppgifter raderade",
    },
    "restriction": {
        "en": "Restriction (Art. 18): processing limited while a question is settled",
        "sv": "Begränsning (art. 18): behandlingen begränsad medan en fråga utreds",
    },
    "objection": {
        "en": "Objection (Art. 21): to processing based on our legitimate interests, and to direct marketing",
        "sv": "Invändning (art. 21): mot behandling som grundas på vårt berättigade intresse, och mot direktreklam",
    },
    "portability": {
        "en": "Portability (Art. 20): your data in a machine-readable form (this report's JSON)",
        "sv": "Dataportabilitet (art. 20): dina uppgifter i maskinläsbar form (rapportens JSON)",
    },
}

# Where collected data came from, the events' collection_source (Art. 15(1)(g)).
COLLECTION_SOURCES: dict[str, dict[str, str]] = {
    "data_subject": {"en": "From you", "sv": "Från dig"},
    "service_usage": {"en": "From your use of the service", "sv": "Från din användning av tjänsten"},
    "third_party_lead": {"en": "From a partner company", "sv": "Från ett partnerföretag"},
    "public_register": {"en": "From a public register", "sv": "Från ett offentligt register"},
    "credit_bureau": {"en": "From a credit bureau", "sv": "Från ett kreditupplysningsföretag"},
}

# What happened, per event type (an event type not named here is shown as recorded).
EVENT_TYPES: dict[str, dict[str, str]] = {
    "personal_data.collected": {"en": "Data collected", "sv": "Uppgifter samlades in"},
    "personal_data.accessed": {"en": "Data accessed", "sv": "Uppgifter lästes"},
    "personal_data.shared": {"en": "Data shared", "sv": "Uppgifter lämnades ut"},
    "credit_check.performed": {"en": "Credit check", "sv": "Kreditupplysning"},
    "subject.checked": {"en": "Identity or age check", "sv": "Identitets- eller ålderskontroll"},
    "lead.received": {"en": "Lead received", "sv": "Tips mottaget"},
    "public_register.looked_up": {"en": "Public register lookup", "sv": "Uppslag i offentligt register"},
    "consent.given": {"en": "Consent given", "sv": "Samtycke lämnat"},
    "consent.withdrawn": {"en": "Consent withdrawn", "sv": "Samtycke återkallat"},
    "rights_request.received": {"en": "Request received", "sv": "Begäran mottagen"},
    "rights_request.answered": {"en": "Request answered", "sv": "Begäran besvarad"},
    "processing.restricted": {"en": "Processing restricted", "sv": "Behandling begränsad"},
    "restriction.lifted": {"en": "Restriction lifted", "sv": "Begränsning hävd"},
    "data.erased": {"en": "Data erased", "sv": "Uppgifter raderade"},
    "data.rectified": {"en": "Data rectified", "sv": "Uppgifter rättade"},
    "erasure.refused": {"en": "Erasure refused", "sv": "Radering nekad"},
    "retention.expired": {"en": "Retention period ended", "sv": "Lagringstiden löpte ut"},
    "marketing.sent": {"en": "Marketing sent", "sv": "Marknadsföring skickad"},
    "identifiers.collected": {"en": "Identifiers collected", "sv": "Identifierare insamlade"},
    "subject.identifiers_linked": {"en": "Identifiers linked", "sv": "Identifierare kopplade"},
    "subject.identifiers_unlinked": {"en": "Identifiers unlinked", "sv": "Identifierare frånkopplade"},
}

# Art. 15(1)(f) and Art. 77: the right to lodge a complaint with the Swedish supervisory authority.
SUPERVISORY_AUTHORITY: dict[str, str] = {
    "name": "Integritetsskyddsmyndigheten (IMY)",
    "address": "Box 8114, 104 20 Stockholm",
    "email": "imy@imy.se",
    "phone": "+46 8 657 61 00",
    "web": "www.imy.se",
}

_FIXED = {
    "legal_bases": LEGAL_BASES, "rights": RIGHTS, "collection_sources": COLLECTION_SOURCES, "event_types": EVENT_TYPES,
}  # fmt: skip


def _readable(code: str) -> str:
    return code.replace("_", " ").replace(".", ": ", 1) if code else code


def register_labels(register: ProcessingRegister) -> dict[str, dict[str, dict[str, str]]]:
    """Every code's label, per kind and language: ``{"purposes": {"booking.handling": {"en": …, "sv": …}}}``.
    JSON-able, so a report carries the words it was written with."""

    def of(entries: dict[str, Any]) -> dict[str, dict[str, str]]:
        return {
            code: {"en": e.label_en or _readable(code), "sv": e.label_sv or e.label_en or _readable(code)}
            for code, e in entries.items()
        }

    return {
        "purposes": of(register.purposes),
        "categories": of(register.category_entries),
        "recipients": of(register.recipients),
        "sources": of(register.sources),
        **{kind: {code: dict(words) for code, words in fixed.items()} for kind, fixed in _FIXED.items()},
    }


def say(labels: dict[str, dict[str, dict[str, str]]] | None, kind: str, code: Any, lang: str) -> str:
    """``code`` in words for ``lang``; a list of codes joined; an unknown code as it was recorded."""
    if isinstance(code, list | tuple):
        return ", ".join(say(labels, kind, c, lang) for c in code)
    if code is None:
        return ""
    words = (labels or {}).get(kind, {}).get(str(code))
    if words is None and kind in _FIXED:
        words = _FIXED[kind].get(str(code))
    return words.get(lang, str(code)) if words else str(code)
