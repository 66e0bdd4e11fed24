"""SDK → real Kafka → consumer → chDB on disk → lineage answers."""

from __future__ import annotations

from collections import Counter

from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer
from pdtrail.producers import AuditEmitter, Pseudonymiser
from pdtrail.queries import LocalQueries, SubjectLineage
from pdtrail.schemas import PersonalDataAccessed
from pdtrail.simulate import simulate_company
from pdtrail.store import connect
from tests.integration.helpers import stored_counts


def test_every_emitted_event_is_stored_once_and_answers_who_accessed(pipeline: Settings) -> None:
    journeys = list(simulate_company(40, seed=11))
    with AuditEmitter(pipeline) as emitter:
        ids = {emitter.emit(event) for _, event in journeys}
        assert emitter.flush(30) == 0
    assert emitter.stats.delivered == len(journeys) and emitter.stats.failed == 0

    client = connect(pipeline)
    stats = AuditConsumer(pipeline, client).run(drain=True)
    assert stats.stored == len(journeys) and stats.dead_lettered == 0
    assert stored_counts(client) == (len(journeys), len(journeys))
    stored_ids = {row[0] for row in client.query("SELECT event_id FROM events").result_rows}
    assert stored_ids == ids

    accesses = Counter(s.personnummer for s, e in journeys if isinstance(e, PersonalDataAccessed))
    subject, expected = accesses.most_common(1)[0]
    lineage = SubjectLineage(LocalQueries(client), Pseudonymiser.from_settings(pipeline))
    short_form = f"{subject[2:8]}-{subject[8:]}"  # the 10-digit form a DPO may be handed
    answer = lineage.who_accessed(short_form)
    assert len(answer.rows) == expected
    assert {r["actor_type"] for r in answer.as_dicts()} == {"employee"}
    times = [r["occurred_at"] for r in answer.as_dicts()]
    assert times == sorted(times, reverse=True)

    timeline = lineage.timeline(subject).as_dicts()
    per_subject = [e for s, e in journeys if s.personnummer == subject]
    assert len(timeline) == len(per_subject)
    assert [r["occurred_at"] for r in timeline] == sorted(r["occurred_at"] for r in timeline)
    assert {r["event_type"] for r in timeline} >= {"personal_data.collected", "credit_check.performed"}


def test_time_range_limits_the_answer(pipeline: Settings) -> None:
    journeys = list(simulate_company(10, seed=3))
    with AuditEmitter(pipeline) as emitter:
        for _, event in journeys:
            emitter.emit(event)
    client = connect(pipeline)
    AuditConsumer(pipeline, client).run(drain=True)
    subject = journeys[0][0].personnummer
    own = sorted(e.occurred_at for s, e in journeys if s.personnummer == subject)
    lineage = SubjectLineage(LocalQueries(client), Pseudonymiser.from_settings(pipeline))
    middle = own[len(own) // 2]
    later = lineage.timeline(subject, since=middle).as_dicts()
    assert len(later) == len([t for t in own if t >= middle])
    earlier = lineage.timeline(subject, until=middle).as_dicts()
    assert len(earlier) + len(later) == len(own)
