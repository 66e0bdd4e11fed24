"""The linked set of a subject: a closure over link and unlink events, as they stood at the period's end."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pdtrail.config import load_settings
from pdtrail.producers import AuditEmitter
from pdtrail.producers._links import also_known_as_events, link_events
from pdtrail.queries import QueryResult, SubjectLineage
from pdtrail.queries._links import LINKED, UNLINKED, LinkRow, close_links, rows_of
from pdtrail.queries._runner import LINK_COLUMNS
from pdtrail.schemas import Actor, InvalidEventError, PersonalDataAccessed, PseudonymousSubject, SubjectIdentifier
from pdtrail.simulate import generate_personnummer

from ._factories import SECRET_V2, event_data, personnummer, pseudonymiser

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _key(n: int) -> str:
    return f"{n:064x}"


class _Log:
    """Link events by subject key, as the subject_links query returns them (until applied here)."""

    def __init__(self) -> None:
        self.rows: list[LinkRow] = []
        self.asked: list[list[str]] = []

    def add(self, a: int, b: int, *, day: int, unlink: bool = False, kind: str = "customer_id") -> None:
        kind_type = UNLINKED if unlink else LINKED
        moment = T0 + dt.timedelta(days=day)
        for s, o in ((a, b), (b, a)):  # both directions, as the SDK writes a link
            self.rows.append(LinkRow(_key(s), "email", _key(o), kind, kind_type, moment, f"ev-{a}-{b}-{day}"))

    def fetch(self, until: dt.datetime | None = None):  # type: ignore[no-untyped-def]
        def run(keys: list[str]) -> list[LinkRow]:
            self.asked.append(keys)
            return [r for r in self.rows if r.subject_key in keys and (until is None or r.occurred_at < until)]

        return run


def test_a_chain_is_followed_and_each_key_says_how_it_was_found() -> None:
    log = _Log()
    log.add(1, 2, day=1)
    log.add(2, 3, day=2, kind="personnummer")
    found = close_links([_key(1)], log.fetch())
    assert found.keys == [_key(1), _key(2), _key(3)]
    assert found.found_via[_key(1)] == ""
    assert found.found_via[_key(2)] == "customer_id via link ev-1-2-1"
    assert found.found_via[_key(3)] == "personnummer via link ev-2-3-2"
    assert not found.bounded


def test_every_member_of_a_linked_set_gives_the_same_set() -> None:
    log = _Log()
    log.add(1, 2, day=1)
    log.add(2, 3, day=2)
    log.add(3, 1, day=3)  # a cycle
    sets = [set(close_links([_key(n)], log.fetch()).keys) for n in (1, 2, 3)]
    assert sets[0] == sets[1] == sets[2] == {_key(1), _key(2), _key(3)}


def test_a_cycle_ends_and_no_key_is_asked_twice() -> None:
    log = _Log()
    for a, b in ((1, 2), (2, 3), (3, 4), (4, 1), (2, 4)):
        log.add(a, b, day=a)
    found = close_links([_key(1)], log.fetch())
    assert sorted(found.keys) == [_key(n) for n in (1, 2, 3, 4)]
    asked = [k for keys in log.asked for k in keys]
    assert len(asked) == len(set(asked)) == 4


def test_an_unlink_removes_the_link_and_a_later_link_restores_it() -> None:
    log = _Log()
    log.add(1, 2, day=1)
    log.add(1, 2, day=5, unlink=True)
    assert close_links([_key(1)], log.fetch()).keys == [_key(1)]
    assert close_links([_key(1)], log.fetch(until=T0 + dt.timedelta(days=3))).keys == [_key(1), _key(2)]
    log.add(2, 1, day=9)
    assert close_links([_key(1)], log.fetch()).keys == [_key(1), _key(2)]


def test_the_set_is_as_it_stood_at_the_period_end() -> None:
    log = _Log()
    log.add(1, 2, day=10)
    assert close_links([_key(1)], log.fetch(until=T0 + dt.timedelta(days=10))).keys == [_key(1)]
    assert close_links([_key(1)], log.fetch(until=T0 + dt.timedelta(days=11))).keys == [_key(1), _key(2)]


def test_the_set_is_bounded_and_says_so() -> None:
    log = _Log()
    for n in range(1, 100):
        log.add(n, n + 1, day=n)
    found = close_links([_key(1)], log.fetch(), bound=64)
    assert len(found.keys) == 64 and found.bounded
    assert not close_links([_key(1)], log.fetch(), bound=200).bounded


def test_a_full_page_of_link_rows_counts_as_bounded() -> None:
    log = _Log()
    log.add(1, 2, day=1)
    log.add(1, 3, day=2)
    assert close_links([_key(1)], log.fetch(), page=2).bounded
    assert not close_links([_key(1)], log.fetch(), page=3).bounded


def test_the_searched_keys_of_every_key_version_start_the_walk() -> None:
    log = _Log()
    log.add(1, 2, day=1)  # under key version 1
    log.add(11, 12, day=1)  # the same two identifiers under version 2
    found = close_links([_key(1), _key(11)], log.fetch())
    assert set(found.keys) == {_key(1), _key(2), _key(11), _key(12)}
    assert found.found_via[_key(11)] == ""


def _envelope() -> dict[str, object]:
    return {
        "actor": Actor(type="service", id="crm", role="customer_service"), "purpose": "customer_service",
        "legal_basis": "contract", "data_categories": ("name",), "source_system": "crm", "reason": "same customer",
    }  # fmt: skip


def test_a_link_is_written_both_ways_under_every_key_version_and_holds_no_identifier() -> None:
    pseudo = pseudonymiser()
    pnr = personnummer(31)
    a = SubjectIdentifier(kind="personnummer", value=pnr)
    b = SubjectIdentifier(kind="customer_id", value="KUND-0042")
    events = link_events(pseudo, a, b, **_envelope())
    assert len(events) == 4  # two directions x two key versions
    pairs = {(e.subject.key, e.linked.key) for e in events}  # type: ignore[union-attr, attr-defined]
    for version in (1, 2):
        ka, kb = pseudo.pseudonymise(a, version=version).key, pseudo.pseudonymise(b, version=version).key
        assert {(ka, kb), (kb, ka)} <= pairs
    for event in events:
        assert isinstance(event.subject, PseudonymousSubject)
        assert event.linked.key_version == event.subject.key_version  # type: ignore[attr-defined]
        dumped = event.model_dump_json()
        assert pnr not in dumped and pnr[2:] not in dumped and "KUND-0042" not in dumped


def test_also_known_as_links_the_event_subject_with_its_own_envelope() -> None:
    pseudo = pseudonymiser()
    event = PersonalDataAccessed(**event_data(PersonalDataAccessed, generate_personnummer(random.Random(3))))
    others = [SubjectIdentifier(kind="email", value="kund.exempel@example.se")]
    links = also_known_as_events(pseudo, event, others)
    assert len(links) == 4
    assert all(link.occurred_at == event.occurred_at and link.actor == event.actor for link in links)


def test_a_link_of_an_identifier_to_itself_is_refused() -> None:
    a = SubjectIdentifier(kind="customer_id", value="KUND-0042")
    with pytest.raises(InvalidEventError) as info:
        link_events(pseudonymiser(), a, a, **_envelope())
    assert info.value.field == "linked"


@pytest.fixture
def emitter(tmp_path: Path) -> Iterator[AuditEmitter]:
    """No broker (nothing is delivered): the SDK's path up to librdkafka only."""
    audit = AuditEmitter(
        load_settings(
            home=tmp_path,
            kafka={"bootstrap_servers": "127.0.0.1:9"},
            pseudonym={"secret": SECRET_V2.decode(), "key_version": 2},
            emitter={"spool_max_bytes": 0},
        )
    )
    yield audit
    audit.close(timeout=0)


