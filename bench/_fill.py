"""Synthetic rows for the lookup benches, written by the engine itself (INSERT ... SELECT FROM numbers()).

Shaped like a company's log over ``months`` months ending 2026-12-01: events arrive in time order (so the Kafka
offsets, the ingest times and the time-ordered event ids rise with ``occurred_at``, as in a real log), each one
for a subject drawn at random from ``subjects``, its kind and fields shaped like simulate_company's journeys.
Event ids are UUIDv7-like (48-bit millisecond time of the event, then random bits), as the SDK emits them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
MONTH_S = 30.4375 * 86_400
CHUNK_ROWS = 5_000_000  # one INSERT's worth: the engine sorts a chunk in memory before it writes parts


def _sql_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sql_array(values: Sequence[Any]) -> str:
    def item(v: Any) -> str:
        if isinstance(v, list | tuple):
            return _sql_array(v)
        return _sql_str(str(v))

    return "[" + ", ".join(item(v) for v in values) + "]"


def synthetic_key(n: int) -> str:
    """The subject key (64 hex) of synthetic subject ``n``, as the fill SQL computes it."""
    return hashlib.sha256(f"bench-subject-{n}".encode()).hexdigest()


def _uuid_v7(ms: str, number: str) -> str:
    """A UUIDv7 from a millisecond time and random bits (RFC 9562 layout: 48 ms, 4 version, 12+62 random)."""
    rand = f"leftPad(lower(hex(cityHash64({number}, 21))), 16, '0')"
    rand2 = f"leftPad(lower(hex(cityHash64({number}, 22))), 16, '0')"
    hex32 = (
        f"concat(leftPad(lower(hex(toUInt64({ms}))), 12, '0'), '7', substring({rand}, 1, 3), "
        f"['8', '9', 'a', 'b'][1 + cityHash64({number}, 23) % 4], substring({rand2}, 1, 15))"
    )
    return (
        f"toUUID(concat(substring({hex32}, 1, 8), '-', substring({hex32}, 9, 4), '-', substring({hex32}, 13, 4), "
        f"'-', substring({hex32}, 17, 4), '-', substring({hex32}, 21, 12)))"
    )


def fill_expressions(
    rows: int,
    subjects: int,
    months: int,
    *,
    partitions: int = 6,
    event_ids: str = "v7",
    key: str = "hex",
    probe_keys: Sequence[str] = (),
    unique_offsets: bool = False,
) -> dict[str, str]:
    """Column -> SQL expression over ``number`` (the event's position in the log, 0 = oldest).

    Synthetic subjects ``0 .. len(probe_keys) - 1`` are stored under ``probe_keys`` (keys the SDK's pseudonymiser
    gave real identifiers), so that a bench can ask for them by identifier, as a DPO does.

    A subject's events share a Kafka partition, as the SDK keys them. Their offsets are the log position
    over the partition count, which compresses like a real log's but repeats within a partition; with
    ``unique_offsets`` the offset is the log position itself: unique and rising in every partition (with
    gaps), as ``verify`` and the checkpoints need them."""
    from pdtrail.simulate import ADDRESS_REGISTER, BOOKKEEPING, CLEANING_OPERATOR, CREDIT_BUREAU, PAYMENT_PROVIDER

    acc = "personal_data.accessed"
    event_types = ["personal_data.collected"] * 2 + ["credit_check.performed"] + ["personal_data.shared"] * 2
    event_types += [acc] * 4 + ["personal_data.shared"]
    schema_of = {
        "personal_data.collected": "pdtrail.PersonalDataCollected",
        "credit_check.performed": "pdtrail.CreditCheckPerformed",
        "personal_data.shared": "pdtrail.PersonalDataShared",
        acc: "pdtrail.PersonalDataAccessed",
    }
    actors = ["booking-web", "address-check", "credit-gateway", "payments", "dispatch", "", "", "", "", "ledger"]
    roles = ["booking", "identity_check", "credit_check", "payment", "scheduling"] + ["customer_service"] * 4
    roles += ["bookkeeping"]
    purposes = ["booking.handling"] * 2 + ["credit_assessment", "payment", "service.performance"]
    purposes += ["customer_service"] * 4 + ["legal_obligation.bookkeeping"]
    bases = ["contract", "contract", "legitimate_interests", "contract", "contract"] + ["contract"] * 4
    bases += ["legal_obligation"]
    categories = [
        ["name", "personnummer", "contact_details", "housing_details"],
        ["name", "address"],
        ["personnummer", "credit_report"],
        ["name", "contact_details", "payment_information"],
        ["name", "address", "housing_details"],
        *[["name", "contact_details", "correspondence"]] * 4,
        ["name", "payment_information"],
    ]
    systems = ["booking-web", "booking-api", "booking-api", "booking-api", "dispatch"] + ["crm"] * 4 + ["ledger"]
    sources = ["data_subject", "public_register"] + [""] * 8
    parties = [None, ADDRESS_REGISTER, CREDIT_BUREAU, PAYMENT_PROVIDER, CLEANING_OPERATOR, None, None, None, None]
    parties.append(BOOKKEEPING)
    party_roles = ["", "", "", "processor", "processor", "", "", "", "", "processor"]
    is_access = "(j BETWEEN 5 AND 8)"
    span_us = int(months * MONTH_S * 1_000_000)
    begin_us = int(END.timestamp() * 1_000_000) - span_us
    # Evenly spread in log order, with jitter: the whole span is covered whatever the row count.
    step_us = max(1, span_us // max(rows, 1))
    occurred_us = f"toInt64({begin_us} + number * {step_us} + cityHash64(number, 11) % {step_us})"
    occurred = f"fromUnixTimestamp64Micro({occurred_us}, 'UTC')"
    key_sql = "SHA256(concat('bench-subject-', toString(s)))"
    expressions = {
        "event_id": _uuid_v7(f"intDiv({occurred_us}, 1000)", "number")
        if event_ids == "v7"
        else "generateUUIDv4(number)",
        "event_type": f"{_sql_array(event_types)}[j + 1]",
        "occurred_at": occurred,
        "subject_key": (f"lower(hex({key_sql}))" if key == "hex" else key_sql)
        if not probe_keys
        else f"if(s < {len(probe_keys)}, {_sql_array(list(probe_keys))}[s + 1], lower(hex({key_sql})))",
        "subject_key_version": "1",
        "subject_kind": "'personnummer'",
        "actor_type": f"if({is_access}, 'employee', 'service')",
        "actor_id": f"if({is_access}, concat('emp-', toString(1001 + cityHash64(number, 13) % 40)), "
        f"{_sql_array(actors)}[j + 1])",
        "actor_role": f"{_sql_array(roles)}[j + 1]",
        "purpose": f"{_sql_array(purposes)}[j + 1]",
        "legal_basis": f"{_sql_array(bases)}[j + 1]",
        "data_categories": f"{_sql_array(categories)}[j + 1]",
        "source_system": f"{_sql_array(systems)}[j + 1]",
        "correlation_id": f"if({is_access}, '', concat('trace-', lower(hex(cityHash64(s, 14)))))",
        "collection_source": f"{_sql_array(sources)}[j + 1]",
        "access_kind": f"if({is_access}, "
        "['view', 'view', 'view', 'search', 'modify'][1 + cityHash64(number, 15) % 5], '')",
        "resource": f"if({is_access}, if(cityHash64(number, 16) % 10 < 7, 'customer-record', "
        "concat('booking/', leftPad(toString(cityHash64(s, 17) % 1000000), 6, '0'))), '')",
        "party_name": f"{_sql_array([p.name if p else '' for p in parties])}[j + 1]",
        "party_org_no": f"{_sql_array([(p.organisation_number or '') if p else '' for p in parties])}[j + 1]",
        "party_country": f"{_sql_array([p.country if p else '' for p in parties])}[j + 1]",
        "party_role": f"{_sql_array(party_roles)}[j + 1]",
        "reference": "if(j = 2, concat('KK-', leftPad(toString(cityHash64(number, 18) % 100000000), 8, '0')), '')",
        "outcome": "if(j = 2, ['approved', 'approved', 'approved', 'approved', 'approved', 'approved', 'approved', "
        "'approved', 'manual_review', 'declined'][1 + cityHash64(number, 19) % 10], '')",
        "schema_name": f"{_sql_array([schema_of[t] for t in event_types])}[j + 1]",
        "schema_version": "2",
        "kafka_topic": "'pdtrail.events'",
        "kafka_partition": f"toUInt16(cityHash64(s, 24) % {partitions})",
        "kafka_offset": "number" if unique_offsets else f"intDiv(number, {partitions})",
        "ingested_at": f"fromUnixTimestamp64Micro({occurred_us} + 20000 + cityHash64(number, 20) % 500000, 'UTC')",
        "action": "''",
        "gdpr_right": "''",
        "reason": "''",
        "register_version": "'2026.1+bench000'",
    }
    return expressions


def fill_sql(
    table: str, columns: Sequence[str], start: int, count: int, *, rows: int, subjects: int, months: int, **kw: Any
) -> str:
    """INSERT of the log's events ``start`` .. ``start + count - 1`` (of ``rows``) into ``table``."""
    expressions = fill_expressions(rows, subjects, months, **kw)
    missing = set(columns) - set(expressions)
    if missing:
        raise ValueError(f"no fill expression for {sorted(missing)}")
    select = ",\n    ".join(f"{expressions[c]} AS {c}" for c in columns)
    return (
        f"INSERT INTO {table} ({', '.join(columns)})\nSELECT\n    {select}\n"
        f"FROM (SELECT number, cityHash64(number, 10) % {subjects} AS s, toUInt8(cityHash64(number, 12) % 10) AS j "
        f"FROM numbers({start}, {count}))"
    )


def fill(client: Any, table: str, columns: Sequence[str], rows: int, subjects: int, months: int, **kw: Any) -> float:
    """Fill ``table`` with ``rows`` events in chunks; returns the seconds it took."""
    import time

    started = time.perf_counter()
    for start in range(0, rows, CHUNK_ROWS):
        count = min(CHUNK_ROWS, rows - start)
        sql = fill_sql(table, columns, start, count, rows=rows, subjects=subjects, months=months, **kw)
        client.command(sql, settings={"max_partitions_per_insert_block": 1000})
    return time.perf_counter() - started
