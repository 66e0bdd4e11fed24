"""One process owns an embedded store; the others ask it. Runs `pdtrail serve` as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pdtrail.config import Settings, load_settings
from pdtrail.producers import AuditEmitter
from pdtrail.queries import RemoteQueries, StoreUnavailableError
from pdtrail.simulate import simulate_company
from pdtrail.store import open_query_backend, read_owner
from tests.conftest import SECRET, SIGNING_KEY


def _env(settings: Settings, store: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PDTRAIL_HOME=str(settings.home),
        PDTRAIL_KAFKA__BOOTSTRAP_SERVERS=settings.kafka.bootstrap_servers,
        PDTRAIL_KAFKA__TOPIC=settings.kafka.topic,
        PDTRAIL_KAFKA__DEAD_LETTER_TOPIC=settings.kafka.dead_letter_topic,
        PDTRAIL_KAFKA__GROUP_ID=settings.kafka.group_id,
        PDTRAIL_STORE__DSN=f"chdb://{store}",
        PDTRAIL_PSEUDONYM__SECRET=SECRET,
        PDTRAIL_INTEGRITY__SIGNING_KEY=SIGNING_KEY,
        PDTRAIL_INTEGRITY__CHECKPOINT_TOPIC=settings.integrity.checkpoint_topic,
        PDTRAIL_CONSUMER__LINGER_S="0.2",
    )
    return env


def _pdtrail(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pdtrail", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_queries_go_through_the_owner_while_it_consumes(settings: Settings, tmp_path: Path) -> None:
    from pdtrail.infra import ensure_topics

    ensure_topics(settings)
    store = tmp_path / "owned-store"
    env = _env(settings, store)
    owned = load_settings(
        home=settings.home, store={"dsn": f"chdb://{store}"}, pseudonym={"secret": SECRET},
        kafka=settings.kafka.model_dump(), integrity=settings.integrity.model_dump(),
    )  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "pdtrail", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while read_owner(owned) is None and time.monotonic() < deadline:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            time.sleep(0.2)
        owner = read_owner(owned)
        assert owner is not None and owner.pid == server.pid
        assert (Path(f"{store}.owner.json").stat().st_mode & 0o777) == 0o600

        journeys = list(simulate_company(15, seed=21))
        with AuditEmitter(owned) as emitter:
            for _, event in journeys:
                emitter.emit(event)
        subject = journeys[0][0].personnummer
        expected = len([e for s, e in journeys if s.personnummer == subject])

        backend = open_query_backend(owned)
        assert isinstance(backend, RemoteQueries)
        from pdtrail.producers import Pseudonymiser
        from pdtrail.queries import SubjectLineage

        lineage = SubjectLineage(backend, Pseudonymiser.from_settings(owned))
        deadline = time.monotonic() + 60
        while len(lineage.timeline(subject).rows) < expected and time.monotonic() < deadline:
            time.sleep(0.3)  # the owner is consuming while we ask
        rows = lineage.timeline(subject).as_dicts()
        assert len(rows) == expected
        assert rows[0]["occurred_at"].tzinfo is not None  # typed values survive the trip

        cli = _pdtrail("timeline", subject, "--format", "json", env=env)
        assert cli.returncode == 0, cli.stderr
        assert len([json.loads(line) for line in cli.stdout.splitlines()]) == expected

        second = _pdtrail("db", "migrate", env=env)  # a second process may not open the store
        assert second.returncode == 2 and "in use by process" in second.stderr
        consume = _pdtrail("consume", "--drain", env=env)
        assert consume.returncode == 2 and "owns the embedded store" in consume.stdout

        with pytest.raises(StoreUnavailableError):
            RemoteQueries(owner.url.rsplit(":", 1)[0] + ":1", owner.token).run("timeline", {})
    finally:
        server.terminate()
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err.decode()
    assert read_owner(owned) is None  # the owner file goes with the owner
    assert b"stored" in out


def test_a_server_dsn_never_consults_an_owner_file(settings: Settings) -> None:
    """Against a ClickHouse server every process connects directly (here: nothing listens, so it says so)."""
    from pdtrail.errors import RetryableError

    server = settings.model_copy(update={"store": settings.store.model_copy(update={"dsn": "http://127.0.0.1:1"})})
    assert not server.store_is_embedded
    with pytest.raises(RetryableError, match=r"cannot open the store at http://127\.0\.0\.1:1"):
        open_query_backend(server)
