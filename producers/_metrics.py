"""The SDK's counters, and its Prometheus metrics: one collector over every emitter of the process.

Registered in prometheus_client's default registry, which is what a service already exposes (its own
``/metrics``), so the audit trail's health shows next to the service's: the spool depth says how much is
waiting on disk for the broker, pending how much librdkafka holds, failed what the broker refused for good.
The counters (``_total``) include emitters already closed, so closing one never looks like a reset.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

_COUNTERS = (
    ("emitted", "Events accepted by emit()."),
    ("delivered", "Events Kafka confirmed."),
    ("failed", "Events the broker refused for good (not spooled)."),
)


@dataclass(frozen=True)
class EmitterStats:
    """Counters since the emitter was created. ``pending`` = handed to librdkafka by emit(), not yet
    answered; ``spooled`` = in the on-disk spool now, including events on their way out again (counted
    there only); ``failed`` = refused by the broker for good (not spooled)."""

    emitted: int
    delivered: int
    failed: int
    pending: int
    spooled: int = 0  # on disk, waiting for the broker (included in neither delivered nor pending)


class _Owner:
    """Held by one thread's local storage: when the thread ends it goes, and folds its count into the total."""

    __slots__ = ("box", "tally")

    def __init__(self, tally: Tally, box: list[int]) -> None:
        self.tally = tally
        self.box = box

    def __del__(self) -> None:
        self.tally._retire(self.box)


class Tally:
    """A counter bumped without a lock from many threads: each thread counts in a box of its own (one
    writer per box, so no update is lost), the value is the sum. It only ever grows."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._boxes: dict[int, list[int]] = {}
        self._retired = 0
        # Taken when a thread first counts, when one ends, and to read; never per count. Re-entrant: a
        # thread's end may be noticed (garbage collected) while this thread reads.
        self._lock = threading.RLock()

    def add(self, n: int = 1) -> None:
        try:
            self._local.box[0] += n
        except AttributeError:
            box = [n]
            with self._lock:
                self._boxes[id(box)] = box
            self._local.owner = _Owner(self, box)
            self._local.box = box

    def _retire(self, box: list[int]) -> None:
        with self._lock:
            if self._boxes.pop(id(box), None) is not None:
                self._retired += box[0]

    @property
    def value(self) -> int:
        with self._lock:
            return self._retired + sum(box[0] for box in list(self._boxes.values()))


class _Retired:
    """What closed emitters counted, so the process's totals never go down. An emitter leaves the live set
    and adds its counts in one step under ``lock``, which a scrape holds too: never counted twice or not at all."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.totals = dict.fromkeys([name for name, _ in _COUNTERS], 0)

    def retire(self, emitter: Any, leave: Callable[[Any], None]) -> None:
        with self.lock:
            stats = emitter.stats
            for name in self.totals:
                self.totals[name] += getattr(stats, name)
            leave(emitter)


RETIRED = _Retired()


def _collector(emitters: Callable[[], Iterable[Any]]) -> Any:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.registry import Collector

    class EmitterCollector(Collector):
        def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
            with RETIRED.lock:
                stats = [e.stats for e in emitters()]
                retired = dict(RETIRED.totals)
            spooled = GaugeMetricFamily("pdtrail_emitter_spool_depth", "Events waiting on disk for the broker.")
            spooled.add_metric([], sum(s.spooled for s in stats))
            pending = GaugeMetricFamily("pdtrail_emitter_pending", "Events in librdkafka, not yet confirmed.")
            pending.add_metric([], sum(s.pending for s in stats))
            yield spooled
            yield pending
            for name, text in _COUNTERS:
                family = CounterMetricFamily(f"pdtrail_emitter_{name}", text)
                family.add_metric([], retired[name] + sum(getattr(s, name) for s in stats))
                yield family

    return EmitterCollector()


_registered = False


def register_emitter_metrics(emitters: Callable[[], Iterable[Any]]) -> None:
    """Once per process, when the first emitter starts: later ones are counted by the same collector."""
    global _registered
    if not _registered:
        from prometheus_client import REGISTRY

        REGISTRY.register(_collector(emitters))
        _registered = True
