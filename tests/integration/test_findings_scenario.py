"""A year of one company's processing, with one planted violation of every kind: `findings` reports exactly
the planted ones — no more, no fewer — through the real SDK, Kafka, consumer and chDB."""

from __future__ import annotations

import datetime as dt

import pytest

from pdtrail.config import RegisterSettings, Settings
from pdtrail.consumers import AuditConsumer
from pdtrail.producers import AuditEmitter, Pseudonymiser
from pdtrail.queries import FINDING_KINDS, LocalQueries, findings
from pdtrail.schemas import SubjectKind, load_register
from pdtrail.simulate import PlantedFinding, simulate_company, simulate_findings
from pdtrail.store import connect


@pytest.fixture(scope="module")
def scenario() -> tuple[list, list[PlantedFinding]]:
    stream = list(simulate_company(300, seed=5, start=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), days=365))
    return stream, simulate_findings(stream)


@pytest.fixture
def stored(pipeline: Settings, scenario: tuple[list, list[PlantedFinding]]) -> tuple[LocalQueries, Settings]:
    stream, planted = scenario
    with AuditEmitter(pipeline) as emitter:
        for _, event in stream:
            emitter.emit(event)
        for plant in planted:
            if not plant.outside_register:
                emitter.emit(plant.event)
        assert emitter.flush(30) == 0
    # A service that predates the register: its events are recorded, and the findings must catch them.
    recording = pipeline.model_copy(update={"processing_register": RegisterSettings(mode="record")})
    with AuditEmitter(recording) as legacy:
        for plant in planted:
            if plant.outside_register:
                legacy.emit(plant.event)
        assert legacy.flush(30) == 0
        assert legacy.outside_register == sum(p.outside_register for p in planted)
    client = connect(pipeline)
    stats = AuditConsumer(pipeline, client).run(drain=True)
    assert stats.stored == len(stream) + len(planted) and stats.dead_lettered == 0
    return LocalQueries(client), pipeline


def test_findings_are_exactly_the_planted_ones(
    stored: tuple[LocalQueries, Settings], scenario: tuple[list, list[PlantedFinding]]
) -> None:
    backend, _ = stored
    _, planted = scenario
    expected = {(p.kind, str(p.event.event_id)) for p in planted if p.kind}
    assert {kind for kind, _ in expected} == set(FINDING_KINDS)  # every kind is planted
    found = findings(backend, as_of=dt.datetime(2027, 6, 1, tzinfo=dt.UTC))
    assert {(f.kind, f.event_id) for f in found} == expected
    assert len(found) == len(expected)  # and none twice
    by_kind = {f.kind: f for f in found}
    assert "Okänd Partner AB" in by_kind["unregistered_recipient"].detail
    assert "legitimate_interests" in by_kind["basis_not_allowed"].detail
    assert "personnummer" in by_kind["category_not_declared"].detail
    assert "scheduling" in by_kind["role_not_allowed"].detail

    # Asked subject by subject (the subject's rows read once, judged in Python), the answer is the one the
    # SQL gives kind by kind, detail for detail and in the same order, and exactly that subject's planted
    # findings; so for subjects with nothing planted too (their consents, erasures and requests are judged).
    _, settings = stored
    pseudonymiser = Pseudonymiser.from_settings(settings)
    stream, _ = scenario
    with_plants = {p.subject for p in planted if p.kind}
    others = list(dict.fromkeys(s for s, _ in stream if s not in with_plants))[:30]
    for subject in [*with_plants, *others]:
        keys = pseudonymiser.lookup_keys(SubjectKind.PERSONNUMMER, subject.personnummer)
        own = findings(backend, keys, as_of=dt.datetime(2027, 6, 1, tzinfo=dt.UTC))
        assert own == findings(backend, keys, as_of=dt.datetime(2027, 6, 1, tzinfo=dt.UTC), kinds=list(FINDING_KINDS))
        mine = {(p.kind, str(p.event.event_id)) for p in planted if p.kind and p.subject == subject}
        assert {(f.kind, f.event_id) for f in own} == mine and len(own) == len(mine)


def test_every_stored_event_records_the_register_version_it_was_checked_against(
    stored: tuple[LocalQueries, Settings],
) -> None:
    backend, _ = stored
    client = backend.client
    versions = dict(client.query("SELECT register_version, count() FROM events GROUP BY 1").result_rows)
    assert set(versions) == {load_register().version}


def test_findings_for_one_subject_and_a_period(
    stored: tuple[LocalQueries, Settings], scenario: tuple[list, list[PlantedFinding]]
) -> None:
    backend, settings = stored
    _, planted = scenario
    pseudonymiser = Pseudonymiser.from_settings(settings)
    target = next(p for p in planted if p.kind == "after_erasure")
    keys = pseudonymiser.lookup_keys(SubjectKind.PERSONNUMMER, target.subject.personnummer)
    own = findings(backend, keys, as_of=dt.datetime(2027, 6, 1, tzinfo=dt.UTC))
    assert [(f.kind, f.event_id) for f in own] == [("after_erasure", str(target.event.event_id))]
    assert own[0].subject_key in keys

    at = target.event.occurred_at
    assert findings(backend, keys, since=at + dt.timedelta(seconds=1)) == []
    assert [f.event_id for f in findings(backend, keys, since=at, until=at + dt.timedelta(seconds=1))] == [
        str(target.event.event_id)
    ]