def test_emit_with_also_known_as_sends_the_event_and_its_links(emitter: AuditEmitter) -> None:
    event = PersonalDataAccessed(**{**event_data(PersonalDataAccessed), "occurred_at": dt.datetime.now(dt.UTC)})
    sent = emitter.emit(event, also_known_as=[SubjectIdentifier(kind="customer_id", value="KUND-0042")])
    assert sent == event.event_id
    assert emitter.stats.emitted == 1 + 2  # the event, and the link both ways under the one key version


def test_link_and_unlink_are_checked_against_the_register_before_anything_is_sent(emitter: AuditEmitter) -> None:
    a = SubjectIdentifier(kind="customer_id", value="KUND-0042")
    b = SubjectIdentifier(kind="email", value="kund.exempel@example.se")
    with pytest.raises(InvalidEventError) as info:
        emitter.link(a, b, **{**_envelope(), "purpose": "profiling.scoring"})
    assert info.value.field == "purpose"
    assert emitter.stats.emitted == 0
    assert len(emitter.link(a, b, **_envelope())) == 2
    assert len(emitter.unlink(a, b, **_envelope())) == 2
    with pytest.raises(InvalidEventError) as info:
        emitter.link(a, b, **{**_envelope(), "reason": "same as kund.exempel@example.se"})
    assert info.value.field == "reason" and "kund.exempel" not in str(info.value)


