"""What GDPR Art. 15(1)-(2) asks the access report to say besides the log's own rows: who the
controller and the DPO are and how to reach them, each purpose the subject's data was used for with
its legal bases, categories, recipients (and their countries), retention and sources as the processing
register declares them, any automated decision, the subject's rights and the right to complain to IMY."""

from __future__ import annotations

from typing import Any

from pdtrail.queries._labels import RIGHTS, SUPERVISORY_AUTHORITY, register_labels
from pdtrail.schemas import ProcessingRegister


def _organisation(org: Any) -> dict[str, str]:
    return {"name": org.name, "country": org.country, "organisation_number": org.organisation_number or ""}


def art15_sections(register: ProcessingRegister, used_purposes: list[str]) -> dict[str, Any]:
    """The register's side of the access report, for the purposes the subject's data was used for
    (those the log names but the register does not are listed as such, with what the log says)."""
    controller = register.controller
    purposes = []
    for code in used_purposes:
        entry = register.purposes.get(code)
        if entry is None:
            purposes.append({"purpose": code, "declared": False})
            continue
        purposes.append({
            "purpose": code, "declared": True, "description": entry.description,
            "legal_bases": [b.value for b in entry.legal_bases], "categories": list(entry.categories),
            "recipients": [
                {"recipient": r, **_organisation(register.recipients[r]), "role": register.recipients[r].role.value}
                for r in entry.recipients
            ],
            "sources": [{"source": s, **_organisation(register.sources[s])} for s in entry.sources],
            "retention": str(entry.retention),
            "automated_decision": {"en": entry.automated_decision, "sv": entry.automated_decision_sv}
            if entry.automated_decision else None,
        })  # fmt: skip
    return {
        "controller": {**_organisation(controller), **controller.model_dump(include={"address", "email", "phone"})},
        "dpo": register.dpo.model_dump(),
        "register_purposes": purposes,
        "automated_decisions": [p for p in purposes if p.get("automated_decision")],
        "rights": list(RIGHTS),
        "complaint_authority": dict(SUPERVISORY_AUTHORITY),
        "labels": register_labels(register),
    }
