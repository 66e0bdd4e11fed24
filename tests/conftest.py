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
from typing import Any

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


def pipeline_settings(bootstrap_servers: str, home: Path, store_dir: Path, **overrides: Any) -> Settings:
    """Settings with topics, consumer group and database of their own (``overrides`` per section, merged)."""
    name = uuid.uuid4().hex[:10]
    sections: dict[str, dict[str, Any]] = {
        "kafka": {
            "bootstrap_servers": bootstrap_servers,
            "topic": f"events-{name}",
            "dead_letter_topic": f"events-{name}.dlq",
            "group_id": f"ingest-{name}",
            "partitions": 3,
        },
        "store": {"dsn": f"chdb://{store_dir}", "database": f"t_{name}"},
        "pseudonym": {"secret": SECRET},
        "consumer": {"linger_s": 0.2, "drain_idle_s": 20},
        "integrity": {"signing_key": SIGNING_KEY, "checkpoint_topic": f"checkpoints-{name}"},
    }
    for section, values in overrides.items():
        sections[section] = {**sections.get(section, {}), **values}
    return load_settings(home=home, **sections)


@pytest.fixture
def settings(kafka_broker: object, store_dir: Path, tmp_path: Path) -> Settings:
    """Settings for one test: its own topics, consumer group and database, on the session's broker."""
    servers = kafka_broker.bootstrap_servers  # type: ignore[attr-defined]
    return pipeline_settings(servers, tmp_path, store_dir, integrity={"checkpoint_every_events": 100})


def cli_env(settings: Settings, home: Path, store: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``pdtrail`` subprocess using ``settings``' broker and topics, a store of its own."""
    return {
        **os.environ,
        "PDTRAIL_HOME": str(home),
        "PDTRAIL_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "PDTRAIL_KAFKA__TOPIC": settings.kafka.topic,
        "PDTRAIL_KAFKA__DEAD_LETTER_TOPIC": settings.kafka.dead_letter_topic,
        "PDTRAIL_KAFKA__GROUP_ID": settings.kafka.group_id,
        "PDTRAIL_STORE__DSN": f"chdb://{store}",
        "PDTRAIL_PSEUDONYM__SECRET": SECRET,
        "PDTRAIL_INTEGRITY__SIGNING_KEY": SIGNING_KEY,
        "PDTRAIL_INTEGRITY__CHECKPOINT_TOPIC": settings.integrity.checkpoint_topic,
        "PDTRAIL_CONSUMER__LINGER_S": "0.2",
        **extra,
    }


@pytest.fixture
def pipeline(settings: Settings) -> Settings:
    """``settings`` with the topics created and the schema applied."""
    from pdtrail.infra import apply_migrations, ensure_topics
    from pdtrail.store import connect

    ensure_topics(settings)
    apply_migrations(connect(settings))
    return settings
