"""The findings of one person, judged in Python over their rows (``person_rows.sql``), read once.

Each rule says what its ``finding_<kind>.sql`` says, for one person's history; the SQL files stay the
reference (and judge the whole log, where reading every row once beats a Python loop). For one person
the ten kinds' SQL cost ~150 ms of planning for a hundred rows (bench/bench_lookup.py, 1M events); the
rows themselves are one narrow read by ``subject_key``. The integration test of the findings scenario
and bench_lookup.py check that both ways give the same findings, detail for detail.

The rules take the parameters the SQL takes (the register as flat ``a|b`` pairs, the period, as_of).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pdtrail.queries._rights_cases import add_months
from pdtrail.queries._rights_cases import deadline as art12_deadline

# Records of rights handling and of identity links are not processing (the SQL's NOT IN lists).
_RIGHTS_AND_LINKS = frozenset({
    "rights_request.received", "rights_request.answered", "consent.withdrawn", "processing.restricted",
    "restriction.lifted", "data.erased", "erasure.refused", "retention.expired", "subject.identifiers_linked",
    "subject.identifiers_unlinked",
})  # fmt: skip
_NOT_PROCESSING = _RIGHTS_AND_LINKS | {"consent.given"}  # after_retention alone judges a consent given
_COLLECTIONS = frozenset({
    "personal_data.collected", "lead.received", "public_register.looked_up", "identifiers.collected",
    "credit_check.performed",
})  # fmt: skip
_CONSENTS = ("consent.given", "consent.withdrawn")
_RESTRICTIONS = ("processing.restricted", "restriction.lifted")


@dataclass(frozen=True)
class Row:
    """One of the person's events, as ``person_rows.sql`` reads it (``at`` is occurred_at, in UTC)."""

    event_id: Any
    at: dt.datetime
    event_type: str
    purpose: str
    legal_basis: str
    actor_id: str
    actor_role: str
    data_categories: Sequence[str]
    party_name: str
    party_org_no: str
    party_country: str
    reference: str
    outcome: str
    gdpr_right: str


Hit = tuple[Row, str]  # the event a finding is about, and its detail
Params = dict[str, Any]


