"""A compiled Avro binary writer for the event schemas: one generated Python function per schema.

fastavro walks the parsed schema for every datum and converts logical types field by field (about
9-14 µs per event here, most of ``emit()``). The events are validated already, so their values are known
to fit: the writer generated from the schema reads the model's fields straight from its ``__dict__``,
writes enum symbols and small lengths from precomputed bytes, and the timestamp as the microseconds
integer. The output is byte for byte fastavro's (a unit test compares them over generated events); a
schema using a type this writer does not know falls back to fastavro.

Two things repeat from event to event and are not written again each time (measured: they were a third
of the writer's time). The envelope's who-and-why run (actor, purpose, legal basis, categories, source
system) is the same for most events of one service: its bytes are kept per distinct run, at most
:data:`BLOCK_CACHE_SIZE` per schema (emptied when full). It holds no subject: the subject and every
per-event field are written for each event. And a timestamp's varint shares its upper three bytes with
every other one of the same ~4.8 hours: those are kept too, at most as many.

fastavro's C writer was measured as the alternative, fed primitives only (no logical types, the record
as plain dicts): 2-3x slower than this writer per event, the dicts to build and its Python entry included.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from uuid import UUID

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


class UnsupportedSchemaError(Exception):
    """The schema uses a type the compiled writer does not generate code for."""


BLOCK_CACHE_SIZE = 1024


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


# Upper three bytes of a timestamp's varint by its bits above the lowest 35 (about 4.8 hours of microseconds:
# a live service and a backfill of historical logs alike find theirs here).
_UPPER: dict[int, bytes] = {}
_EIGHT_BYTES = range(1 << 49, 1 << 56)  # zig-zagged, a varint of eight bytes: every date from 1987 to 2198


def _micros(value: dt.datetime | int) -> bytes:
    n = value if isinstance(value, int) else (value - _EPOCH) // _MICROSECOND
    z = (n << 1) ^ (n >> 63)
    if z not in _EIGHT_BYTES:
        return zigzag_varint(n)
    upper = _UPPER.get(z >> 35)
    if upper is None:
        if len(_UPPER) >= BLOCK_CACHE_SIZE:
            _UPPER.clear()
        upper = _UPPER[z >> 35] = zigzag_varint(n)[5:]
    low = ((z & 0x7F) | 0x80, (z >> 7 & 0x7F) | 0x80, (z >> 14 & 0x7F) | 0x80, (z >> 21 & 0x7F) | 0x80)
    return bytes((*low, (z >> 28 & 0x7F) | 0x80)) + upper


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
            raw = self.name("s")
            if logical == "uuid":
                # The model's UUID object (or its string form) becomes its canonical 36-character text.
                # UUID.__str__ is Python code (a format of the int, then five slices of that): for a UUID
                # itself the same text from the int's 16 bytes in hex is about a quarter cheaper; anything
                # else, a subclass too, is what str() makes of it.
                uid, digits = self.name("u"), self.name("h")
                self.emit(indent, f"{uid} = {expr}")
                self.emit(indent, f"if {uid}.__class__ is _UUID:")
                self.emit(indent + 1, f"{digits} = {uid}.int.to_bytes(16).hex()")
                self.emit(
                    indent + 1,
                    f"{raw} = f'{{{digits}[:8]}}-{{{digits}[8:12]}}-{{{digits}[12:16]}}-{{{digits}[16:20]}}-"
                    f"{{{digits}[20:]}}'.encode()",
                )
                self.emit(indent, "else:")
                self.emit(indent + 1, f"{raw} = str({uid}).encode()")
            else:
                self.emit(indent, f"{raw} = {expr}.encode()")
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
# The envelope's run of fields that one service repeats from event to event (who, why, on which basis):
# written once per distinct run. In this order and side by side in the envelope, or not cached at all.
_REPEATED = ("actor", "purpose", "legal_basis", "data_categories", "source_system")


def _block_key(gen: _Codegen, fields: list[dict[str, Any]]) -> str:
    """A hashable expression of the run's values (a record's by its fields, an array as a tuple)."""
    parts = []
    for field in fields:
        expr, kind = f"fields[{field['name']!r}]", field["type"]
        kind = kind if isinstance(kind, str | list) else kind.get("type")
        if kind == "record":
            record = gen.name("r")
            gen.emit(1, f"{record} = {expr} if {expr}.__class__ is dict else {expr}.__dict__")
            parts += [f"{record}[{inner['name']!r}]" for inner in field["type"]["fields"]]
        else:
            parts.append(f"tuple({expr})" if kind == "array" else expr)
    return f"({', '.join(parts)},)"


def _write_block(gen: _Codegen, fields: list[dict[str, Any]]) -> None:
    """The run's bytes from the cache, else written (and kept, the cache emptied when it is full)."""
    key = gen.name("key")
    gen.emit(1, f"{key} = {_block_key(gen, fields)}")
    gen.emit(1, f"block = BLOCK.get({key})")
    gen.emit(1, "if block is None:")
    gen.emit(2, "run = []")
    gen.emit(2, "out = run.append")
    for field in fields:
        gen.value(field["type"], f"fields[{field['name']!r}]", 2)
    gen.emit(2, "block = b''.join(run)")
    gen.emit(2, "if len(BLOCK) >= BLOCK_CACHE_SIZE:")
    gen.emit(3, "BLOCK.clear()")
    gen.emit(2, f"BLOCK[{key}] = block")
    gen.emit(2, "out = parts.append")
    gen.emit(1, "out(block)")


def _repeated_run(envelope: list[dict[str, Any]]) -> slice | None:
    names = [f["name"] for f in envelope]
    if _REPEATED[0] not in names:
        return None
    start = names.index(_REPEATED[0])
    return slice(start, start + len(_REPEATED)) if tuple(names[start : start + len(_REPEATED)]) == _REPEATED else None


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
            envelope = field["type"]["fields"]
            run = _repeated_run(envelope)
            for index, inner in enumerate(envelope):
                if run is not None and index == run.start:
                    _write_block(gen, envelope[run])
                if run is not None and run.start <= index < run.stop:
                    continue
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
        "_UUID": UUID,
        "BLOCK": {},
        "BLOCK_CACHE_SIZE": BLOCK_CACHE_SIZE,
        **gen.constants,
    }
    # The source is generated from the schema alone; no input of an event reaches it.
    exec(compile("\n".join(gen.lines), f"<avro writer {schema.get('name')}>", "exec"), namespace)
    writer: EventWriter = namespace["write"]
    return writer
