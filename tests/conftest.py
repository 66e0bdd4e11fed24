"""Shared fixtures. The broker starts once per session; each test gets its own topics and database.

chDB hosts one on-disk store per process, so every test of this process uses the session's store
directory, each in a database of its own. Tests that need a store of their own run pdtrail in a
subprocess.
"""

from __future__ import annotations

import base64
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pdtrail.config import Settings, load_settings

SECRET = "test-secret-" + "x" * 32
# One checkpoint signing key for the session (base64 of the raw Ed25519 private bytes).
SIGNING_KEY = base64.b64encode(os.urandom(32)).decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from pdtrail.infra import LocalBroker

    broker = LocalBroker(tmp_path_factory.mktemp("kafka"), port=free_port(), controller_port=free_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store") / "clickhouse"


@pytest.fixture
def settings(kafka_broker: object, store_dir: Path, tmp_path: Path) -> Settings:
    """Settings for one test: its own topics, consumer group and database, on the session's broker."""
    name = uuid.uuid4().hex[:10]
    return load_settings(
        home=tmp_path,
        kafka={
            "bootstrap_servers": kafka_broker.bootstrap_servers,  # type: ignore[attr-defined]
            "topic": f"events-{name}",
            "dead_letter_topic": f"events-{name}.dlq",
            "group_id": f"ingest-{name}",
            "partitions": 3,
        },
        store={"dsn": f"chdb://{store_dir}", "database": f"t_{name}"},
        pseudonym={"secret": SECRET},
        consumer={"linger_s": 0.2, "drain_idle_s": 20},
        integrity={
            "signing_key": SIGNING_KEY,
            "checkpoint_topic": f"checkpoints-{name}",
            "checkpoint_every_events": 100,
        },
    )


@pytest.fixture
def pipeline(settings: Settings) -> Settings:
    """``settings`` with the topics created and the schema applied."""
    from pdtrail.infra import apply_migrations, ensure_topics
    from pdtrail.store import connect

    ensure_topics(settings)
    apply_migrations(connect(settings))
    return settings
