"""No raw identifier reaches Kafka or ClickHouse: scan every byte of both for every spelling."""

from __future__ import annotations

import random

from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer
from pdtrail.producers import Actor, AuditEmitter, PersonalDataAccessed, SubjectIdentifier
from pdtrail.simulate import generate_personnummer
from pdtrail.store import connect
from tests.integration.helpers import read_topic


def _spellings(pnr: str) -> list[str]:
    return [pnr, pnr[2:], f"{pnr[:8]}-{pnr[8:]}", f"{pnr[2:8]}-{pnr[8:]}"]


def test_raw_identifiers_never_leave_the_sdk(pipeline: Settings) -> None:
    rng = random.Random(2024)
    people = [generate_personnummer(rng) for _ in range(5)] + [generate_personnummer(rng, coordination=True)]
    email = f"kund.{rng.randrange(10**6)}@exempel.se"
    subjects = [SubjectIdentifier(kind="personnummer", value=p) for p in people]
    subjects += [
        SubjectIdentifier(kind="email", value=email.upper()),
        SubjectIdentifier(kind="customer_id", value="c-1"),
    ]
    with AuditEmitter(pipeline) as emitter:
        for subject in subjects:
            emitter.emit(
                PersonalDataAccessed(
                    subject=subject,
                    actor=Actor(type="employee", id="emp-7", role="customer_service"),
                    purpose="customer_service",
                    legal_basis="contract",
                    data_categories=("name",),
                    source_system="crm",
                    access_kind="view",
                    resource="customer-record",
                )
            )
    forbidden = [s.encode() for p in people for s in _spellings(p)] + [email.encode(), email.upper().encode()]

    messages = read_topic(pipeline, pipeline.kafka.topic, expected=len(subjects))
    assert len(messages) == len(subjects)
    kafka_bytes = b"".join((m.key() or b"") + (m.value() or b"") + repr(m.headers()).encode() for m in messages)
    assert not [f for f in forbidden if f in kafka_bytes]

    client = connect(pipeline)
    AuditConsumer(pipeline, client).run(drain=True)
    dump = client.raw_query("SELECT * FROM events FORMAT TabSeparated")
    assert dump.count(b"\n") == len(subjects)
    assert not [f for f in forbidden if f in dump]