def _shown(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")  # formatDateTime(x, '%Y-%m-%d %H:%i:%S')


def _latest_before(events: list[Row], at: dt.datetime, *, inclusive: bool = False) -> Row | None:
    """The last of ``events`` (oldest first) before ``at``, as an ASOF join picks it."""
    found = None
    for event in events:
        if event.at < at or (inclusive and event.at == at):
            found = event
        else:
            break
    return found


def consent_withdrawn(rows: list[Row], in_period: list[Row], p: Params) -> Iterator[Hit]:
    consents = [r for r in rows if r.event_type in _CONSENTS]
    for e in in_period:
        if e.legal_basis != "consent" or e.event_type in _CONSENTS:
            continue
        c = _latest_before([r for r in consents if r.purpose == e.purpose], e.at)
        if c is not None and c.event_type == "consent.withdrawn":
            yield e, f"consent for {e.purpose} was withdrawn at {_shown(c.at)}"


def after_erasure(rows: list[Row], in_period: list[Row], p: Params) -> Iterator[Hit]:
    erasures = [r for r in rows if r.event_type == "data.erased"]
    exempt = set(p["after_erasure"])
    for e in in_period:
        if e.event_type in _NOT_PROCESSING or e.purpose in exempt:
            continue
        for x in erasures:  # the first erasure that covers it (LIMIT 1 BY event_id)
            both = [c for c in e.data_categories if c in set(x.data_categories)]
            if x.at < e.at and both:
                yield e, f"processes {', '.join(dict.fromkeys(both))}, erased at {_shown(x.at)}"
                break


def during_restriction(rows: list[Row], in_period: list[Row], p: Params) -> Iterator[Hit]:
    restrictions = [r for r in rows if r.event_type in _RESTRICTIONS]
    exempt = set(p["during_restriction"])
    for e in in_period:
        if e.event_type in _NOT_PROCESSING or e.purpose in exempt:
            continue
        r = _latest_before(restrictions, e.at)
        if r is not None and r.event_type == "processing.restricted":
            yield e, f"processing restricted since {_shown(r.at)}"


def purpose_not_registered(rows: list[Row], in_period: list[Row], p: Params) -> Iterator[Hit]:
    purposes = set(p["purposes"])
    for e in in_period:
        if e.purpose not in purposes:
            yield e, f"purpose {e.purpose} is not in the register"


def unregistered_recipient(rows: list[Row], in_period: list[Row], p: Params) -> Iterator[Hit]:
    purposes, recipients = set(p["purposes"]), set(p["purpose_recipients"])
    for e in in_period:
        if e.event_type not in ("personal_data.shared", "credit_check.performed") or e.purpose not in purposes:
            continue
        by_number = f"{e.purpose}|{e.party_org_no}"
        by_name = f"{e.purpose}|{e.party_name.lower()}|{e.party_country}"  # lowerUTF8
        if by_number not in recipients and by_name not in recipients:
            number = f" ({e.party_org_no})" if e.party_org_no else ""
            yield e, f"{e.party_name}{number} is not a recipient registered for {e.purpose}"


def basis_not_allowed(rows: list[Row], in_period: list[Row], p: Params) -> Iterator[Hit]:
    purposes, bases = set(p["purposes"]), set(p["purpose_bases"])
    for e in in_period:
        if e.purpose in purposes and f"{e.purpose}|{e.legal_basis}" not in bases:
            yield e, f"{e.legal_basis} is not a legal basis the register allows for {e.purpose}"


def category_not_declared(rows: list[Row], in_period: list[Row], p: Params) -> Iterator[Hit]:
    purposes, declared = set(p["purposes"]), set(p["purpose_categories"])
    for e in in_period:
        extra = [c for c in e.data_categories if f"{e.purpose}|{c}" not in declared]
        if e.purpose in purposes and extra:
            yield e, f"{', '.join(extra)} not declared for {e.purpose}"


def role_not_allowed(rows: list[Row], in_period: list[Row], p: Params) -> Iterator[Hit]:
    roles, role_purposes, role_categories = set(p["roles"]), set(p["role_purposes"]), set(p["role_categories"])
    for e in in_period:
        if e.event_type != "personal_data.accessed":
            continue
        extra = [c for c in e.data_categories if f"{e.actor_role}|{c}" not in role_categories]
        if e.actor_role not in roles:
            yield e, f"role {e.actor_role} is not in the register"
        elif f"{e.actor_role}|{e.purpose}" not in role_purposes:
            yield e, f"role {e.actor_role} may not access data for {e.purpose}"
        elif extra:
            yield e, f"role {e.actor_role} may not access {', '.join(extra)}"


def after_retention(rows: list[Row], in_period: list[Row], p: Params) -> Iterator[Hit]:
    periods = dict(
        zip(p["retention_purposes"], zip(p["retention_months"], p["retention_days"], strict=True), strict=True)
    )
    collections = [r for r in rows if r.event_type in _COLLECTIONS]
    for e in in_period:
        if e.purpose not in periods or e.event_type in _RIGHTS_AND_LINKS:
            continue
        c = _latest_before([r for r in collections if r.purpose == e.purpose], e.at, inclusive=True)
        if c is None:
            continue
        months, days = periods[e.purpose]
        ended = add_months(c.at, int(months)) + dt.timedelta(days=int(days))
        if e.at > ended:
            yield e, f"collected for {e.purpose} at {_shown(c.at)}; retention ended {_shown(ended)}"


def late_answer(rows: list[Row], in_period: list[Row], p: Params) -> Iterator[Hit]:
    answered: dict[str, dt.datetime] = {}
    extended: dict[str, dt.datetime] = {}
    for r in rows:  # oldest first: the first answer and the first extension of each reference
        if r.event_type == "rights_request.answered":
            if r.outcome in ("fulfilled", "refused"):
                answered.setdefault(r.reference, r.at)
            elif r.outcome == "extended":
                extended.setdefault(r.reference, r.at)
    as_of = p["as_of_moment"]
    for e in in_period:
        if e.event_type != "rights_request.received":
            continue
        deadline = art12_deadline(e.at, extended.get(e.reference))  # the desk's case list's own rule
        answer = answered.get(e.reference)
        request = f"{e.gdpr_right} request {e.reference}"
        if answer is not None and answer > deadline:
            late = (answer.date() - deadline.date()).days  # dateDiff('day', ...): calendar days in UTC
            yield e, f"{request} answered {late} days after its deadline {_shown(deadline)}"
        elif answer is None and deadline < as_of:
            yield e, f"{request} unanswered; deadline was {_shown(deadline)}"


RULES: dict[str, Callable[[list[Row], list[Row], Params], Iterator[Hit]]] = {
    "consent_withdrawn": consent_withdrawn,
    "after_erasure": after_erasure,
    "during_restriction": during_restriction,
    "purpose_not_registered": purpose_not_registered,
    "unregistered_recipient": unregistered_recipient,
    "basis_not_allowed": basis_not_allowed,
    "category_not_declared": category_not_declared,
    "role_not_allowed": role_not_allowed,
    "after_retention": after_retention,
    "late_answer": late_answer,
}


def judge(rows: list[Row], since: dt.datetime, until: dt.datetime, params: Params) -> Iterator[tuple[str, Hit]]:
    """Every finding among ``rows`` (one person's, oldest first as the store orders them), kind by kind in
    the order of :data:`RULES`, each kind's in the rows' order; only events in [since, until) are judged."""
    in_period = [r for r in rows if since <= r.at < until]
    for kind, rule in RULES.items():
        for hit in rule(rows, in_period, params):
            yield kind, hit
