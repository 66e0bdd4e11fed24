"""The consumer's side of the store: where each partition stands, batch intents, month-by-month inserts,
and the back-off loop every store write goes through.

A write that fails is tried again, 0.5 s doubling to 30 s, and the consumer reports ``retrying`` with
the error meanwhile; nothing is read or committed until it succeeds. A write of one partition's batch
gives up (``Abandoned``) once retrying would take it past most of ``max.poll.interval.ms`` since the
last poll: by then Kafka may have given the partition to another member, which stores the batch itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from clickhouse_connect.driver.client import Client

from pdtrail.consumers._metrics import RETRYING, RUNNING, STARTING, ConsumerMetrics
from pdtrail.consumers._planner import Intent, StoreView
from pdtrail.consumers.exceptions import StoreWriteError
from pdtrail.store import StoreConsistency

logger = logging.getLogger("pdtrail.consumers")
_SQL = Path(__file__).parent
POSITIONS_SQL = (_SQL / "positions.sql").read_text()
LAST_BATCH_SQL = (_SQL / "last_batch.sql").read_text()
RANGE_STORED_SQL = (_SQL / "range_stored.sql").read_text()
STORED_BELOW_SQL = (_SQL / "stored_below.sql").read_text()
TABLE = "events"
_T = TypeVar("_T")


def first_line(exc: BaseException) -> str:
    """What a failure says, short enough for a health answer."""
    return str(exc).splitlines()[0][:300] if str(exc) else repr(exc)


class Abandoned(Exception):
    """A store write of a partition's batch failed for longer than the group lets a member go without
    polling: the partition may be another member's by now, so the batch is not written."""


@dataclass
class ConsumeStats:
    """What one run did. ``stored`` rows are in ClickHouse; ``dead_lettered`` went to the DLQ;
    ``duplicates_dropped`` were stored already (same event_id); ``insert_retries`` counts every store
    write tried again (inserts, intents, checkpoints); ``batches_abandoned`` the batches left unwritten,
    to be read again, because the store failed for most of ``max.poll.interval.ms``, and ``left_group``
    how often the consumer then left its group until the store answered again. ``state`` is starting,
    running, retrying (the store fails: reading is paused, nothing is committed) or stopped;
    ``last_error`` the latest failure."""

    consumed: int = 0
    stored: int = 0
    dead_lettered: int = 0
    duplicates_dropped: int = 0
    batches: int = 0
    insert_retries: int = 0
    batches_abandoned: int = 0
    left_group: int = 0
    last_insert_ms: float = 0.0
    state: str = STARTING
    last_error: str = ""
    last_error_at: str = ""