class _CountingBackend:
    """A store with no rows that counts the statements and those that read the links of the lineage queries
    (``subject_links``, or a page with its links, ``<name>@links``)."""

    def __init__(self) -> None:
        self.link_reads = 0
        self.statements: list[str] = []

    def run(self, name: str, params: dict[str, object]) -> QueryResult:
        self.statements.append(name)
        self.link_reads += name == "subject_links" or name.endswith("@links")
        return QueryResult(["occurred_at"], ["DateTime64(6, 'UTC')"], [])


def test_one_answer_reads_the_links_once_per_subject_and_period() -> None:
    backend = _CountingBackend()
    lineage = SubjectLineage(backend, pseudonymiser())
    subject = personnummer()
    with lineage.one_answer():
        lineage.who_accessed(subject)
        lineage.timeline(subject)
        lineage.linked_set(subject)
        assert backend.link_reads == 1
        lineage.timeline(subject, until=T0)  # another period's end: the links as they stood then
        assert backend.link_reads == 2
        with lineage.one_answer():  # a nested block shares the outer one's sets
            lineage.sources(subject, until=T0)
        assert backend.link_reads == 2
    # Outside an answer every query reads the links afresh: a link made since is seen.
    lineage.who_accessed(subject)
    lineage.timeline(subject)
    assert backend.link_reads == 4


def test_a_page_from_the_log_start_is_one_statement_and_any_other_page_two() -> None:
    backend = _CountingBackend()
    lineage = SubjectLineage(backend, pseudonymiser())
    subject = personnummer()
    lineage.who_accessed(subject)
    lineage.timeline(subject, until=T0)
    assert backend.statements == ["who_accessed@links", "timeline@links"]  # no links among the rows
    backend.statements.clear()
    lineage.timeline(subject, since=T0)  # a period's start: the links before it are not in the page
    lineage.who_accessed(subject, offset=10)  # a later page: not every link is in it
    lineage.shared_with(subject)  # no form with links
    assert backend.statements == ["subject_links", "timeline", "subject_links", "who_accessed", "subject_links",
                                  "shared_with"]  # fmt: skip


def test_link_rows_as_the_embedded_store_gives_them_ask_each_key_once() -> None:
    """chDB hands the FixedString subject key back as bytes: the walk reads it as text, so the searched key
    is not taken for a new one (asked about again, counted twice against the bound)."""
    log = _Log()
    log.add(1, 2, day=1)
    stored = [(r.subject_key.encode(), *list(vars(r).values())[1:]) for r in log.rows]
    asked: list[list[str]] = []

    def fetch(keys: list[str]) -> list[LinkRow]:
        asked.append(keys)
        return rows_of(QueryResult(["subject_key"], ["FixedString(64)"], [r for r in stored if r[0].decode() in keys]))

    found = close_links([_key(1)], fetch)
    assert found.keys == [_key(1), _key(2)] and asked == [[_key(1)], [_key(2)]]


class _LinkedBackend(_CountingBackend):
    """A store where the searched keys are linked to one other key, and that key to no other."""

    def __init__(self, other: str) -> None:
        super().__init__()
        self.other = other

    def run(self, name: str, params: dict[str, object]) -> QueryResult:
        super().run(name, params)
        keys = list(params["subject_keys"])  # type: ignore[call-overload]
        link = (T0, uuid.uuid4(), keys[0], "personnummer", LINKED, self.other, "customer_id")
        if name.endswith("@links"):
            return QueryResult(["occurred_at", "event_id", *LINK_COLUMNS], [], [link])
        if name == "subject_links" and self.other not in keys:
            return QueryResult([], [], [(keys[0], "personnummer", self.other, "customer_id", LINKED, T0, "ev-1")])
        return QueryResult([], [], [])


def test_a_subject_found_linked_takes_the_links_first_path_next_time() -> None:
    backend = _LinkedBackend(_key(7))
    lineage = SubjectLineage(backend, pseudonymiser())
    subject = personnummer()
    lineage.who_accessed(subject)  # the page with links shows a link: the page is read again for both keys
    assert backend.statements == ["who_accessed@links", "subject_links", "who_accessed"]
    backend.statements.clear()
    lineage.timeline(subject)  # known linked now: the links first, no page read for nothing
    assert backend.statements == ["subject_links", "subject_links", "timeline"]
