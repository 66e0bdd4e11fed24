"""Schema evolution: every released version stays readable, and freeze() refuses edits that break one."""

from __future__ import annotations

import json
import shutil
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_reader
from fastavro.schema import fingerprint, to_parsing_canonical_form

from pdtrail.schemas import EVENT_CLASSES, EventCodec, PersonalDataAccessed, SchemaCatalog, SchemaCompatibilityError
from pdtrail.schemas.__main__ import main as schemas_main
from pdtrail.schemas._catalog import (
    AVRO_DIR,
    HISTORY_DIR,
    check_readable,
    event_sources,
    expand_source,
    freeze,
    pending_changes,
)

from ._factories import make_event, pseudonymised

CATALOG = SchemaCatalog.default()
HISTORICAL = [(name, v.version) for name in CATALOG.names for v in CATALOG.versions(name)]


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    """Private copies of schemas/avro and schemas/history, so freeze() can write."""
    avro, history = tmp_path / "avro", tmp_path / "history"
    shutil.copytree(AVRO_DIR, avro)
    shutil.copytree(HISTORY_DIR, history)
    return avro, history


def edit(path: Path, change: Any) -> None:
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema, indent=2))


def history_files(history: Path) -> dict[str, str]:
    return {str(p.relative_to(history)): p.read_text() for p in sorted(history.rglob("*.avsc"))}


def test_catalog_knows_every_event_class() -> None:
    assert CATALOG.names == sorted(cls.avro_name for cls in EVENT_CLASSES)
    assert sorted(event_sources()) == CATALOG.names
    for name in CATALOG.names:
        assert [v.version for v in CATALOG.versions(name)] == list(range(1, len(CATALOG.versions(name)) + 1))


@pytest.mark.parametrize(("name", "version"), HISTORICAL, ids=[f"{n}-v{v}" for n, v in HISTORICAL])
def test_every_released_version_is_readable_by_the_current_reader(name: str, version: int) -> None:
    writer = CATALOG.versions(name)[version - 1]
    assert writer.version == version
    check_readable(writer.schema, CATALOG.current(name).schema, samples=100, seed=version)


