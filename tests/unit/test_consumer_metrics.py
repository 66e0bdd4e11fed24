"""The consumer's metrics and health endpoint, without Kafka or a store."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest
from pydantic import ValidationError

from pdtrail.config import Settings
from pdtrail.consumers import ConsumerMetrics
from pdtrail.consumers._metrics import MetricsServer


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_each_consumer_has_its_own_registry() -> None:
    first, second = ConsumerMetrics(), ConsumerMetrics()
    first.duplicates.inc(3)
    first.batch_size.observe(500)
    first.dead_lettered.labels("oversized").inc()
    assert first.registry.get_sample_value("pdtrail_consumer_duplicates_dropped_total") == 3
    assert second.registry.get_sample_value("pdtrail_consumer_duplicates_dropped_total") == 0
    assert first.registry.get_sample_value("pdtrail_consumer_batch_rows_count") == 1
    assert first.registry.get_sample_value("pdtrail_consumer_dead_lettered_total", {"reason": "oversized"}) == 1


@pytest.mark.parametrize(
    ("state", "status"), [("running", 200), ("starting", 200), ("retrying", 503), ("stopped", 503)]
)
def test_health_answers_by_state_and_metrics_are_prometheus_text(state: str, status: int) -> None:
    metrics = ConsumerMetrics()
    metrics.lag.labels("2").set(17)
    report: dict[str, Any] = {"state": state, "last_error": "insert failed: table gone" if state == "retrying" else ""}
    server = MetricsServer(metrics, lambda: report).start()
    try:
        code, body = _get(f"http://127.0.0.1:{server.port}/health")
        assert code == status
        assert json.loads(body)["state"] == state
        code, body = _get(f"http://127.0.0.1:{server.port}/metrics")
        assert code == 200
        assert 'pdtrail_consumer_lag{partition="2"} 17.0' in body.decode()
        assert _get(f"http://127.0.0.1:{server.port}/nope")[0] == 404
    finally:
        server.stop()


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1", "::"])
def test_pdtrail_health_reaches_the_consumer_on_the_address_it_listens_on(host: str, isolated_env: None) -> None:
    if ":" in host and not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    from pdtrail._cli._ops_cmds import _check_consumer

    server = MetricsServer(ConsumerMetrics(), lambda: {"state": "running", "stored": 3}, host=host).start()
    try:
        settings = Settings(consumer={"metrics_port": server.port, "metrics_host": host})
        checked = _check_consumer(settings)
        assert checked["ok"] is True and checked["state"] == "running", checked
    finally:
        server.stop()


@pytest.mark.parametrize("host", ["localhost", "metrics.example", "0.0.0.0.0", "", "127.0.0.1:9464"])
def test_the_metrics_address_must_be_an_ip_address(host: str, isolated_env: None) -> None:
    with pytest.raises(ValidationError, match="metrics_host"):
        Settings(consumer={"metrics_host": host})
