"""Findings: processing the register or the subject's own history says should not have happened.

Each kind is one ``finding_<kind>.sql`` file. The register is passed to the queries as parameters (flat
``purpose|basis`` pairs and the like), so the log is checked against the register the DPO names — by
default the current one — without copying it into the store. One person's findings of every kind are
judged in Python over their rows, read once (``_findings_rules``: the same rules, without the cost of
planning ten queries); asked for some kinds, or for every subject, the SQL files answer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pdtrail.queries._findings_rules import Row, judge
from pdtrail.queries._lineage import MAX_LINK_ROWS, SubjectLineage, lineage_end, split_links
from pdtrail.queries._links import LINK_TYPES, LinkRow
from pdtrail.queries._runner import ALL_SUBJECTS, WITH_LINKS, QueryBackend, load_sql
from pdtrail.queries.exceptions import InvalidQueryParameterError
from pdtrail.schemas import ProcessingRegister, SubjectKind, load_register

# In the order a DPO reads them: the subject's own choices first, then the register's rules, then time.
FINDING_KINDS: dict[str, str] = {
    "consent_withdrawn": "processing under consent after that consent was withdrawn",
    "after_erasure": "processing of erased data after the erasure",
    "during_restriction": "processing while processing was restricted",
    "purpose_not_registered": "a purpose the register does not declare",
    "unregistered_recipient": "sharing with a recipient not registered for the purpose",
    "basis_not_allowed": "a legal basis the register does not allow for the purpose",
    "category_not_declared": "a data category not declared for the purpose",
    "role_not_allowed": "access by an actor role the register does not allow",
    "after_retention": "data still processed after its retention period",
    "late_answer": "a rights request not answered within one month (GDPR Art. 12(3))",
}
# The whole log by default (see FIRST_MOMENT in _lineage: the engine's own bounds, as epoch seconds).
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)
_FIRST_MOMENT = "-62167219200.000000"
_LAST_MOMENT = "253402300800.000000"
_PARAM = re.compile(r"\{(\w+):")
PERSON_ROWS = "person_rows"
PERSON_PAGE = 100_000  # rows per read of one person's history
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Finding:
    kind: str
    subject_key: str
    event_id: str
    occurred_at: dt.datetime
    event_type: str
    purpose: str
    legal_basis: str
    actor_id: str
    actor_role: str
    detail: str

    @property
    def description(self) -> str:
        return FINDING_KINDS[self.kind]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject_key": self.subject_key,
            "event_id": self.event_id,
            "occurred_at": self.occurred_at.isoformat(),
            "event_type": self.event_type,
            "purpose": self.purpose,
            "legal_basis": self.legal_basis,
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "detail": self.detail,
        }


def _moment(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def person_findings(
    lineage: SubjectLineage,
    identifier: str,
    kind: SubjectKind | str | None = None,
    *,
    register: ProcessingRegister | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    as_of: dt.datetime | None = None,
) -> list[Finding]:
    """Every finding of the person ``identifier`` names: :func:`findings` for their linked set as it stood
    at ``until`` (:meth:`SubjectLineage.linked_set`). The person's rows are read with the searched keys'
    link events among them, so a person linked to no other key costs one statement, not a read of the
    links and then one of the rows; for a linked person the rows of the whole set are read after."""
    keys = lineage.subject_keys(identifier, kind)
    end = lineage_end(until)

    def person_rows() -> list[Row]:
        linked = lineage.known_links(keys, end)
        if linked is None and not lineage.lately_linked(keys):
            rows, links = _person_rows_and_links(lineage.backend, keys)
            if until is not None:
                stop = until if until.tzinfo else until.replace(tzinfo=dt.UTC)
                links = [link for link in links if link.occurred_at < stop]  # as the links read apart are
            if len(links) < MAX_LINK_ROWS:
                linked = lineage.close_links(keys, end, first=links)
                if linked.keys == keys:  # linked to no other key: these are the person's rows
                    return rows
        linked = linked or lineage.close_links(keys, end)
        return _person_rows(lineage.backend, linked.keys)

    return _findings(lineage.backend, keys, register, since, until, as_of, None, person_rows)


def findings(
    backend: QueryBackend,
    subject_keys: Sequence[str] | None = None,
    *,
    register: ProcessingRegister | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    as_of: dt.datetime | None = None,
    kinds: Sequence[str] | None = None,
) -> list[Finding]:
    """Every finding for ``subject_keys`` (all subjects when empty or None) among events in [since, until).

    The keys given are taken for one person (a subject's keys under every key version and every identifier
    linked to it, :meth:`SubjectLineage.linked_set`): their histories are judged together, and each finding
    names the first key. Ask one person at a time.

    ``register`` defaults to the shipped one (see :func:`pdtrail.schemas.load_register`). ``as_of`` is the
    moment an unanswered request is judged at (default: now, or ``until`` if earlier).
    """
    keys = list(subject_keys or ())
    return _findings(backend, keys, register, since, until, as_of, kinds, lambda: _person_rows(backend, keys))


def _findings(
    backend: QueryBackend,
    subject_keys: list[str],
    register: ProcessingRegister | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    as_of: dt.datetime | None,
    kinds: Sequence[str] | None,
    person_rows: Callable[[], list[Row]],
) -> list[Finding]:
    register = register or load_register()
    start, end = since or _EARLIEST, until or _LATEST
    if start >= end:
        raise InvalidQueryParameterError("since", "must be earlier than until")
    unknown = [k for k in kinds or () if k not in FINDING_KINDS]
    if unknown:
        raise InvalidQueryParameterError("kind", f"unknown {', '.join(unknown)}; known: {', '.join(FINDING_KINDS)}")
    judged_at = as_of or min(dt.datetime.now(dt.UTC), end)
    available: dict[str, Any] = {
        "subject_keys": list(subject_keys or ()),
        # The keys are one person's (their linked set): findings name the first, the searched identifier's.
        "person_key": subject_keys[0] if subject_keys else "",
        "since": _moment(start) if since is not None else _FIRST_MOMENT,
        "until": _moment(end) if until is not None else _LAST_MOMENT,
        "as_of": _moment(judged_at),
        **register.rules,
        **register.retention_params(),
    }
    if subject_keys and not kinds:
        # One person, every kind: their rows read once and judged here (see _findings_rules for why).
        rows = person_rows()
        moments = {**available, "as_of_moment": judged_at.astimezone(dt.UTC)}
        return [
            Finding(kind, subject_keys[0], str(e.event_id), e.at, e.event_type, e.purpose, e.legal_basis,
                    e.actor_id, e.actor_role, detail)
            for kind, (e, detail) in judge(rows, start.astimezone(dt.UTC), end.astimezone(dt.UTC), moments)
        ]  # fmt: skip
    found: list[Finding] = []
    for kind in kinds or FINDING_KINDS:
        name = f"finding_{kind}" if subject_keys else f"finding_{kind}{ALL_SUBJECTS}"
        found += [_finding(row) for row in _run(backend, name, available)]
    return found


def _person_rows(backend: QueryBackend, keys: list[str]) -> list[Row]:
    """Every row of the person, oldest first: the whole log, since what came before or after the period
    decides too (a withdrawal before it, an answer after it), in pages of :data:`PERSON_PAGE`."""
    return _pages(backend, keys, PERSON_ROWS)[0]


def _person_rows_and_links(backend: QueryBackend, keys: list[str]) -> tuple[list[Row], list[LinkRow]]:
    """:func:`_person_rows`, with the link events among them as the walk over the links reads them."""
    return _pages(backend, keys, f"{PERSON_ROWS}{WITH_LINKS}")


def _pages(backend: QueryBackend, keys: list[str], name: str) -> tuple[list[Row], list[LinkRow]]:
    rows: list[Row] = []
    links: list[LinkRow] = []
    since, seen = _FIRST_MOMENT, 0
    while True:
        params = {"subject_keys": keys, "since": since, "until": _LAST_MOMENT, "limit": PERSON_PAGE,
                  "offset": seen, "link_types": LINK_TYPES}  # fmt: skip
        result = backend.run(name, params)
        if name.endswith(WITH_LINKS):
            result, found = split_links(PERSON_ROWS, result)
            links += found
        page = [Row(*row) for row in result.rows]
        rows += page
        if len(page) < PERSON_PAGE:
            links.sort(key=lambda r: (r.occurred_at, r.event_id))
            return rows, links
        # Keyset paging: the next page starts at this one's last moment, the rows of that moment already
        # read skipped (normally one), instead of reading and dropping every row before it (OFFSET).
        last = page[-1].at
        seen = next((i for i, row in enumerate(reversed(rows)) if row.at != last), len(rows))
        since = _epoch(last)


def _epoch(moment: dt.datetime) -> str:
    """``moment`` as seconds since the epoch to the microsecond, as the engine reads any DateTime64 (the
    bounds of FIRST_MOMENT included, which have no text form)."""
    delta = (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)) - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    whole, fraction = divmod(abs(micros), 1_000_000)
    return f"{'-' if micros < 0 else ''}{whole}.{fraction:06d}"


def _run(backend: QueryBackend, name: str, available: dict[str, Any]) -> list[dict[str, Any]]:
    wanted = set(_PARAM.findall(load_sql(name)))
    return backend.run(name, {k: v for k, v in available.items() if k in wanted}).as_dicts()


def _finding(row: dict[str, Any]) -> Finding:
    key = row["subject_key"]  # FixedString comes back as bytes locally, as text from the owner
    key = key.decode() if isinstance(key, bytes) else key
    return Finding(**{**row, "subject_key": key, "event_id": str(row["event_id"])})
