"""Every released version of every event schema, by name and by fingerprint.

``avro/`` holds the schemas as people edit them (named types in their own files). ``history/`` holds
each released version fully expanded, one file per version, never edited: a message names its writer
schema by the CRC-64-AVRO fingerprint of that expanded form, so old messages stay decodable forever.
``freeze()`` releases the edited sources as new versions after checking that the new reader can read
every older version.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

from pdtrail.schemas._sample import sample_datum
from pdtrail.schemas.exceptions import SchemaCompatibilityError

HERE = Path(__file__).parent
AVRO_DIR = HERE / "avro"
HISTORY_DIR = HERE / "history"


@dataclass(frozen=True)
class SchemaVersion:
    name: str
    version: int
    fingerprint: bytes
    schema: dict[str, Any]  # expanded JSON form, as stored in history/
    parsed: Any  # fastavro's parsed form, for the reader and writer


def _fingerprint(schema: dict[str, Any]) -> bytes:
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def _version(name: str, version: int, schema: dict[str, Any]) -> SchemaVersion:
    # parse_schema's default write hint marks the result as parsed; without it fastavro parses the schema
    # again on every read and write (measured: about 3x the cost per event).
    return SchemaVersion(name, version, _fingerprint(schema), schema, parse_schema(schema))


class SchemaCatalog:
    """The versions in one ``history/`` directory. ``SchemaCatalog.default()`` is the shipped one."""

    def __init__(self, history_dir: Path = HISTORY_DIR) -> None:
        self._by_name: dict[str, list[SchemaVersion]] = {}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for folder in sorted(p for p in history_dir.iterdir() if p.is_dir()):
            files = sorted(folder.glob("v*.avsc"), key=lambda p: int(p.stem[1:]))
            for path in files:
                entry = _version(folder.name, int(path.stem[1:]), json.loads(path.read_text()))
                self._by_name.setdefault(entry.name, []).append(entry)
                self._by_fingerprint[entry.fingerprint] = entry

    @classmethod
    @cache
    def default(cls) -> SchemaCatalog:
        return cls()

    @property
    def names(self) -> list[str]:
        return sorted(self._by_name)

    def versions(self, name: str) -> list[SchemaVersion]:
        return list(self._by_name[name])

    def current(self, name: str) -> SchemaVersion:
        return self._by_name[name][-1]

    def by_fingerprint(self, fp: bytes) -> SchemaVersion | None:
        return self._by_fingerprint.get(fp)


def expand_source(path: Path) -> dict[str, Any]:
    """An authored schema with its named types inlined: the form stored in history/."""
    expanded = load_schema(str(path), _write_hint=False)
    assert isinstance(expanded, dict), f"{path.name} is not a record schema"
    return expanded


def event_sources(avro_dir: Path = AVRO_DIR) -> dict[str, Path]:
    """The authored event schemas (records with an envelope), by full name."""
    found = {}
    for path in sorted(avro_dir.glob("*.avsc")):
        raw = json.loads(path.read_text())
        if any(f["name"] == "envelope" for f in raw.get("fields", [])):
            found[f"{raw['namespace']}.{raw['name']}"] = path
    return found


def check_readable(writer: dict[str, Any], reader: dict[str, Any], *, samples: int = 50, seed: int = 0) -> None:
    """Encode generated data under ``writer`` and decode it with ``reader``; raise if the reader cannot.

    Schema resolution errors (a removed enum symbol, a new field without a default, a changed type)
    surface as fastavro exceptions naming the field.
    """
    rng = random.Random(seed)
    writer_parsed = parse_schema(writer, _write_hint=False)
    reader_parsed = parse_schema(reader, _write_hint=False)
    for _ in range(samples):
        buf = BytesIO()
        schemaless_writer(buf, writer_parsed, sample_datum(writer, rng))
        buf.seek(0)
        try:
            schemaless_reader(buf, writer_parsed, reader_parsed)
        except Exception as exc:  # fastavro's SchemaResolutionError and friends; the message names the field
            raise SchemaCompatibilityError(str(reader.get("name", "?")), str(exc)) from None


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    # The whole expanded form, not the fingerprint: defaults and docs are not in the canonical form,
    # yet a changed default changes what readers fill in.
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def pending_changes(avro_dir: Path = AVRO_DIR, history_dir: Path = HISTORY_DIR) -> dict[str, dict[str, Any]]:
    """Authored event schemas whose expanded form differs from their latest released version."""
    changed = {}
    for name, path in event_sources(avro_dir).items():
        expanded = expand_source(path)
        folder = history_dir / name
        released = sorted(folder.glob("v*.avsc"), key=lambda p: int(p.stem[1:])) if folder.exists() else []
        if not released or not _same(json.loads(released[-1].read_text()), expanded):
            changed[name] = expanded
    return changed


def freeze(avro_dir: Path = AVRO_DIR, history_dir: Path = HISTORY_DIR) -> list[Path]:
    """Release every changed event schema as its next version.

    All or nothing: every change is checked against every older version of its schema first, and a
    :class:`SchemaCompatibilityError` leaves history/ untouched.
    """
    releases = []
    for name, expanded in pending_changes(avro_dir, history_dir).items():
        folder = history_dir / name
        older = sorted(folder.glob("v*.avsc"), key=lambda p: int(p.stem[1:])) if folder.exists() else []
        for path in older:
            try:
                check_readable(json.loads(path.read_text()), expanded)
            except SchemaCompatibilityError as exc:
                raise SchemaCompatibilityError(name, f"cannot read {path.stem}: {exc.reason}") from None
        releases.append((folder / f"v{len(older) + 1}.avsc", expanded))
    for target, expanded in releases:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(expanded, indent=2) + "\n")
    return [target for target, _ in releases]
