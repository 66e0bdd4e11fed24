"""The store owner's query endpoint against malformed HTTP from a raw socket: every request gets an
answer (400 for what is not HTTP, 401 without the token, 413 for too much, 408 for a body that never
comes) or a closed connection, within a deadline; never a 5xx, a traceback or a hang; and the
endpoint keeps answering real queries (on the real chDB store) afterwards."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdtrail.config import Settings
from pdtrail.queries import LocalQueries, RemoteQueries
from pdtrail.store import QueryServer, connect
from pdtrail.store import _server as server_module

TOKEN = "owner-token-for-tests"
DEADLINE_S = 8.0


@pytest.fixture(scope="module")
def endpoint(kafka_broker: Any, store_dir: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[QueryServer]:
    from pdtrail.infra import apply_migrations
    from tests.conftest import pipeline_settings

    settings_: Settings = pipeline_settings(kafka_broker.bootstrap_servers, tmp_path_factory.mktemp("h"), store_dir)
    apply_migrations(connect(settings_))
    patch = pytest.MonkeyPatch()
    patch.setattr(server_module, "BODY_TIMEOUT_S", 1.0)  # a body that never comes: answered in a second
    server = QueryServer(LocalQueries(connect(settings_, create_database=False)), TOKEN).start()
    yield server
    server.stop()
    patch.undo()


def _exchange(server: QueryServer, data: bytes, *, half_close: bool = False) -> bytes:
    """Send ``data``; everything the server sends back until it closes or stops for a moment."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=DEADLINE_S) as conn:
        conn.sendall(data)
        if half_close:
            conn.shutdown(socket.SHUT_WR)
        received = b""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                return received or b"<reset>"
            if not chunk:
                return received or b"<closed>"
            received += chunk
            if b"\r\n\r\n" in received and _complete(received):
                return received
        raise AssertionError(f"no answer and no close within {DEADLINE_S}s: {received[:200]!r}")


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return True


def _status(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1."):
        return None
    return int(answer.split(b" ", 2)[1])


def _still_answers(server: QueryServer) -> None:
    params = {
        "actor_id": "emp-1", "since": "2020-01-01 00:00:00.000000", "until": "2030-01-01 00:00:00.000000",
        "limit": 1, "offset": 0,
    }  # fmt: skip
    through = RemoteQueries(server.url, TOKEN, timeout_s=DEADLINE_S).run("actor_activity", params)
    assert through == server.app.backend.run("actor_activity", params)  # the real query, on the real store


def _request(length: str, body: bytes, *, token: str = TOKEN, path: str = "/v1/query/actor_activity") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1") + body


LENGTHS = st.one_of(
    st.integers(-(2**63), -1).map(str),
    st.text(alphabet="0123456789abcdefx+-. \t", min_size=1, max_size=24).filter(lambda t: not t.strip().isdigit()),
    st.integers(2**31, 2**70).map(str),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(length=LENGTHS, body=st.binary(max_size=64))
def test_a_bad_content_length_gets_a_4xx_never_a_hang(endpoint: QueryServer, length: str, body: bytes) -> None:
    answer = _exchange(endpoint, _request(length, body))
    status = _status(answer)
    assert (status is None and answer in (b"<closed>", b"<reset>")) or status in (400, 413), answer[:300]
    assert b"Traceback" not in answer


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(min_size=1, max_size=2048))
def test_garbage_gets_a_400_or_a_closed_connection(endpoint: QueryServer, garbage: bytes) -> None:
    answer = _exchange(endpoint, garbage + b"\r\n\r\n", half_close=True)
    status = _status(answer)
    assert status is None or status < 500, answer[:300]
    assert b"Traceback" not in answer


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=256), st.sampled_from([b"null", b"[]", b'"x"', b"1", b'{"params": []}',
                                                                 b'{"params": "x"}', b"\xff\xfe"])))  # fmt: skip
def test_a_body_that_is_not_a_params_object_is_a_400(endpoint: QueryServer, body: bytes) -> None:
    answer = _exchange(endpoint, _request(str(len(body)), body))
    assert _status(answer) in (400,), answer[:300]
    assert answer.rstrip().endswith(b"}")  # a JSON error, not a page or a trace


def test_a_body_announced_and_never_sent_is_408_and_one_too_large_is_413(endpoint: QueryServer) -> None:
    assert _status(_exchange(endpoint, _request("100", b'{"params":'))) == 408
    assert _status(_exchange(endpoint, _request(str(server_module.MAX_BODY + 1), b"{}"))) == 413
    huge = b'{"params": {"x": "' + b"a" * (server_module.MAX_BODY + 10) + b'"}}'
    chunked = (
        b"POST /v1/query/actor_activity HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
        + b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + f"{len(huge):x}\r\n".encode() + huge + b"\r\n0\r\n\r\n"
    )  # fmt: skip
    assert _status(_exchange(endpoint, chunked)) == 413  # no Content-Length to trust: counted while read


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=60))
def test_without_the_token_nothing_runs(endpoint: QueryServer, token: str) -> None:
    if token == TOKEN:
        return
    answer = _exchange(endpoint, _request("2", b"{}", token=token))
    assert _status(answer) == 401


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/query/x", 405), ("POST", "/v1/health", 405), ("GET", "/other", 404), ("DELETE", "/v1/health", 405)],
)
def test_other_methods_and_paths_are_json_errors(endpoint: QueryServer, method: str, path: str, status: int) -> None:
    request = f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    answer = _exchange(endpoint, request.encode())
    assert _status(answer) == status and answer.rstrip().endswith(b"}")


def test_after_all_that_it_still_answers_and_logged_no_traceback(
    endpoint: QueryServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        tls_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64)  # a TLS client at a plain port
        for data in (_request("-1", b""), tls_hello, _request("9", b"{")):
            _exchange(endpoint, data, half_close=True)
        _still_answers(endpoint)
    assert not [r for r in caplog.records if r.exc_info], "an exception reached the log"
