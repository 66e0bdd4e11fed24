"""The wire format: Avro single-object encoding.

``C3 01`` marker, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema, then the Avro
binary body. Any reader with the versions in ``schemas/history`` resolves the writer schema from the
fingerprint alone; no schema registry is needed.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from pydantic import ValidationError

from pdtrail.schemas._avro_writer import EventWriter, UnsupportedSchemaError, compile_event_writer
from pdtrail.schemas._catalog import SchemaCatalog, SchemaVersion
from pdtrail.schemas._events import EVENT_CLASS_BY_AVRO_NAME, ProcessingEvent, PseudonymousSubject
from pdtrail.schemas.exceptions import InvalidEventError, UndecodableMessageError, UnknownSchemaError

MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8


class EventCodec:
    """Encodes events under the current schema version and decodes any shipped version."""

    def __init__(self, catalog: SchemaCatalog | None = None) -> None:
        self.catalog = catalog or SchemaCatalog.default()
        self._writers: dict[str, EventWriter] = {}

    def _writer(self, avro_name: str) -> EventWriter:
        writer = self._writers.get(avro_name)
        if writer is None:
            current = self.catalog.current(avro_name)
            prefix = MARKER + current.fingerprint
            try:
                writer = compile_event_writer(current.schema, prefix)
            except UnsupportedSchemaError:
                writer = _fastavro_writer(current, prefix)
            self._writers[avro_name] = writer
        return writer

    def encode(self, event: ProcessingEvent) -> bytes:
        """The wire form of ``event``, whose subject must already be pseudonymous."""
        if not isinstance(event.subject, PseudonymousSubject):
            raise ValueError("subject must be pseudonymised before encoding")
        return self.encode_as(event, event.subject, event.register_version)

    def encode_as(self, event: ProcessingEvent, subject: PseudonymousSubject, register_version: str | None) -> bytes:
        """The wire form of ``event`` with ``subject`` and ``register_version`` in its envelope (what the
        SDK puts there), without copying the validated model."""
        try:
            return self._writer(event.avro_name)(event.__dict__, subject, register_version)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            # Only a model built without validation (model_construct) gets here.
            current = self.catalog.current(event.avro_name)
            raise InvalidEventError(
                "(event)", f"does not fit schema {current.name} v{current.version}: {type(exc).__name__}"
            ) from None

    def decode(self, data: bytes | None) -> ProcessingEvent:
        """Decode and validate one message; raises UndecodableMessageError or InvalidEventError."""
        return self.decode_versioned(data)[0]

    def decode_versioned(self, data: bytes | None) -> tuple[ProcessingEvent, SchemaVersion]:
        """Like decode(), also returning the writer schema version the message was encoded with."""
        if not data or len(data) < HEADER_SIZE or data[:2] != MARKER:
            raise UndecodableMessageError("not Avro single-object encoded (missing C3 01 marker)")
        fp = data[2:HEADER_SIZE]
        writer = self.catalog.by_fingerprint(fp)
        if writer is None:
            raise UnknownSchemaError(fp)
        reader = self.catalog.current(writer.name)
        body = BytesIO(data[HEADER_SIZE:])
        try:
            record = schemaless_reader(body, writer.parsed, reader.parsed)
        except Exception as exc:  # fastavro raises EOFError, ValueError, UnicodeDecodeError, IndexError...
            raise UndecodableMessageError(
                f"body does not decode as {writer.name} v{writer.version}: {type(exc).__name__}"
            ) from None
        if body.tell() != len(data) - HEADER_SIZE:
            raise UndecodableMessageError(f"{len(data) - HEADER_SIZE - body.tell()} trailing bytes after the body")
        try:
            return EVENT_CLASS_BY_AVRO_NAME[writer.name].from_avro(record), writer
        except ValidationError as exc:
            raise InvalidEventError.from_validation_error(exc) from None


def _fastavro_writer(version: SchemaVersion, prefix: bytes) -> EventWriter:
    """fastavro for a schema the compiled writer does not cover (none of the shipped ones)."""

    def write(fields: dict[str, Any], subject: Any, register_version: str | None) -> bytes:
        event = EVENT_CLASS_BY_AVRO_NAME[version.name].model_construct(
            **{**fields, "subject": subject, "register_version": register_version}
        )
        buf = BytesIO()
        buf.write(prefix)
        schemaless_writer(buf, version.parsed, event.to_avro())
        return buf.getvalue()

    return write
