"""Through the real broker: identifiers hidden in every free-text field of every event are all refused by
the SDK, and none of them is in the broker's log segments or in the store, byte for byte, while the
events sent beside them are (so the search would have found them)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdtrail.config import Settings
from pdtrail.consumers import AuditConsumer
from pdtrail.producers import AuditEmitter, InvalidEventError
from pdtrail.schemas import PersonalDataAccessed
from pdtrail.store import connect
from tests.integration.helpers import read_topic
from tests.security._identifier_spellings import Spelled
from tests.security.test_identifiers_fields import FIELDS, values_for, with_value
from tests.unit._factories import event_data


def _needles(spelled: Spelled) -> list[bytes]:
    """Every form in which the identifier could have landed: as written, and its plain forms."""
    core = spelled.core
    forms = [spelled.text, core, core.upper()]
    if spelled.kind != "email":
        short = core[-10:]
        forms += [short, f"{short[:6]}-{short[6:]}", f"{short[:6]}+{short[6:]}"]
        if len(core) == 12:
            forms.append(f"{core[:8]}-{core[8:]}")
    return sorted({f.encode() for f in forms})


def _segments(broker_dir: Path, topic: str) -> bytes:
    """The bytes of every file of every partition of ``topic`` in the broker's data directory."""
    found = [p for d in (broker_dir / "data").glob(f"{topic}-*") for p in sorted(d.iterdir()) if p.is_file()]
    assert found, "no partition directories of the topic"
    return b"".join(p.read_bytes() for p in found)


@pytest.fixture
def plain_pipeline(pipeline: Settings) -> Settings:
    """``pipeline`` with compression off, so that the bytes of a record are the bytes in the segment."""
    kafka = pipeline.kafka.model_copy(update={"producer": {"compression.type": "none"}})
    return pipeline.model_copy(update={"kafka": kafka})


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_identifiers_in_every_field_never_reach_kafka_or_the_store(
    kafka_broker: Any, plain_pipeline: Settings, data: st.DataObject
) -> None:
    attempts: list[tuple[str, Spelled]] = []
    marker = f"marker-{uuid.uuid4().hex}"
    sent = 0
    with AuditEmitter(plain_pipeline) as emitter:
        for cls, path, kind in FIELDS:
            for _ in range(4):
                spelled = data.draw(values_for(kind))
                event = with_value(cls, path, spelled.text)
                event["occurred_at"] = event["occurred_at"].isoformat()
                with pytest.raises(InvalidEventError) as info:
                    emitter.emit({"type": cls.model_fields["type"].default, **event})
                assert path in [f for f, _ in info.value.problems]
                attempts.append((path, spelled))
            # Beside each refused batch, an event that is sent: it must be found where the others are not.
            emitter.emit(PersonalDataAccessed(**event_data(PersonalDataAccessed, resource=f"{marker}/{path}")))
            sent += 1
        assert emitter.flush(30) == 0
    assert emitter.stats.delivered == sent
    assert len(read_topic(plain_pipeline, plain_pipeline.kafka.topic, expected=sent)) == sent

    segments = _segments(kafka_broker.data_dir, plain_pipeline.kafka.topic)
    assert segments.count(marker.encode()) >= sent  # uncompressed and on disk: the search can see
    leaked = [(path, n) for path, s in attempts for n in _needles(s) if n in segments]
    assert leaked == []

    client = connect(plain_pipeline)
    AuditConsumer(plain_pipeline, client).run(drain=True)
    dump = client.raw_query("SELECT * FROM events FORMAT TabSeparated")
    assert dump.count(b"\n") == sent and dump.count(marker.encode()) == sent
    assert [(path, n) for path, s in attempts for n in _needles(s) if n in dump] == []
