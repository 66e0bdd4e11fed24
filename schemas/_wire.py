"""The wire format: Avro single-object encoding.

``C3 01`` marker, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema, then the Avro
binary body. Any reader with the versions in ``schemas/history`` resolves the writer schema from the
fingerprint alone; no schema registry is needed.
"""

from __future__ import annotations

from io import BytesIO

from fastavro import schemaless_reader, schemaless_writer
from pydantic import ValidationError

from pdtrail.schemas._catalog import SchemaCatalog, SchemaVersion
from pdtrail.schemas._events import EVENT_CLASS_BY_AVRO_NAME, ProcessingEvent
from pdtrail.schemas.exceptions import InvalidEventError, UndecodableMessageError, UnknownSchemaError

MARKER = b"\xc3\x01"
HEADER_SIZE = len(MARKER) + 8


class EventCodec:
    """Encodes events under the current schema version and decodes any shipped version."""

    def __init__(self, catalog: SchemaCatalog | None = None) -> None:
        self.catalog = catalog or SchemaCatalog.default()

    def encode(self, event: ProcessingEvent) -> bytes:
        writer = self.catalog.current(event.avro_name)
        buf = BytesIO()
        buf.write(MARKER)
        buf.write(writer.fingerprint)
        try:
            schemaless_writer(buf, writer.parsed, event.to_avro())
        except (ValueError, TypeError) as exc:
            raise InvalidEventError("(event)", f"does not fit schema {writer.name} v{writer.version}: {exc}") from None
        return buf.getvalue()

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
