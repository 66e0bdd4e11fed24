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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from clickhouse_connect.driver.client import Client

from pdtrail.consumers._batches import by_month, insert_token, stored_ids_parameters, without_duplicates
from pdtrail.consumers._metrics import RETRYING, RUNNING, STARTING, ConsumerMetrics
from pdtrail.consumers._rows import COLUMNS
from pdtrail.consumers.exceptions import StoreWriteError

logger = logging.getLogger("pdtrail.consumers")
_SQL = Path(__file__).parent
POSITIONS_SQL = (_SQL / "positions.sql").read_text()
LAST_BATCH_SQL = (_SQL / "last_batch.sql").read_text()
RANGE_STORED_SQL = (_SQL / "range_stored.sql").read_text()
STORED_IDS_SQL = (_SQL / "stored_ids.sql").read_text()
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


@dataclass
class Batch:
    """What was read from one partition and is not stored yet: rows in offset order, and the offset
    range they came from (poison in that range is in the DLQ, not in ``rows``)."""

    rows: list[list[Any]] = field(default_factory=list)
    first_offset: int = -1
    last_offset: int = -1
    since: float = field(default_factory=time.monotonic)


class StoreWrites:
    """The store reads and writes of one consumer on ``topic``, each retried with back-off.

    ``stats`` and ``metrics`` are the consumer's; ``stop`` ends a retry loop; ``progress`` is called
    while retrying so a caller sees the state. ``polled_at`` is set by the loop after each poll.
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
    ) -> None:
        self._client = client
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
        result = self._client.query(POSITIONS_SQL, parameters={"topic": self._topic})
        return {int(p): int(o) for p, o in result.result_rows}

    def unfinished_batch(self, partition: int) -> tuple[int, int] | None:
        """The offset range of the partition's last batch if fewer of its rows are stored than promised."""
        params = {"topic": self._topic, "partition": partition}
        rows = self._client.query(LAST_BATCH_SQL, parameters=params).result_rows
        if not rows:
            return None
        first, last, promised = (int(value) for value in rows[0])
        counted = self._client.query(RANGE_STORED_SQL, parameters={**params, "first": first, "last": last})
        return (first, last) if int(counted.result_rows[0][0]) < promised else None

    def stored_below(self, partition: int, offset: int) -> int:
        """The highest offset of the partition stored below ``offset``; -1 if none is."""
        params = {"topic": self._topic, "partition": partition, "below": offset}
        highest, count = self._client.query(STORED_BELOW_SQL, parameters=params).result_rows[0]
        return int(highest) if int(count) else -1

    # -- one batch's writes -------------------------------------------------------------------------

    def drop_stored(self, batch: Batch) -> int:
        """Keep the first row of each event_id not stored yet; the number of rows dropped."""
        if not batch.rows:
            return 0
        params = stored_ids_parameters(batch.rows)
        stored = self.retrying(
            "reading stored event ids",
            lambda: {r[0] for r in self._client.query(STORED_IDS_SQL, parameters=params).result_rows},
            bounded=True,
        )
        kept = without_duplicates(batch.rows, stored)
        dropped = len(batch.rows) - len(kept)
        if dropped:
            batch.rows = [list(row) for row in kept]
        return dropped

    def write_intent(self, partition: int, batch: Batch) -> None:
        """Record the batch's range and row count before any of it is inserted (read back on assignment)."""
        row = [self._topic, partition, batch.first_offset, batch.last_offset, len(batch.rows)]
        self.retrying(
            "batch intent",
            lambda: self._client.insert(
                "ingest_batches", [row], column_names=["topic", "partition", "first_offset", "last_offset", "rows"]
            ),
            bounded=True,
        )

    def insert(self, partition: int, batch: Batch) -> None:
        started = time.perf_counter()
        for month, rows in by_month(batch.rows).items():
            # Per month, so each insert is one part (atomic); the token makes a retry a no-op if it landed.
            token = insert_token(self._topic, partition, batch.first_offset, batch.last_offset, month)

            def insert(rows: list[Any] = rows, token: str = token) -> None:
                try:
                    self._client.insert(
                        TABLE, rows, column_names=COLUMNS, settings={"insert_deduplication_token": token}
                    )
                except Exception as exc:
                    raise StoreWriteError(
                        self._topic, partition, batch.first_offset, batch.last_offset, str(exc)[:300]
                    ) from None

            self.retrying("insert", insert, bounded=True)
        elapsed = time.perf_counter() - started
        self._stats.last_insert_ms = elapsed * 1000
        self._metrics.insert_latency.observe(elapsed)
