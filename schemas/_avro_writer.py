"""A compiled Avro binary writer for the event schemas: one generated Python function per schema.

fastavro walks the parsed schema for every datum and converts logical types field by field (about
9-14 µs per event here, most of ``emit()``). The events are validated already, so their values are known
to fit: the writer generated from the schema reads the model's fields straight from its ``__dict__``,
writes enum symbols and small lengths from precomputed bytes, and the timestamp as the microseconds
integer. The output is byte for byte fastavro's (a unit test compares them over generated events); a
schema using a type this writer does not know falls back to fastavro.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


class UnsupportedSchemaError(Exception):
    """The schema uses a type the compiled writer does not generate code for."""


def zigzag_varint(n: int) -> bytes:
    """Avro's int/long encoding: zig-zag, then base-128 varint."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z & ~0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


# Lengths and counts are small: their encodings are looked up, not computed.
_SMALL = tuple(zigzag_varint(n) for n in range(1024))


def _varint(n: int) -> bytes:
    return _SMALL[n] if 0 <= n < 1024 else zigzag_varint(n)


def _micros(value: dt.datetime | int) -> bytes:
    if isinstance(value, int):
        return zigzag_varint(value)
    return zigzag_varint((value - _EPOCH) // _MICROSECOND)


class _Codegen:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.named: dict[str, Any] = {}  # named types by full name: a later field may refer to one by name
        self._n = 0

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def constant(self, value: Any, prefix: str = "K") -> str:
        name = self.name(prefix)
        self.constants[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def value(self, schema: Any, expr: str, indent: int) -> None:
        """Append to ``out`` the encoding of ``expr`` under ``schema``."""
        if isinstance(schema, list):
            self.union(schema, expr, indent)
            return
        if isinstance(schema, str) and schema in self.named:
            schema = self.named[schema]
        elif isinstance(schema, dict) and schema.get("type") in ("record", "enum") and "name" in schema:
            self.named[schema["name"]] = schema
        kind = schema if isinstance(schema, str) else schema["type"]
        logical = schema.get("logicalType") if isinstance(schema, dict) else None
        if kind == "string":
            # uuid: the model's UUID object (or its string form) becomes its canonical 36-character text
            converted = f"str({expr})" if logical == "uuid" else expr
            raw = self.name("s")
            self.emit(indent, f"{raw} = {converted}.encode()")
            self.emit(indent, f"out(_SMALL[len({raw})] if len({raw}) < 1024 else _varint(len({raw})))")
            self.emit(indent, f"out({raw})")
        elif kind in ("int", "long"):
            self.emit(indent, f"out(_micros({expr}))" if logical == "timestamp-micros" else f"out(_varint({expr}))")
        elif kind == "boolean":
            self.emit(indent, f"out(b'\\x01' if {expr} else b'\\x00')")
        elif kind == "enum":
            table = self.constant({s: _varint(i) for i, s in enumerate(schema["symbols"])}, "ENUM")
            self.emit(indent, f"out({table}[{expr}])")
        elif kind == "array":
            items = self.name("items")
            item = self.name("item")
            self.emit(indent, f"{items} = {expr}")
            self.emit(indent, f"if {items}:")
            self.emit(indent + 1, f"out(_varint(len({items})))")
            self.emit(indent + 1, f"for {item} in {items}:")
            self.value(schema["items"], item, indent + 2)
            self.emit(indent, "out(b'\\x00')")
        elif kind == "record":
            fields = self.name("f")
            # A nested pydantic model: its fields are in __dict__; a plain dict (a test's datum) is itself.
            self.emit(indent, f"{fields} = {expr} if {expr}.__class__ is dict else {expr}.__dict__")
            self.record_fields(schema, fields, indent)
        else:
            raise UnsupportedSchemaError(str(kind))

    def record_fields(self, schema: dict[str, Any], fields: str, indent: int) -> None:
        for field in schema["fields"]:
            self.value(field["type"], f"{fields}[{field['name']!r}]", indent)

    def union(self, branches: list[Any], expr: str, indent: int) -> None:
        kinds = [b if isinstance(b, str) else b["type"] for b in branches]
        if len(branches) != 2 or "null" not in kinds:
            raise UnsupportedSchemaError("union other than [null, T]")
        null_at = kinds.index("null")
        other = branches[1 - null_at]
        held = self.name("v")
        self.emit(indent, f"{held} = {expr}")
        self.emit(indent, f"if {held} is None:")
        self.emit(indent + 1, f"out({_varint(null_at)!r})")
        self.emit(indent, "else:")
        self.emit(indent + 1, f"out({_varint(1 - null_at)!r})")
        self.value(other, held, indent + 1)


EventWriter = Callable[[dict[str, Any], Any, "str | None"], bytes]
# Envelope fields the SDK sets itself: read from the writer's arguments, not from the event's fields.
_GIVEN = {"subject": "subject", "register_version": "register_version"}


def compile_event_writer(schema: dict[str, Any], prefix: bytes) -> EventWriter:
    """``writer(fields, subject, register_version)`` → ``prefix`` + the Avro body of an event record.

    ``fields`` holds the event's fields (a model's ``__dict__``: the envelope's are among them, flat);
    the envelope's ``subject`` and ``register_version`` are the arguments of those names. Raises
    :class:`UnsupportedSchemaError` for a schema outside what is generated.
    """
    gen = _Codegen()
    gen.emit(0, "def write(fields, subject, register_version):")
    gen.emit(1, "parts = [PREFIX]")
    gen.emit(1, "out = parts.append")
    for field in schema["fields"]:
        if field["name"] == "envelope":
            for inner in field["type"]["fields"]:
                source = _GIVEN.get(inner["name"], f"fields[{inner['name']!r}]")
                gen.value(inner["type"], source, 1)
        else:
            gen.value(field["type"], f"fields[{field['name']!r}]", 1)
    gen.emit(1, "return b''.join(parts)")
    namespace: dict[str, Any] = {
        "PREFIX": prefix,
        "_SMALL": _SMALL,
        "_varint": _varint,
        "_micros": _micros,
        **gen.constants,
    }
    # The source is generated from the schema alone; no input of an event reaches it.
    exec(compile("\n".join(gen.lines), f"<avro writer {schema.get('name')}>", "exec"), namespace)
    writer: EventWriter = namespace["write"]
    return writer
