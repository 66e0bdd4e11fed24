"""Small helpers for the integration tier: read topics back, count rows."""

from __future__ import annotations

from confluent_kafka import Consumer, Message

from pdtrail.config import Settings


def read_topic(settings: Settings, topic: str, expected: int, timeout_s: float = 30.0) -> list[Message]:
    """Every message of ``topic`` from the beginning (stops at ``expected`` or when all partitions end)."""
    import time

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": f"reader-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while len(found) < expected and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            found.append(msg)
    # A little longer, so that more than expected would be seen too.
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        msg = consumer.poll(0.2)
        if msg is not None and msg.error() is None:
            found.append(msg)
    consumer.close()
    return found


def stored_counts(client: object) -> tuple[int, int]:
    """(rows, distinct event ids) in the events table."""
    rows, distinct = client.query("SELECT count(), uniqExact(event_id) FROM events").result_rows[0]  # type: ignore[attr-defined]
    return int(rows), int(distinct)


def sign_in(client: object, token: str, origin: str = "http://testserver") -> None:
    """Sign a desk TestClient in through the UI's own form: its sign-in CSRF token, its Origin."""
    import re

    form = client.get("/login")  # type: ignore[attr-defined]
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, "the sign-in form carries a CSRF token"
    answer = client.post(  # type: ignore[attr-defined]
        "/login", data={"token": token, "csrf": csrf.group(1)}, headers={"Origin": origin}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
