"""Random data for any Avro schema, for the compatibility check between schema versions."""

from __future__ import annotations

import random
import uuid
from typing import Any

_PRIMITIVES = {
    "null": lambda rng: None,
    "boolean": lambda rng: rng.random() < 0.5,
    "int": lambda rng: rng.randint(-(2**31), 2**31 - 1),
    "long": lambda rng: rng.randint(0, 2**56),  # stays within datetime range for timestamp-micros
    "float": lambda rng: rng.random(),
    "double": lambda rng: rng.random(),
    "bytes": lambda rng: rng.randbytes(rng.randint(0, 16)),
    "string": lambda rng: "".join(rng.choice("abcxyz_.-019") for _ in range(rng.randint(0, 12))),
}


# Raw values that stay within what Python's date and time types can hold.
_LOGICAL_RANGES = {
    "date": (0, 2_900_000),  # days since 1970, up to year ~9900
    "time-millis": (0, 86_399_999),
    "time-micros": (0, 86_399_999_999),
    "timestamp-millis": (0, 2**47),
    "timestamp-micros": (0, 2**56),
    "local-timestamp-millis": (0, 2**47),
    "local-timestamp-micros": (0, 2**56),
}


def sample_datum(schema: Any, rng: random.Random, named: dict[str, Any] | None = None) -> Any:
    """One random value valid for ``schema`` (an expanded schema as stored in history/)."""
    named = {} if named is None else named
    if isinstance(schema, str):
        return sample_datum(named[schema], rng, named) if schema in named else _PRIMITIVES[schema](rng)
    if isinstance(schema, list):
        return sample_datum(rng.choice(schema), rng, named)
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128)))
    if logical in _LOGICAL_RANGES:
        return rng.randint(*_LOGICAL_RANGES[logical])
    if kind in ("record", "enum", "fixed"):
        named[schema["name"]] = schema
    if kind == "record":
        return {f["name"]: sample_datum(f["type"], rng, named) for f in schema["fields"]}
    if kind == "enum":
        return rng.choice(schema["symbols"])
    if kind == "fixed":
        return rng.randbytes(schema["size"])
    if kind == "array":
        return [sample_datum(schema["items"], rng, named) for _ in range(rng.randint(0, 3))]
    if kind == "map":
        return {f"k{i}": sample_datum(schema["values"], rng, named) for i in range(rng.randint(0, 3))}
    return sample_datum(kind, rng, named)
