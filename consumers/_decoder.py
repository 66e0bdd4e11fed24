"""A batch of Kafka messages → rows to store and poison to dead-letter.

The columnar path (``_columnar``) hands the raw Avro bodies to the engine; what it cannot vouch for,
and every batch when the store is a server, goes one message at a time through ``_decode.judge``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

from clickhouse_connect.driver.client import Client

from pdtrail.config import Settings
from pdtrail.consumers._batches import ALL_MONTHS, RowBatch
from pdtrail.consumers._columnar import EngineDecoder
from pdtrail.consumers._decode import Poison, TextCheck, judge
from pdtrail.schemas import EventCodec, load_register
from pdtrail.schemas._time_bounds import TimeBounds, time_window
from pdtrail.store._connect import embedded_path
from pdtrail.store._consistency import StoreConsistency, consistency_settings


class DecodedBatch(Protocol):
    """What the I/O shell needs of a decoded batch."""

    poison: list[Poison]

    def drop_stored(self) -> int: ...  # drop events stored already (same event_id); how many

    def months(self) -> dict[int, int]: ...  # rows to insert per yyyymm

    def insert(self, month: int, token: str) -> None: ...

    def leaves(self) -> tuple[list[int], list[bytes], list[str]]: ...  # offsets, leaves, occurred_at

    def close(self) -> None: ...


class _Rows:
    """A RowBatch bound to its client and the store's consistency settings, as a DecodedBatch."""

    def __init__(self, client: Client, batch: RowBatch, consistency: StoreConsistency) -> None:
        self._client, self.batch, self.poison, self._consistency = client, batch, batch.poison, consistency

    def drop_stored(self) -> int:
        return self.batch.drop_stored(self._client, self._consistency)

    def months(self) -> dict[int, int]:
        return self.batch.months()

    def insert(self, month: int, token: str) -> None:
        self.batch.insert(self._client, month, token, self._consistency)

    def leaves(self) -> tuple[list[int], list[bytes], list[str]]:
        return self.batch.leaves()

    def close(self) -> None:
        pass


def _events_unpartitioned(client: Client) -> bool:
    """Whether ``events`` is one MergeTree table without a partition key (migration 0006 applied). A
    Distributed table (cluster mode) or a store that cannot say keeps one insert per month: always safe."""
    try:
        rows = client.query(
            "SELECT engine, partition_key FROM system.tables WHERE database = currentDatabase() AND name = 'events'"
        ).result_rows
    except Exception:  # a store that cannot answer: the per-month inserts are right on every layout
        return False
    return bool(rows) and str(rows[0][0]).endswith("MergeTree") and not str(rows[0][1]).strip()


class BatchDecoder:
    """Decodes the batches of one consumer: through the engine when the store is embedded (and
    ``consumer.columnar``), else one message at a time. ``text_check``: a per-message check of free
    text; ``prefilter`` (on the engine) sends the messages a bytes-level check flags to it."""

    def __init__(
        self, settings: Settings, client: Client, codec: EventCodec, *, columnar: bool | None = None,
        text_check: TextCheck | None = None,
    ) -> None:  # fmt: skip
        self._client = client
        self._codec = codec
        self._topic = settings.kafka.topic
        self._limit = settings.consumer.max_event_bytes
        self.text_check = text_check
        # On a cluster: quorum inserts and sequentially consistent reads of what is stored already (the
        # engine path runs on the embedded store only, where both are empty).
        self.consistency = consistency_settings(settings.store)
        # The SDK's time bounds, judged when the batch is received: a producer that bypasses the SDK (or
        # another clock) cannot store an event where no period a DPO asks about shows it.
        register = load_register(settings.processing_register.path)
        bounds = TimeBounds.from_settings(settings.time_bounds)
        self.window: Callable[[dt.datetime], tuple[dt.datetime, dt.datetime]] = lambda received: time_window(
            register, bounds, now=received
        )
        if columnar is None:
            columnar = settings.consumer.columnar and embedded_path(settings) is not None
        self.engine = EngineDecoder(client, self._topic, self._limit, codec.catalog) if columnar else None
        self.whole_batch = _events_unpartitioned(client)
        if self.engine is not None:
            self.engine.by_month = not self.whole_batch  # one staged file per Kafka partition is enough then

    def insert_units(self, decoded: DecodedBatch) -> dict[int, int]:
        """Rows per insert: per yyyymm where ``events`` is partitioned by month (an insert lands whole only
        within one partition), else the whole batch as one insert (``ALL_MONTHS``)."""
        months = decoded.months()
        if self.whole_batch and months:
            return {ALL_MONTHS: sum(months.values())}
        return months

    def decode(self, partition: int, messages: list[Any], received: dt.datetime) -> DecodedBatch:
        if self.engine is not None:
            return self.engine.decode(
                partition, messages, received, lambda slow: self.one_by_one(partition, slow, received),
                window=self.window(received),
            )  # fmt: skip
        return _Rows(self._client, self.one_by_one(partition, messages, received), self.consistency)

    def decode_many(self, batches: dict[int, list[Any]], received: dt.datetime) -> dict[int, DecodedBatch]:
        """The batches of several partitions, staged together by the engine (one by one otherwise)."""
        if self.engine is None:
            return {partition: self.decode(partition, messages, received) for partition, messages in batches.items()}
        staged = self.engine.decode_many(
            batches, received, lambda partition, slow: self.one_by_one(partition, slow, received),
            window=self.window(received),
        )  # fmt: skip
        return dict(staged)

    def one_by_one(self, partition: int, messages: list[Any], received: dt.datetime) -> RowBatch:
        """The slow path: every message decoded and validated in Python."""
        batch = RowBatch()
        window = self.window(received)
        for msg in messages:
            judged = judge(self._codec, msg, topic=self._topic, partition=partition, offset=msg.offset(),
                           received=received, max_event_bytes=self._limit, text_check=self.text_check,
                           window=window)  # fmt: skip
            if isinstance(judged, Poison):
                batch.poison.append(judged)
            else:
                batch.rows.append(judged)
        return batch

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
