"""The SDK's Prometheus metrics: one collector over every live emitter of the process.

Registered in prometheus_client's default registry, which is what a service already exposes (its own
``/metrics``), so the audit trail's health shows next to the service's: the spool depth says how much is
waiting on disk for the broker, pending how much librdkafka holds, failed what the broker refused for good.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


class EmitterCollector(Collector):
    def __init__(self, emitters: Callable[[], Iterable[Any]]) -> None:
        self._emitters = emitters

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        stats = [e.stats for e in self._emitters()]
        spooled = GaugeMetricFamily("pdtrail_emitter_spool_depth", "Events waiting on disk for the broker.")
        spooled.add_metric([], sum(s.spooled for s in stats))
        pending = GaugeMetricFamily("pdtrail_emitter_pending", "Events in librdkafka, not yet confirmed.")
        pending.add_metric([], sum(s.pending for s in stats))
        yield spooled
        yield pending
        for name, text in (
            ("emitted", "Events accepted by emit()."),
            ("delivered", "Events Kafka confirmed."),
            ("failed", "Events the broker refused for good (not spooled)."),
        ):
            family = CounterMetricFamily(f"pdtrail_emitter_{name}", text)
            family.add_metric([], sum(getattr(s, name) for s in stats))
            yield family


_registered = False


def register_emitter_metrics(emitters: Callable[[], Iterable[Any]]) -> None:
    """Once per process: a second emitter is counted by the same collector."""
    global _registered
    if not _registered:
        REGISTRY.register(EmitterCollector(emitters))
        _registered = True
