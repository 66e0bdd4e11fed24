"""Subject cases: a DPO looks a subject up once and then works on an opaque reference.

The raw identifier stays in this process's memory, bound to the identity that looked it up; URLs,
links and log lines carry only the reference. References expire after ``ttl_s`` and the oldest go
first when there are more than ``max_cases``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from pdtrail.desk.exceptions import DeskError, invalid, not_found

# The purposes of a DPO's own lookups, as the meta-audit records them.
PURPOSES = {"complaint_handling": "dpo.complaint_handling", "access_request": "dpo.access_request"}


def dpo_purpose(text: str | None) -> str:
    """``complaint_handling`` or ``access_request`` (with or without the ``dpo.`` prefix)."""
    name = (text or "complaint_handling").strip().removeprefix("dpo.")
    if name not in PURPOSES:
        raise invalid("purpose", f"must be one of {', '.join(PURPOSES)}")
    return PURPOSES[name]


@dataclass(frozen=True)
class SubjectCase:
    reference: str
    owner: str  # the identity that looked the subject up; nobody else may use the reference
    identifier: str = field(repr=False)
    kind: str | None
    purpose: str
    created: float


class CaseBook:
    def __init__(self, *, ttl_s: float = 8 * 3600, max_cases: int = 10_000) -> None:
        self._cases: OrderedDict[str, SubjectCase] = OrderedDict()
        self._lock = threading.Lock()
        self.ttl_s = ttl_s
        self.max_cases = max_cases

    def open(self, owner: str, identifier: str, kind: str | None, purpose: str) -> SubjectCase:
        case = SubjectCase(secrets.token_urlsafe(16), owner, identifier.strip(), kind, purpose, time.monotonic())
        with self._lock:
            self._cases[case.reference] = case
            while len(self._cases) > self.max_cases:
                self._cases.popitem(last=False)
        return case

    def get(self, owner: str, reference: str) -> SubjectCase:
        with self._lock:
            case = self._cases.get(reference)
        if case is None or case.owner != owner or time.monotonic() - case.created > self.ttl_s:
            raise not_found("unknown or expired subject reference: look the subject up again", "subject")
        return case


def check_reference(reference: str) -> str:
    if not 8 <= len(reference) <= 64 or not reference.replace("-", "").replace("_", "").isalnum():
        raise DeskError(404, "not_found", "not a subject reference", "subject")
    return reference
