"""What the consumer reports: Prometheus metrics, and a state anyone can ask for.

Each consumer has a registry of its own, so two consumers in one process (a rebalance test, a service
running two groups) never share a counter. ``MetricsServer`` serves ``/metrics`` (Prometheus text)
and ``/health`` (JSON: state, last error, counters) on 127.0.0.1; ``/health`` answers 503 while the
consumer is not running normally, so a probe or ``pdtrail health`` sees a stalled ingest.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

logger = logging.getLogger("pdtrail.consumers")

# States the consumer reports. "running" is the only healthy one once started.
STARTING, RUNNING, RETRYING, PAUSED, STOPPED = "starting", "running", "retrying", "paused", "stopped"
HEALTHY_STATES = frozenset({STARTING, RUNNING})


class ConsumerMetrics:
    """The consumer's Prometheus metrics, in ``registry`` (a fresh one unless given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.lag = Gauge("pdtrail_consumer_lag", "Messages behind the end of the partition.", ["partition"], registry=r)
        self.batch_size = Histogram(
            "pdtrail_consumer_batch_rows", "Rows per stored batch.",
            buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10_000, 50_000), registry=r,
        )  # fmt: skip
        self.insert_latency = Histogram(
            "pdtrail_consumer_insert_seconds", "Time to store one batch (all its monthly inserts, retries included).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=r,
        )  # fmt: skip
        self.consumed = Counter("pdtrail_consumer_consumed", "Messages read from Kafka.", registry=r)
        self.stored = Counter("pdtrail_consumer_stored", "Rows stored in ClickHouse.", registry=r)
        self.dead_lettered = Counter(
            "pdtrail_consumer_dead_lettered", "Messages sent to the dead-letter topic.", ["reason"], registry=r
        )
        self.duplicates = Counter(
            "pdtrail_consumer_duplicates_dropped", "Messages whose event_id was stored already.", registry=r
        )
        self.retries = Counter("pdtrail_consumer_store_retries", "Store writes tried again.", registry=r)
        self.abandoned = Counter(
            "pdtrail_consumer_batches_abandoned",
            "Batches left unwritten (to be read again) after the store failed for most of max.poll.interval.ms.",
            registry=r,
        )
        self.up = Gauge("pdtrail_consumer_healthy", "1 while the consumer runs normally, else 0.", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class MetricsServer:
    """``/metrics`` and ``/health`` for one consumer on ``host:port`` (0 = a free port), in a thread."""

    def __init__(
        self, metrics: ConsumerMetrics, health: Callable[[], dict[str, Any]], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        server = _IPv6Server if ":" in host else ThreadingHTTPServer
        self._httpd = server((host, port), _handler(metrics, health))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="pdtrail-metrics", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(metrics: ConsumerMetrics, health: Callable[[], dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "pdtrail"

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("metrics endpoint: " + format, *args)

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, metrics.render(), CONTENT_TYPE_LATEST)
            elif self.path == "/health":
                report = health()
                status = 200 if report.get("state") in HEALTHY_STATES else 503
                self._send(status, json.dumps(report).encode(), "application/json")
            else:
                self._send(404, json.dumps({"error": f"no such endpoint: {self.path}"}).encode(), "application/json")

    return Handler
