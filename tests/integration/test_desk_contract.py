"""The desk's API keeps its OpenAPI contract, checked by schemathesis as an outside client would.

A small company's stream goes through the real pipeline (SDK → Kafka → consumer → chDB); the desk is
then run in-process and schemathesis (4.x) tests every operation of the document the desk publishes:
explicit examples, boundary values, random requests, and call sequences that follow the document's
links (``POST /subjects`` → the subject's views) with a real reference. Every built-in check is on:
a status, header, content type or body the document does not declare, a schema-valid request the
desk refuses, an invalid one it takes, a 405 without ``Allow``, a request that ignores the token.

New endpoints are covered as soon as they are in the document: nothing here names an operation.
The run is bounded (examples per operation, a fixed seed, one worker) so it stays well under two
minutes on a busy two-core machine.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.engine import Status, events, from_schema
from schemathesis.openapi.checks import RejectedPositiveData

from pdtrail.consumers import AuditConsumer
from pdtrail.desk import create_app, new_token
from pdtrail.infra import apply_migrations, ensure_topics
from pdtrail.producers import AuditEmitter
from pdtrail.queries import LocalQueries
from pdtrail.simulate import simulate_company
from pdtrail.store import connect
from tests.conftest import pipeline_settings

SEED = 20261202
EXAMPLES = 20  # per operation and phase: enough to reach each parameter's bounds, and quick


@pytest.fixture(scope="module")
def desk_app(kafka_broker: Any, store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    token, entry = new_token("dpo-contract", "dpo")
    settings = pipeline_settings(
        kafka_broker.bootstrap_servers,
        tmp_path_factory.mktemp("desk-contract"),
        store_dir,
        desk={"tokens": [entry.model_dump()], "max_page_size": 50},
    )
    ensure_topics(settings)
    client = connect(settings)
    apply_migrations(client)
    with AuditEmitter(settings) as emitter:
        for _, event in simulate_company(8, seed=41):
            emitter.emit(event)
        assert emitter.flush(30) == 0
    AuditConsumer(settings, client).run(drain=True)
    app = create_app(settings, LocalQueries(connect(settings, create_database=False)))
    yield app, token
    app.state.desk.close()


def _config(token: str) -> schemathesis.Config:
    load_all_checks()
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "headers": {"Authorization": f"Bearer {token}"},
            "generation": {"max-examples": EXAMPLES},
            # Every built-in check, by name, so a check added by a later schemathesis is on too.
            "checks": {name: {"enabled": True} for name in CHECKS.get_all_names()},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": 6},
            },
        }
    )


def _zoned(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # naive moments are UTC at the desk


def _beyond_json_schema(_context: Any, failure: Any, case: Any, response: Any) -> bool:
    """False for the two refusals of schema-valid requests that a JSON Schema cannot express, and that the
    document states in words: an identifier that is not valid for its kind (a personnummer's check digit,
    an e-mail address) and a period whose ``since`` is not before its ``until``. Only a 422 that names
    exactly that field is let through; every other failure stands."""
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
        return True
    field = (response.json().get("error") or {}).get("field")
    if case.method == "POST" and case.path == "/api/v1/subjects":
        return field != "identifier"
    query = case.query or {}
    if field == "since" and query.get("since") and query.get("until"):
        since, until = (dt.datetime.fromisoformat(query[name]) for name in ("since", "until"))
        return not _zoned(since) >= _zoned(until)
    return True


def _failed(recorder: Any) -> Iterator[tuple[str, str]]:
    """(check, what was sent and answered) for every failed check of one scenario."""
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status != Status.FAILURE:
                continue
            case = recorder.cases[case_id].value
            info = check.failure_info.failure if check.failure_info else None
            answer = recorder.interactions.get(case_id)
            status = answer.response.status_code if answer and answer.response else None
            sent = {"path": case.path_parameters, "query": case.query, "body": case.body}
            yield (
                check.name,
                f"{check.name}: {case.method} {case.path} {sent} -> {status}: {getattr(info, 'title', info)}",
            )


def _run(app: Any, token: str) -> tuple[Counter[str], list[str], set[str]]:
    """Failures by check, their descriptions, and the phases that ran."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, config=_config(token))
    schema.hook("filter_failure")(_beyond_json_schema)
    failures: Counter[str] = Counter()
    described: list[str] = []
    phases: set[str] = set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            phases.add(str(getattr(event, "phase", "fuzzing")))
            for check, description in _failed(event.recorder):
                failures[check] += 1
                described.append(description)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            pytest.fail(f"schemathesis could not run: {getattr(event, 'info', None) or event.exception}")
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:
                failures[failure.title] += 1
                described.append(str(failure.title))
    return failures, described, phases


KEYED_LOOKUPS = {"/api/v1/subjects/by_key"}  # a subject opened by its key: 404 when no event holds it


def test_every_operation_keeps_the_documented_contract(desk_app: tuple[Any, str]) -> None:
    app, token = desk_app
    failures, described, phases = _run(app, token)
    assert not failures, f"{sum(failures.values())} failures {dict(failures)}:\n" + "\n".join(sorted(set(described)))
    assert {"examples", "coverage", "fuzzing", "stateful"} <= {p.split(".")[-1].lower() for p in phases}, phases


def test_the_document_links_a_looked_up_subject_to_every_view_and_declares_errors(desk_app: tuple[Any, str]) -> None:
    app, _ = desk_app
    paths = app.openapi()["paths"]
    links = paths["/api/v1/subjects"]["post"]["responses"]["201"]["links"]
    views = {
        op["operationId"] for path, ops in paths.items() if path.startswith("/api/v1/subjects/{") for op in ops.values()
    }
    assert views and set(links) == views
    assert {link["parameters"]["path.reference"] for link in links.values()} == {"$response.body#/subject"}
    for path, operations in paths.items():
        for operation in operations.values():
            declared = set(operation["responses"])
            assert {"401", "422"} <= declared, path
            if "{" in path:  # a path's values may name nothing
                assert "404" in declared, path
            # Without path parameters only a lookup by a body's value may find nothing.
            assert "404" in declared or path not in KEYED_LOOKUPS, path
            assert "{" in path or "404" not in declared or path in KEYED_LOOKUPS, path
            assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"
            }
