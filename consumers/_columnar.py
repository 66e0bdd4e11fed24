"""The columnar path: the engine parses a batch's raw Avro bodies; no Python touches an event's fields.

Per writer schema (the fingerprint in each message) the batch becomes one Avro container block whose
records are ``{kafka_partition, kafka_offset, <the body as written>, seal}``: Avro record bodies
concatenate, so each record is the message's own bytes between zig-zag varints. One query parses every
block, maps it to ``events`` columns with the checks of ``_columnar_sql`` and stages the rows in a
Native file; the inserts (one per month, with its token) and the leaves read that file. The seal (the
offset XOR a random nonce per block) proves that a record was framed by the message it came from: a
truncated body or trailing bytes shift every record after it and break their seals.

What the engine does not vouch for goes to the per-message path: an oversized or unframed message,
an unknown fingerprint, a record whose checks or seal fail, a whole block the engine refuses, and a
message a bytes pre-filter (``prefilter``) flags. Only the embedded store can read the staged files,
so a server store takes the per-message path for every batch.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from pdtrail.consumers._batches import ALL_MONTHS, RowBatch, in_unit, stored_ids_parameters
from pdtrail.consumers._columnar_sql import CHECK_SQL, EARLIEST_US, LATEST_US, select_sql, wrapper_schema
from pdtrail.consumers._decode import Poison
from pdtrail.integrity._canonical import LEAF_SQL
from pdtrail.schemas import SchemaCatalog, SchemaVersion
from pdtrail.schemas._wire import HEADER_SIZE, MARKER
from pdtrail.store._columns import COLUMNS

Prefilter = Callable[[bytes], bool]  # True: this message may need the per-message check
_Row = tuple[int, str, int, str, bytes]  # a staged row: offset, event id, yyyymm, canonical occurred_at, leaf
_OFFSET, _EVENT_ID = COLUMNS.index("kafka_offset"), COLUMNS.index("event_id")
# As stored_ids.sql, for the staged rows and the ones decoded one by one together (the subject keys narrow the read).
_STORED_IDS = """SELECT DISTINCT toString(event_id) FROM events
WHERE (subject_key IN (SELECT subject_key FROM @STAGED@ WHERE ok) OR subject_key IN {keys:Array(String)})
  AND (event_id IN (SELECT event_id FROM @STAGED@ WHERE ok) OR event_id IN {ids:Array(UUID)})"""
_INFO = f"""SELECT kafka_offset, toString(event_id), toYYYYMM(occurred_at),
       formatDateTime(occurred_at, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC'), {LEAF_SQL} AS leaf
FROM @STAGED@ WHERE ok ORDER BY kafka_offset"""


def _zz(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _micros(moment: dt.datetime) -> int:
    """Microseconds since the epoch, clamped to what DateTime64(6) holds."""
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return max(EARLIEST_US, min(LATEST_US, micros))


def _sql_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class _Schema:
    """What the engine needs for one writer schema: the block header's schema and the mapping SQL."""

    def __init__(self, version: SchemaVersion) -> None:
        schema = wrapper_schema(version).encode()
        meta = {b"avro.schema": schema, b"avro.codec": b"null"}
        self.meta = _zz(len(meta)) + b"".join(_zz(len(k)) + k + _zz(len(v)) + v for k, v in meta.items()) + _zz(0)
        self.select = select_sql(version)


class StagedBatch:
    """A batch whose good rows the engine staged; the rest decoded one by one (``slow``)."""

    def __init__(
        self, client: Client, staged: str | None, rows: list[_Row], slow: RowBatch, done: Callable[[], None]
    ) -> None:
        self._client, self._staged, self._rows, self.slow, self._done = client, staged, rows, slow, done
        self.poison: list[Poison] = slow.poison
        self._dropped: set[int] = set()

    def drop_stored(self) -> int:
        """Keep the first row of each event id that is not stored yet, in offset order."""
        if not self._rows and not self.slow.rows:
            return 0
        if self._rows:
            sql = _STORED_IDS.replace("@STAGED@", str(self._staged))
            params = stored_ids_parameters(self.slow.rows)
            stored = {r[0] for r in self._client.query(sql, parameters=params).result_rows}
        else:
            stored = self.slow.stored_ids(self._client)
        order = sorted(
            [(r[0], r[1], "fast") for r in self._rows]
            + [(int(row[_OFFSET]), str(row[_EVENT_ID]), "slow") for row in self.slow.rows]
        )
        seen, dropped_slow = set(stored), set[int]()
        for offset, event_id, path in order:
            if event_id in seen:
                (self._dropped if path == "fast" else dropped_slow).add(offset)
            seen.add(event_id)
        if dropped_slow:
            self.slow.rows = [row for row in self.slow.rows if int(row[_OFFSET]) not in dropped_slow]
        return len(self._dropped) + len(dropped_slow)

    @property
    def staged_rows(self) -> int:
        """Rows the engine vouched for (the rest of the batch went one by one)."""
        return len(self._rows)

    def _kept(self) -> list[_Row]:
        return [r for r in self._rows if r[0] not in self._dropped]

    def months(self) -> dict[int, int]:
        months: dict[int, int] = {}
        for row in self._kept():
            months[row[2]] = months.get(row[2], 0) + 1
        for month, count in self.slow.months().items():
            months[month] = months.get(month, 0) + count
        return months

    def insert(self, month: int, token: str) -> None:
        if self._staged is not None and any(month in (ALL_MONTHS, r[2]) for r in self._kept()):
            source = self._staged if month == ALL_MONTHS else self._staged.replace("-*.native", f"-{int(month)}.native")
            dropped = ", ".join(str(o) for o in sorted(self._dropped)) or "NULL"
            columns = ", ".join(COLUMNS)
            # Settings in the statement: passed as client settings, each insert would read the session's first.
            self._client.command(
                f"INSERT INTO events ({columns}) SETTINGS insert_deduplication_token = {_sql_str(token)}, "
                "use_structure_from_insertion_table_in_table_functions = 0 "  # the staged file has its own columns
                f"SELECT {columns} FROM {source} "
                f"WHERE ok AND kafka_offset NOT IN ({dropped})"
            )
        if any(in_unit(row, month) for row in self.slow.rows):
            self.slow.insert(self._client, month, token + "/one-by-one")

    def leaves(self) -> tuple[list[int], list[bytes], list[str]]:
        offsets, leaves, occurred = self.slow.leaves()
        merged = sorted([(r[0], r[4], r[3]) for r in self._kept()] + list(zip(offsets, leaves, occurred, strict=True)))
        return [m[0] for m in merged], [m[1] for m in merged], [m[2] for m in merged]

    def close(self) -> None:
        self._done()


class EngineDecoder:
    """Stages batches through the embedded engine. ``one_by_one(partition, messages)`` is the slow path."""

    def __init__(self, client: Client, topic: str, max_event_bytes: int, catalog: SchemaCatalog | None = None) -> None:
        self._client = client
        self._topic = topic
        self._limit = max_event_bytes
        self._catalog = catalog or SchemaCatalog.default()
        self._schemas: dict[bytes, _Schema | None] = {}
        self._dir = Path(tempfile.mkdtemp(prefix="pdtrail-ingest-"))
        self._count = itertools.count()
        self.prefilter: Prefilter | None = None

    def _schema(self, fingerprint: bytes) -> _Schema | None:
        if fingerprint not in self._schemas:
            version = self._catalog.by_fingerprint(fingerprint)
            self._schemas[fingerprint] = _Schema(version) if version is not None else None
        return self._schemas[fingerprint]

    def decode(
        self, partition: int, messages: list[Any], received: dt.datetime, one_by_one: Callable[[list[Any]], RowBatch],
        *, window: tuple[dt.datetime, dt.datetime] | None = None,
    ) -> StagedBatch:  # fmt: skip
        groups: dict[bytes, list[tuple[int, bytes]]] = {}
        slow: list[Any] = []
        by_offset: dict[int, Any] = {}
        prefilter = self.prefilter
        for msg in messages:
            value = msg.value()
            if (
                value is None or len(value) > self._limit or len(value) <= HEADER_SIZE or value[:2] != MARKER
                or (prefilter is not None and prefilter(value))
            ):  # fmt: skip
                slow.append(msg)
                continue
            fingerprint = value[2:HEADER_SIZE]
            if self._schema(fingerprint) is None:
                slow.append(msg)  # unknown_schema, as the per-message path says
                continue
            offset = msg.offset()
            by_offset[offset] = msg
            groups.setdefault(fingerprint, []).append((offset, value))
        staged, files = self._stage(partition, groups, received, window)
        rows: list[_Row] = []
        if staged is not None:
            columns = self._client.query(
                _INFO.replace("@STAGED@", staged), column_formats={"leaf": "bytes"}
            ).result_columns
            rows = [r for r in zip(*columns, strict=True) if r[0] in by_offset] if columns else []
        vouched = {r[0] for r in rows}
        slow += [msg for offset, msg in by_offset.items() if offset not in vouched]
        slow.sort(key=lambda m: m.offset())

        def done() -> None:
            for file in files:
                for path in file.parent.glob(file.name):
                    path.unlink(missing_ok=True)

        return StagedBatch(self._client, staged, rows, one_by_one(slow), done)

    def _stage(
        self, partition: int, groups: dict[bytes, list[tuple[int, bytes]]], received: dt.datetime,
        window: tuple[dt.datetime, dt.datetime] | None = None,
    ) -> tuple[str | None, list[Path]]:  # fmt: skip
        """Write the blocks, parse and stage them: the staged rows' table function and its files."""
        if not groups:
            return None, []
        batch = next(self._count)
        ingested = f"toDateTime64({_sql_str(received.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M:%S.%f'))}, 6, 'UTC')"
        earliest, latest = (_micros(w) for w in window) if window else (EARLIEST_US, LATEST_US)
        selects = []
        for n, (fingerprint, records) in enumerate(groups.items()):
            schema = self._schema(fingerprint)
            assert schema is not None
            nonce = secrets.randbits(62)
            path = self._dir / f"b{batch}-{n}.avro"
            self._write_block(path, schema, partition, records, nonce)
            source = f"file({_sql_str(str(path))}, 'Avro')"
            selects.append(
                schema.select.replace("@SOURCE@", source).replace("@TOPIC@", _sql_str(self._topic))
                .replace("@INGESTED@", ingested).replace("@NONCE@", str(nonce))
                .replace("@EARLIEST@", str(earliest)).replace("@LATEST@", str(latest))
            )  # fmt: skip
        parsed = self._dir / f"p{batch}.native"
        try:
            self._client.command(
                f"INSERT INTO FUNCTION file({_sql_str(str(parsed))}, 'Native') " + "\nUNION ALL\n".join(selects)
            )
        except Exception:
            # A block the engine refuses (a body that does not parse): parse block by block, and what
            # still fails goes one by one.
            parsed.unlink(missing_ok=True)
            good = 0
            for n, select in enumerate(selects):
                part = self._dir / f"p{batch}-{n}.native"
                try:
                    self._client.command(f"INSERT INTO FUNCTION file({_sql_str(str(part))}, 'Native') {select}")
                    good += 1
                except Exception:
                    part.unlink(missing_ok=True)
            if not good:
                return None, []
            parsed = self._dir / f"p{batch}-*.native"
        finally:
            for n in range(len(selects)):
                (self._dir / f"b{batch}-{n}.avro").unlink(missing_ok=True)
        # Stage 2: every row judged by one expression, whatever its type; one file per month, so that each
        # monthly insert reads its own rows only.
        staged = self._dir / f"s{batch}-{{_partition_id}}.native"
        columns = ", ".join(COLUMNS)
        self._client.command(
            f"INSERT INTO FUNCTION file({_sql_str(str(staged))}, 'Native') PARTITION BY toYYYYMM(occurred_at) "
            f"SELECT {columns}, ({CHECK_SQL}) AS ok FROM file({_sql_str(str(parsed))}, 'Native')"
        )
        every_month = self._dir / f"s{batch}-*.native"
        return f"file({_sql_str(str(every_month))}, 'Native')", [parsed, every_month]

    @staticmethod
    def _write_block(path: Path, schema: _Schema, partition: int, records: list[tuple[int, bytes]], nonce: int) -> None:
        sync = os.urandom(16)
        part = _zz(partition)
        body = b"".join(part + _zz(offset) + value[HEADER_SIZE:] + _zz(offset ^ nonce) for offset, value in records)
        with open(path, "wb") as block:
            block.write(b"Obj\x01" + schema.meta + sync + _zz(len(records)) + _zz(len(body)) + body + sync)

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