def test_an_unanswered_request_is_late_only_once_its_deadline_has_passed(
    stored: tuple[LocalQueries, Settings], scenario: tuple[list, list[PlantedFinding]]
) -> None:
    backend, _ = stored
    _, planted = scenario
    unanswered = next(p for p in planted if p.kind == "late_answer" and p.event.request_id.endswith("0"))  # type: ignore[attr-defined]
    received = unanswered.event.occurred_at
    early = findings(backend, kinds=["late_answer"], as_of=received + dt.timedelta(days=20))
    late = findings(backend, kinds=["late_answer"], as_of=received + dt.timedelta(days=40))
    assert str(unanswered.event.event_id) not in {f.event_id for f in early}
    assert str(unanswered.event.event_id) in {f.event_id for f in late}


def test_every_query_for_one_subject_reads_only_that_subjects_range(
    stored: tuple[LocalQueries, Settings], scenario: tuple[list, list[PlantedFinding]]
) -> None:
    """Each read of the log by a per-subject query (every finding kind asked for one person, the person's
    rows the Python rules judge, the lineage pages and their links) goes through the primary key on
    subject_key and selects only some granules: a rule rewritten to join or scan without the subject's key
    would read the whole log for every subject asked about."""
    import re

    from pdtrail.queries import load_sql
    from pdtrail.queries._links import LINK_TYPES

    backend, settings = stored
    _, planted = scenario
    register = load_register()
    keys = Pseudonymiser.from_settings(settings).lookup_keys(SubjectKind.PERSONNUMMER, planted[0].subject.personnummer)
    available = {
        "subject_keys": keys, "person_key": keys[0], "since": "2025-01-01 00:00:00.000000",
        "until": "2027-01-01 00:00:00.000000", "as_of": "2027-06-01 00:00:00.000000", "limit": 100, "offset": 0,
        "via_keys": [], "via_labels": [], "link_types": LINK_TYPES, **register.rules, **register.retention_params(),
    }  # fmt: skip
    granules = int(backend.client.command("SELECT sum(marks) FROM system.parts WHERE table = 'events' AND active"))
    assert granules > 4  # enough of a log that reading one subject's range shows
    names = [f"finding_{kind}" for kind in FINDING_KINDS]
    names += ["person_rows", "subject_links", "who_accessed", "timeline", "who_accessed@links", "timeline@links"]
    for name in names:
        sql = load_sql(name)
        params = {k: v for k, v in available.items() if "{" + k + ":" in sql}
        plan = "\n".join(
            r[0] for r in backend.client.query("EXPLAIN indexes = 1 " + sql, parameters=params).result_rows
        )
        reads = plan.split("ReadFromMergeTree (")[1:]
        assert reads, name
        for read in (re.sub(r"[│├└─]", " ", r) for r in reads):  # the plan's tree drawn out
            assert read.startswith(f"{settings.store.database}.events)"), (name, read[:80])
            assert re.search(r"Keys:\s+subject_key\b", read) and "(subject_key in " in read, (name, read)
            selected = [int(a) for a, _ in re.findall(r"Granules: (\d+)/(\d+)", read)]
            assert selected and max(selected) < granules / 2, (name, selected, granules)


def test_one_persons_rows_read_in_short_pages_are_the_rows_read_at_once(
    stored: tuple[LocalQueries, Settings], scenario: tuple[list, list[PlantedFinding]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The person's rows come in keyset pages (each from the last row of the one before): pages of a few rows
    give the same rows, in the same order, and the same findings as one read."""
    from pdtrail.queries import _findings

    backend, settings = stored
    _, planted = scenario
    pseudonymiser = Pseudonymiser.from_settings(settings)
    as_of = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)
    people = list(dict.fromkeys(p.subject for p in planted if p.kind))[:6]
    whole = {}
    for subject in people:
        keys = pseudonymiser.lookup_keys(SubjectKind.PERSONNUMMER, subject.personnummer)
        whole[subject] = (_findings._person_rows(backend, keys), findings(backend, keys, as_of=as_of))
    assert max(len(rows) for rows, _ in whole.values()) > 7
    for page in (1, 2, 7):
        monkeypatch.setattr(_findings, "PERSON_PAGE", page)
        for subject in people:
            keys = pseudonymiser.lookup_keys(SubjectKind.PERSONNUMMER, subject.personnummer)
            assert (_findings._person_rows(backend, keys), findings(backend, keys, as_of=as_of)) == whole[subject]