@pytest.mark.parametrize(("name", "version"), HISTORICAL, ids=[f"{n}-v{v}" for n, v in HISTORICAL])
def test_history_file_fingerprint_is_the_catalog_fingerprint(name: str, version: int) -> None:
    path = HISTORY_DIR / name / f"v{version}.avsc"
    schema = json.loads(path.read_text())
    assert (
        CATALOG.by_fingerprint(bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")))
        == (CATALOG.versions(name)[version - 1])
    )


def test_every_authored_schema_is_released() -> None:
    assert pending_changes() == {}
    assert schemas_main(["check"]) == 0
    for name, path in event_sources().items():
        assert json.loads(to_parsing_canonical_form(expand_source(path))) == json.loads(
            to_parsing_canonical_form(CATALOG.current(name).schema)
        )


def test_schemas_cli_rejects_an_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert schemas_main(["release-everything"]) == 2
    assert "usage" in capsys.readouterr().err


def test_freeze_of_an_unchanged_copy_writes_nothing(dirs: tuple[Path, Path]) -> None:
    avro, history = dirs
    before = history_files(history)
    assert pending_changes(avro, history) == {}
    assert freeze(avro_dir=avro, history_dir=history) == []
    assert history_files(history) == before


def test_field_without_default_is_refused(dirs: tuple[Path, Path]) -> None:
    avro, history = dirs
    path = avro / "pdtrail.PersonalDataAccessed.avsc"
    edit(path, lambda s: s["fields"].append({"name": "ticket", "type": "string"}))
    assert list(pending_changes(avro, history)) == ["pdtrail.PersonalDataAccessed"]
    with pytest.raises(Exception, match="ticket"):
        check_readable(CATALOG.current("pdtrail.PersonalDataAccessed").schema, expand_source(path))
    before = history_files(history)
    with pytest.raises(Exception, match="ticket"):
        freeze(avro_dir=avro, history_dir=history)
    assert history_files(history) == before


def test_removed_enum_symbol_is_refused(dirs: tuple[Path, Path]) -> None:
    avro, history = dirs
    path = avro / "pdtrail.PersonalDataShared.avsc"

    def drop_authority(schema: dict[str, Any]) -> None:
        role = next(f for f in schema["fields"] if f["name"] == "recipient_role")
        role["type"]["symbols"].remove("authority")

    edit(path, drop_authority)
    with pytest.raises(Exception, match="authority"):
        check_readable(CATALOG.current("pdtrail.PersonalDataShared").schema, expand_source(path))
    before = history_files(history)
    with pytest.raises(Exception, match="authority"):
        freeze(avro_dir=avro, history_dir=history)
    assert history_files(history) == before


def test_changed_field_type_in_the_shared_envelope_is_refused(dirs: tuple[Path, Path]) -> None:
    avro, history = dirs

    def key_version_as_string(schema: dict[str, Any]) -> None:
        subject = next(f for f in schema["fields"] if f["name"] == "subject")
        subject["type"]["fields"][1]["type"] = "string"

    edit(avro / "pdtrail.Envelope.avsc", key_version_as_string)
    assert sorted(pending_changes(avro, history)) == CATALOG.names  # every event embeds the envelope
    with pytest.raises(Exception):  # noqa: B017 - fastavro's resolution error has no public base class
        freeze(avro_dir=avro, history_dir=history)


def next_version(name: str) -> str:
    return f"v{len(CATALOG.versions(name)) + 1}.avsc"


def test_compatible_change_is_released_as_next_version_and_current_data_still_decodes(
    dirs: tuple[Path, Path],
) -> None:
    avro, history = dirs
    name = "pdtrail.PersonalDataAccessed"
    edit(
        avro / f"{name}.avsc",
        lambda s: s["fields"].append({"name": "ticket", "type": ["null", "string"], "default": None}),
    )
    written = freeze(avro_dir=avro, history_dir=history)
    assert written == [history / name / next_version(name)]
    assert pending_changes(avro, history) == {}
    assert freeze(avro_dir=avro, history_dir=history) == []  # idempotent

    catalog = SchemaCatalog(history)
    *_, old, new = catalog.versions(name)
    assert new.version == old.version + 1
    assert catalog.current(name) == new and old.fingerprint != new.fingerprint
    assert old.fingerprint == CATALOG.current(name).fingerprint  # the released file was not touched
    check_readable(old.schema, new.schema, samples=100)

    # A real message, as the shipped codec writes it today, read with the new reader.
    event = pseudonymised(make_event(PersonalDataAccessed))
    message = EventCodec().encode(event)
    assert message[2:10] == old.fingerprint
    record = schemaless_reader(BytesIO(message[10:]), old.parsed, new.parsed)
    assert record["ticket"] is None
    del record["ticket"]
    assert PersonalDataAccessed.from_avro(record) == event
    # The new history still resolves the older writer from the message's fingerprint.
    assert catalog.by_fingerprint(message[2:10]) == old


def test_compatible_envelope_change_releases_every_event(dirs: tuple[Path, Path]) -> None:
    avro, history = dirs
    edit(
        avro / "pdtrail.Envelope.avsc",
        lambda s: s["fields"].append({"name": "tenant", "type": ["null", "string"], "default": None}),
    )
    written = freeze(avro_dir=avro, history_dir=history)
    assert sorted(p.parent.name for p in written) == CATALOG.names
    assert all(p.name == next_version(p.parent.name) for p in written)
    for path in written:
        envelope = next(f for f in json.loads(path.read_text())["fields"] if f["name"] == "envelope")
        assert "tenant" in {f["name"] for f in envelope["type"]["fields"]}


def test_added_enum_symbol_is_compatible(dirs: tuple[Path, Path]) -> None:
    avro, history = dirs
    path = avro / "pdtrail.PersonalDataAccessed.avsc"
    edit(path, lambda s: s["fields"][1]["type"]["symbols"].append("download"))
    written = [p.name for p in freeze(avro_dir=avro, history_dir=history)]
    assert written == [next_version("pdtrail.PersonalDataAccessed")]


@pytest.mark.parametrize(
    ("avro_type", "logical"),
    [("long", "timestamp-millis"), ("int", "date"), ("int", "time-millis")],
)
def test_check_readable_accepts_an_identical_schema_with_logical_types(avro_type: str, logical: str) -> None:
    schema = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "f", "type": {"type": avro_type, "logicalType": logical}}],
    }
    check_readable(schema, schema)


def test_freeze_is_all_or_nothing(dirs: tuple[Path, Path]) -> None:
    """One compatible and one incompatible edit: nothing is released, and the error names the schema."""
    avro, history = dirs
    edit(
        avro / "pdtrail.CreditCheckPerformed.avsc",
        lambda s: s["fields"].append({"name": "note", "type": ["null", "string"], "default": None}),
    )

    def drop_authority(schema: dict[str, Any]) -> None:
        role = next(f for f in schema["fields"] if f["name"] == "recipient_role")
        role["type"]["symbols"].remove("authority")

    edit(avro / "pdtrail.PersonalDataShared.avsc", drop_authority)
    before = history_files(history)
    with pytest.raises(SchemaCompatibilityError) as info:
        freeze(avro_dir=avro, history_dir=history)
    assert info.value.schema == "pdtrail.PersonalDataShared" and "v1" in info.value.reason
    assert history_files(history) == before


def test_a_changed_default_alone_is_a_release(dirs: tuple[Path, Path]) -> None:
    """Defaults are not in the canonical form, yet they change what readers fill in."""
    avro, history = dirs

    def default_resource(schema: dict[str, Any]) -> None:
        next(f for f in schema["fields"] if f["name"] == "resource")["default"] = "unknown"

    edit(avro / "pdtrail.PersonalDataAccessed.avsc", default_resource)
    assert list(pending_changes(avro, history)) == ["pdtrail.PersonalDataAccessed"]
    written = freeze(avro_dir=avro, history_dir=history)
    assert [(p.parent.name, p.name) for p in written] == [
        ("pdtrail.PersonalDataAccessed", next_version("pdtrail.PersonalDataAccessed"))
    ]
    released = SchemaCatalog(history).current("pdtrail.PersonalDataAccessed")
    assert next(f for f in released.schema["fields"] if f["name"] == "resource")["default"] == "unknown"
