"""Subject cases: a DPO looks a subject up once and then works on an opaque, sealed reference.

The reference carries the case itself (see :mod:`pdtrail.desk._refs`): the subject's pseudonymous
keys, the identity that looked it up, the purpose and the expiry. So any desk replica answers it,
a restart keeps it, and there is no shared store one identity could fill to evict another's cases.
The raw identifier never leaves the desk that received it: that desk alone remembers it (per
identity, bounded), only to print it on the reports; elsewhere a report names the subject by key.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from pdtrail.desk._refs import RefKeys, Sealed, SealError
from pdtrail.desk.exceptions import DeskError, invalid, not_found
from pdtrail.producers import Pseudonymiser
from pdtrail.schemas import PseudonymousSubject, SubjectIdentifier, SubjectKind, normalise_identifier

# The purposes of a DPO's own lookups, as the meta-audit records them.
PURPOSES = {"complaint_handling": "dpo.complaint_handling", "access_request": "dpo.access_request"}
_REFERENCE = re.compile(r"^[A-Za-z0-9_-]{8,2048}$")
HELD_PER_IDENTITY = 1000  # identifiers this desk remembers for one identity's reports


def dpo_purpose(text: str | None) -> str:
    """``complaint_handling`` or ``access_request`` (with or without the ``dpo.`` prefix)."""
    name = (text or "complaint_handling").strip().removeprefix("dpo.")
    if name not in PURPOSES:
        raise invalid("purpose", f"must be one of {', '.join(PURPOSES)}")
    return PURPOSES[name]


class KeyedSubject(str):
    """A subject known by its pseudonymous keys: what the lineage queries and reports are asked with in
    the desk. Its text is a key prefix, never an identifier; ``shown_as`` is what a report prints."""

    keys: tuple[str, ...]
    shown_as: str

    def __new__(cls, keys: tuple[str, ...], current_key: str, shown_as: str | None = None) -> KeyedSubject:
        subject = super().__new__(cls, f"subject:{current_key[:16]}")
        subject.keys = keys
        subject.shown_as = shown_as or f"pseudonymous key {current_key[:16]}…"
        return subject


@dataclass(frozen=True)
class SubjectCase:
    reference: str
    owner: str  # the identity that looked the subject up; nobody else may use the reference
    identifier: KeyedSubject  # keys only; the name is what the lineage calls take
    kind: str
    purpose: str
    expires: float
    subject: PseudonymousSubject  # under the current key version: the subject of the meta-audit events


class CaseBook:
    """Seals and opens references; remembers identifiers it received, ``HELD_PER_IDENTITY`` per identity."""

    def __init__(self, keys: RefKeys, pseudonymiser: Pseudonymiser, *, ttl_s: float = 8 * 3600) -> None:
        self.keys = keys
        self.pseudonymiser = pseudonymiser
        self.ttl_s = ttl_s
        self._shown: dict[str, OrderedDict[str, str]] = {}
        self._lock = threading.Lock()

    def open(self, owner: str, identifier: str, kind: SubjectKind, purpose: str) -> SubjectCase:
        raw = identifier.strip()
        current = self.pseudonymiser.pseudonymise(SubjectIdentifier(kind=kind, value=raw))
        keys = tuple(self.pseudonymiser.lookup_keys(kind, raw))
        sealed = Sealed(keys, (current.key, current.key_version), kind.value, owner, purpose, time.time() + self.ttl_s)
        reference = self.keys.seal(sealed)
        with self._lock:
            held = self._shown.setdefault(owner, OrderedDict())
            held[current.key] = _shown(kind, raw)
            held.move_to_end(current.key)
            while len(held) > HELD_PER_IDENTITY:  # this identity's oldest only
                held.popitem(last=False)
        return self._case(reference, sealed)

    def get(self, owner: str, reference: str) -> SubjectCase:
        try:
            sealed = self.keys.open(reference)
        except SealError:
            sealed = None
        if sealed is None or sealed.owner != owner:
            raise not_found("unknown or expired subject reference: look the subject up again", "subject")
        return self._case(reference, sealed)

    def _case(self, reference: str, sealed: Sealed) -> SubjectCase:
        key, version = sealed.subject
        with self._lock:
            shown = self._shown.get(sealed.owner, {}).get(key)
        subject = PseudonymousSubject(key=key, key_version=version, kind=SubjectKind(sealed.kind))
        return SubjectCase(
            reference, sealed.owner, KeyedSubject(sealed.keys, key, shown), sealed.kind, sealed.purpose,
            sealed.expires, subject,
        )  # fmt: skip


def _shown(kind: SubjectKind, raw: str) -> str:
    shown = normalise_identifier(kind, raw)
    if kind == SubjectKind.PERSONNUMMER and len(shown) == 12:
        shown = f"{shown[:8]}-{shown[8:]}"
    return shown


def check_reference(reference: str) -> str:
    if not _REFERENCE.match(reference):
        raise DeskError(404, "not_found", "not a subject reference", "subject")
    return reference