class StoreWrites:
    """The store reads and writes of one consumer on ``topic``, each retried with back-off.

    ``stats`` and ``metrics`` are the consumer's; ``stop`` ends a retry loop; ``progress`` is called
    while retrying so a caller sees the state. ``polled_at`` is set by the loop after each poll.
    ``consistency`` holds the settings of a cluster store: every read of the consumer's own positions is
    sequentially consistent, and the batch intent is a quorum insert, so that a consumer resuming on
    another replica reads what this one wrote (empty on one server or the embedded store).
    """

    def __init__(
        self,
        client: Client,
        topic: str,
        *,
        stats: ConsumeStats,
        metrics: ConsumerMetrics,
        stop: threading.Event,
        progress: Callable[[], None],
        max_poll_interval_ms: int,
        consistency: StoreConsistency | None = None,
    ) -> None:
        self._client = client
        self.consistency = consistency or StoreConsistency()
        self._read = self.consistency.read_settings()
        self._topic = topic
        self._stats = stats
        self._metrics = metrics
        self._stop = stop
        self._progress = progress
        # Past max.poll.interval.ms without a poll, Kafka gives this member's partitions to another; a
        # batch still being retried by then could be stored twice, so retries stop short of it.
        self.write_budget_s = 0.8 * max_poll_interval_ms / 1000
        self.polled_at = time.monotonic()

    def set_state(self, state: str) -> None:
        self._stats.state = state
        self._metrics.up.set(1 if state == RUNNING else 0)

    def retrying(self, what: str, step: Callable[[], _T], *, bounded: bool = False) -> _T:
        """Run ``step`` until it succeeds, backing off; nothing is read or committed meanwhile. A
        ``bounded`` step (a batch's writes, an assignment's reads) raises Abandoned instead once the
        group may have moved the partition."""
        delay = 0.5
        while True:
            try:
                result = step()
                if self._stats.state == RETRYING:
                    logger.warning("%s succeeded again; running", what)
                    self.set_state(RUNNING)
                return result
            except Exception as exc:
                if self._stop.is_set():
                    raise
                self._stats.insert_retries += 1
                self._metrics.retries.inc()
                self._stats.last_error = f"{what} failed: {first_line(exc)}"
                self._stats.last_error_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                self.set_state(RETRYING)
                if bounded and time.monotonic() - self.polled_at + delay > self.write_budget_s:
                    raise Abandoned(what) from None
                logger.error("%s failed: %s; retrying in %.1fs", what, exc, delay)
                self._progress()
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)

    # -- where the partitions stand (read on assignment) -----------------------------------------

    def stored_positions(self) -> dict[int, int]:
        """Highest stored offset per partition of the topic."""
        result = self._client.query(POSITIONS_SQL, parameters={"topic": self._topic}, settings=self._read)
        return {int(p): int(o) for p, o in result.result_rows}

    def unfinished_batch(self, partition: int) -> tuple[int, int] | None:
        """The offset range of the partition's last batch if fewer of its rows are stored than promised."""
        params = {"topic": self._topic, "partition": partition}
        rows = self._client.query(LAST_BATCH_SQL, parameters=params, settings=self._read).result_rows
        if not rows:
            return None
        first, last, promised = (int(value) for value in rows[0])
        in_range = {**params, "first": first, "last": last}
        counted = self._client.query(RANGE_STORED_SQL, parameters=in_range, settings=self._read)
        return (first, last) if int(counted.result_rows[0][0]) < promised else None

    def stored_below(self, partition: int, offset: int) -> int:
        """The highest offset of the partition stored below ``offset``; -1 if none is."""
        params = {"topic": self._topic, "partition": partition, "below": offset}
        highest, count = self._client.query(STORED_BELOW_SQL, parameters=params, settings=self._read).result_rows[0]
        return int(highest) if int(count) else -1

    def view(self, partition: int, stored_max: int) -> StoreView:
        """What the store says about a partition (its highest stored offset given), for ``plan_resume``."""
        params = {"topic": self._topic, "partition": partition}
        rows = self._client.query(LAST_BATCH_SQL, parameters=params, settings=self._read).result_rows
        if not rows:
            return StoreView(stored_max)
        intent = Intent(*(int(value) for value in rows[0]))
        in_range = {**params, "first": intent.first, "last": intent.last}
        counted = int(self._client.query(RANGE_STORED_SQL, parameters=in_range, settings=self._read).result_rows[0][0])
        return StoreView(stored_max, intent, counted, self.stored_below(partition, intent.first))

    # -- one batch's writes -------------------------------------------------------------------------

    def write_intent(self, partition: int, intent: Intent) -> None:
        """Record the batch's range and row count before any of it is inserted (read back on assignment)."""
        row = [self._topic, partition, intent.first, intent.last, intent.rows]
        self._client.insert(
            "ingest_batches",
            [row],
            column_names=["topic", "partition", "first_offset", "last_offset", "rows"],
            settings=self.consistency.insert_settings(),
        )

    def insert(self, partition: int, first: int, last: int, write: Callable[[], None]) -> None:
        """One insert of a batch (one month), retried; a failure names the batch."""

        def insert() -> None:
            try:
                write()
            except Exception as exc:
                raise StoreWriteError(self._topic, partition, first, last, str(exc)[:300]) from None

        started = time.perf_counter()
        self.retrying("insert", insert, bounded=True)
        elapsed = time.perf_counter() - started
        self._stats.last_insert_ms = elapsed * 1000
        self._metrics.insert_latency.observe(elapsed)
