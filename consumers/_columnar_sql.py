"""The SQL that maps a writer schema's Avro records to rows of ``events``, and vouches for them.

For every released writer schema: the Avro schema of a wrapper record ``{kafka_partition, kafka_offset,
event, seal}`` (logical types dropped: the bytes are the same, and the engine then hands over the raw
UUID text and microseconds, which are checked here rather than converted blindly), and a SELECT that
gives the ``events`` columns in insert order plus what the checks need (the labels, identifiers,
countries and Swedish organisation numbers of the row as arrays, the raw event id, and the cheap rules
of its type). ``CHECK_SQL`` then judges the rows of every type in one pass (one query to analyse, not
one per type): ``ok`` holds only where the event models
would accept the message *and* store exactly this row: every label 1-200 characters with nothing to
strip and nothing the identifier detector's quick search matches, every identifier of the dotted form, the subject
key 64 hex, a canonical UUID, a time the engine can hold, a Swedish organisation number with a valid
check digit, the cross-field rules (consent on a consent basis, a reason for a refused or extended
answer), valid UTF-8, and the framing seal intact. Anything else goes to the per-message path, which
gives the exact answer, so ``ok`` may be too strict but never too lax.
"""

from __future__ import annotations

import json
from typing import Any

from pdtrail.integrity._canonical import JSON_ESCAPED_SQL
from pdtrail.schemas import SchemaVersion
from pdtrail.schemas._events import EVENT_CLASS_BY_AVRO_NAME
from pdtrail.store._columns import COLUMNS

# Limits of the models (schemas/_vocabulary.py, schemas/_events.py).
_IDENTIFIER = r"^[a-z][a-z0-9_]*(\\.[a-z0-9_]+)*$"

# The identifier detector's quick search (schemas/_clear_identifiers.py ``_MAYBE``) in RE2, on every text of
# the row: an "@", a run of ten digits with any gaps of ASCII non-letters, or a character beyond ASCII that
# is not a Latin letter (it might read as a digit or a separator once normalised). What matches goes the
# slow way, where the models' detector decides; what does not cannot hold an identifier in clear.
# RE2 has neither look-behind nor possessive gaps; neither changes what matches, only how fast.
MAYBE_IDENTIFIER_SQL = (
    r"@|[0-9](?:[\\x00-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7f]*[0-9]){9}"
    r"|[^\\x00-\\x7f\\x{c0}-\\x{d6}\\x{d8}-\\x{f6}\\x{f8}-\\x{24f}]"
)
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# DateTime64(6) holds 1900-01-01 .. 2299-12-31; microseconds since the epoch.
EARLIEST_US, LATEST_US = -2208988800_000000, 10413791999_000000


def _edge(first_byte: str) -> str:
    """A character that Python's strip() keeps, by its first UTF-8 byte: printable ASCII, or a lead byte of
    no Unicode space (U+0085 and U+00A0 start with C2, U+1680 with E1, U+2000-U+205F with E2, U+3000 with E3)."""
    return f"({first_byte} BETWEEN 33 AND 126 OR ({first_byte} >= 195 AND {first_byte} NOT IN (225, 226, 227)))"


_LABEL = (
    "x -> lengthUTF8(x) BETWEEN 1 AND 200 AND " + _edge("reinterpretAsUInt8(x)") + " AND "
    + _edge("reinterpretAsUInt8(substringUTF8(x, lengthUTF8(x), 1))")
    + f" AND NOT match(x, '{MAYBE_IDENTIFIER_SQL}')"
)  # fmt: skip
_IDENT = f"x -> length(x) <= 64 AND match(x, '{_IDENTIFIER}') AND NOT match(x, '{MAYBE_IDENTIFIER_SQL}')"
_DIGITS = "replaceRegexpAll(x, '[ .-]', '')"
_SE_ORG = (
    f"x -> match(x, '^[0-9 .-]+$') AND match({_DIGITS}, '^[0-9]{{10}}$') AND substring({_DIGITS}, 3, 1) >= '2' "
    f"AND arraySum(arrayMap(i -> if(i % 2 = 1, "
    f"[0, 2, 4, 6, 8, 1, 3, 5, 7, 9][toUInt8OrZero(substring({_DIGITS}, i, 1)) + 1], "
    f"toUInt8OrZero(substring({_DIGITS}, i, 1))), range(1, 11))) % 10 = 0"
)  # fmt: skip
_TEXTS = [c for c in COLUMNS if c not in ("event_id", "occurred_at", "data_categories", "ingested_at")]
# Every text of the row in one string. JSON_PLAIN_SQL tests one character class column by column (a
# LowCardinality column of the log is judged once per value); the staged columns are plain, so one match over
# their concatenation is the same test for about two thirds of the cost (the extra columns here are
# integers: digits).
_ROW_TEXT = "concat(" + ", ".join(f"toString({c})" for c in _TEXTS) + ", arrayStringConcat(data_categories))"
# The checks of every staged row, whatever its type (stage 2).
# The grammars of schemas/_free_text.py for the columns that hold ids ('' where the type has none), and for
# each type's own texts (a path, a cookie's name), judged in its stage-1 rules.
_ID_SQL = "^[A-Za-z0-9][A-Za-z0-9_.:/+=#-]{0,199}$"
_PATH_SQL = "^[A-Za-z0-9_.:~+=#-]+(/[A-Za-z0-9_.:~+=#-]+)*$"
_COOKIE_SQL = "^[A-Za-z0-9!#$&''*+.^_`|~-]+$"  # '' is one quote inside the SQL string

# The envelope's rules, the same for every type: the framing seal, the time bounds (per round), the key
# version, the categories (1-32, no repeats).
_GENERIC_RULES = [
    "reinterpretAsInt64(_seal) = bitXor(kafka_offset, @NONCE@)",
    "_occurred_us BETWEEN @EARLIEST@ AND @LATEST@",
    "_key_version BETWEEN 1 AND 65535",
    "length(data_categories) BETWEEN 1 AND 32",
    "length(arrayDistinct(data_categories)) = length(data_categories)",
]
# Stage 2's check, with ``@NONCE@``, ``@EARLIEST@`` and ``@LATEST@`` (microseconds since the epoch) to fill in
# per round.
CHECK_SQL = " AND ".join([
    *_GENERIC_RULES,
    "_rules = 1",
    f"match(_event_id, '{_UUID}')",
    "length(subject_key) = 64 AND NOT match(subject_key, '[^0-9a-f]')",  # RE2 is slow at [0-9a-f]{64}
    f"arrayAll({_LABEL}, _labels)", f"arrayAll({_IDENT}, _idents)",
    f"match(actor_id, '{_ID_SQL}')", f"match(source_system, '{_ID_SQL}')",
    f"(correlation_id = '' OR match(correlation_id, '{_ID_SQL}'))",
    f"(reference = '' OR match(reference, '{_ID_SQL}'))",
    "arrayAll(x -> match(x, '^[A-Z]{2}$'), _countries)", f"arrayAll({_SE_ORG}, _se_orgs)",
    f"isValidUTF8({_ROW_TEXT})",
    f"NOT match({_ROW_TEXT}, {JSON_ESCAPED_SQL})",  # = JSON_PLAIN_SQL here, in one pass over the row's text
])  # fmt: skip


class _Party:
    def __init__(self, path: str, nullable: bool, role: str = "''") -> None:
        self.path, self.nullable, self.role = path, nullable, role

    def columns(self) -> dict[str, str]:
        p = self.path
        country = f"ifNull({p}.country, '')"
        org = f"ifNull({p}.organisation_number, '')"
        normalised = f"if({country} = 'SE', replaceRegexpAll({org}, '[ .-]', ''), {org})"
        role = f"if({p}.name IS NULL, '', {self.role})" if self.nullable else self.role
        return {"party_name": f"ifNull({p}.name, '')", "party_org_no": normalised, "party_country": country,
                "party_role": role}  # fmt: skip

    def present(self) -> str:
        return f"({self.path}.name IS NOT NULL)" if self.nullable else "1"

    def country(self) -> str:
        return f"if({self.present()}, [ifNull({self.path}.country, '')], [])"

    def se_org(self) -> str:
        p = self.path
        return f"if({self.present()} AND ifNull({p}.country, '') = 'SE', [ifNull({p}.organisation_number, '')], [])"


class _Spec:
    """What one event type adds to the envelope: columns, labels (required / optional / arrays of), rules, parties."""

    def __init__(
        self, cols: dict[str, str] | None = None, labels: tuple[str, ...] = (), optional: tuple[str, ...] = (),
        arrays: tuple[str, ...] = (), rules: tuple[str, ...] = (), parties: tuple[_Party, ...] = (),
    ) -> None:  # fmt: skip
        self.cols, self.labels, self.optional = cols or {}, labels, optional
        self.arrays, self.rules, self.parties = arrays, rules, parties


_CONSENT = "toString(event.envelope.legal_basis) = 'consent'"


def _specific(name: str) -> _Spec:
    """Per event type, as ``_rows._specific`` maps it and the event models validate it."""
    e = "event"
    if name == "pdtrail.PersonalDataCollected":
        return _Spec({"collection_source": f"toString({e}.source)"}, parties=(_Party(f"{e}.source_party", True),))
    if name == "pdtrail.PersonalDataAccessed":
        cols = {"access_kind": f"toString({e}.access_kind)", "resource": f"{e}.resource"}
        return _Spec(cols, (f"{e}.resource",), rules=(f"match({e}.resource, '{_PATH_SQL}')",))
    if name == "pdtrail.PersonalDataShared":
        return _Spec(parties=(_Party(f"{e}.recipient", False, f"toString({e}.recipient_role)"),))
    if name == "pdtrail.CreditCheckPerformed":
        cols = {"reference": f"{e}.reference", "outcome": f"ifNull(toString({e}.outcome), '')"}
        return _Spec(cols, (f"{e}.reference",), parties=(_Party(f"{e}.bureau", False),))
    if name == "pdtrail.RightsRequestReceived":
        cols = {"gdpr_right": f"toString({e}.right)", "reference": f"{e}.request_id", "action": "'received'"}
        return _Spec(cols, (f"{e}.request_id",))
    if name == "pdtrail.RightsRequestAnswered":
        cols = {"gdpr_right": f"toString({e}.right)", "reference": f"{e}.request_id", "action": "'answered'",
                "outcome": f"toString({e}.outcome)", "reason": f"ifNull({e}.reason, '')"}  # fmt: skip
        needs_reason = f"NOT ({e}.reason IS NULL AND toString({e}.outcome) IN ('refused', 'extended'))"
        return _Spec(cols, (f"{e}.request_id",), (f"{e}.reason",), rules=(needs_reason,))
    if name == "pdtrail.ConsentGiven":
        return _Spec({"reference": f"ifNull({e}.consent_text, '')"}, optional=(f"{e}.consent_text",), rules=(_CONSENT,))
    if name == "pdtrail.ConsentWithdrawn":
        return _Spec({"reference": f"ifNull({e}.request_id, '')"}, optional=(f"{e}.request_id",), rules=(_CONSENT,))
    if name in ("pdtrail.DataRectified", "pdtrail.DataErased"):
        return _Spec({"reference": f"ifNull({e}.request_id, '')"}, optional=(f"{e}.request_id",))
    if name in ("pdtrail.ProcessingRestricted", "pdtrail.RestrictionLifted"):
        cols = {"reference": f"ifNull({e}.request_id, '')", "reason": f"ifNull({e}.reason, '')"}
        return _Spec(cols, optional=(f"{e}.request_id", f"{e}.reason"))
    if name == "pdtrail.ErasureRefused":
        cols = {"reference": f"ifNull({e}.request_id, '')", "reason": f"{e}.legal_ground"}
        return _Spec(cols, (f"{e}.legal_ground",), (f"{e}.request_id",))
    if name == "pdtrail.RetentionExpired":
        return _Spec({"action": f"toString({e}.disposal)"})
    if name == "pdtrail.SubjectChecked":
        cols = {"action": f"toString({e}.check)", "outcome": f"toString({e}.outcome)"}
        return _Spec(cols, parties=(_Party(f"{e}.provider", True),))
    if name == "pdtrail.LeadReceived":
        cols = {"collection_source": "'third_party_lead'", "reference": f"ifNull({e}.reference, '')"}
        return _Spec(cols, optional=(f"{e}.reference",), parties=(_Party(f"{e}.lead_source", False),))
    if name == "pdtrail.PublicRegisterLookup":
        cols = {"collection_source": "'public_register'", "reference": f"ifNull({e}.reference, '')"}
        return _Spec(cols, optional=(f"{e}.reference",), parties=(_Party(f"{e}.public_register", False),))
    if name == "pdtrail.MarketingSent":
        return _Spec({"action": f"toString({e}.channel)", "reference": f"{e}.campaign"}, (f"{e}.campaign",))
    if name == "pdtrail.IdentifiersCollected":
        # Each name by the cookie grammar; their joined text in resource is no path (the path rule is accessed's).
        ids = f"{e}.identifiers"
        cols = {"resource": f"arrayStringConcat({ids}, ', ')"}
        names = (f"length({ids}) BETWEEN 1 AND 32", f"arrayAll(x -> match(x, '{_COOKIE_SQL}'), {ids})")
        return _Spec(cols, arrays=(ids,), rules=names)
    if name in ("pdtrail.SubjectIdentifiersLinked", "pdtrail.SubjectIdentifiersUnlinked"):
        # As consumers/_rows.py: the other key in reference, its kind in action, the reason in reason.
        linked = f"{e}.linked"
        cols = {"reference": f"{linked}.key", "action": f"toString({linked}.kind)", "reason": f"{e}.reason"}
        rules = (
            f"length({linked}.key) = 64 AND NOT match({linked}.key, '[^0-9a-f]')",
            f"{linked}.key_version = {e}.envelope.subject.key_version",
            f"{linked}.key != {e}.envelope.subject.key",
        )
        return _Spec(cols, (f"{e}.reason",), rules=rules)
    raise KeyError(name)


def _without_logical_types(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_without_logical_types(v) for v in schema]
    return schema


def _has_register_version(schema: dict[str, Any]) -> bool:
    envelope = next(f for f in schema["fields"] if f["name"] == "envelope")["type"]
    return any(f["name"] == "register_version" for f in envelope["fields"])


def wrapper_schema(version: SchemaVersion) -> str:
    """The Avro schema of the block's records: the Kafka position, the event as written, the seal."""
    return json.dumps({
        "type": "record", "name": "pdtrail.ingest.Wrapped", "fields": [
            {"name": "kafka_partition", "type": "int"}, {"name": "kafka_offset", "type": "long"},
            {"name": "event", "type": _without_logical_types(version.schema)},
            {"name": "seal", "type": {"type": "fixed", "name": "Seal", "size": 8}},
        ],
    })  # fmt: skip


def select_sql(version: SchemaVersion) -> str:
    """Stage 1: SELECT <events columns>, <what CHECK_SQL reads> FROM ``@SOURCE@`` (the block's table
    function), with ``@TOPIC@`` and ``@INGESTED@`` left to fill in per batch."""
    env = "event.envelope"
    event_type = EVENT_CLASS_BY_AVRO_NAME[version.name].model_fields["type"].default
    has_register = _has_register_version(version.schema)
    columns: dict[str, str] = {
        "event_id": f"toUUIDOrZero({env}.event_id)",
        "event_type": f"'{event_type}'",
        "occurred_at": f"fromUnixTimestamp64Micro(if({env}.occurred_at BETWEEN {EARLIEST_US} AND {LATEST_US}, "
                       f"{env}.occurred_at, 0), 'UTC')",
        "subject_key": f"{env}.subject.key",
        "subject_key_version": f"toUInt16(greatest(least({env}.subject.key_version, 65535), 0))",
        "subject_kind": f"toString({env}.subject.kind)",
        "actor_type": f"toString({env}.actor.type)",
        "actor_id": f"{env}.actor.id",
        "actor_role": f"{env}.actor.role",
        "purpose": f"{env}.purpose",
        "legal_basis": f"toString({env}.legal_basis)",
        "data_categories": f"{env}.data_categories",
        "source_system": f"{env}.source_system",
        "correlation_id": f"ifNull({env}.correlation_id, '')",
        "register_version": f"ifNull({env}.register_version, '')" if has_register else "''",
        "schema_name": f"'{version.name}'",
        "schema_version": f"toUInt16({version.version})",
        "kafka_topic": "@TOPIC@",
        "kafka_partition": "toUInt16(kafka_partition)",
        "kafka_offset": "toUInt64(kafka_offset)",
        "ingested_at": "@INGESTED@",
    }  # fmt: skip
    spec = _specific(version.name)
    for party in spec.parties:
        columns |= party.columns()
    columns |= spec.cols
    optional = [f"{env}.correlation_id", *([f"{env}.register_version"] if has_register else []), *spec.optional]
    optional += [p.path + ".name" for p in spec.parties if p.nullable]
    required = [f"{env}.actor.id", f"{env}.source_system", *spec.labels]
    required += [p.path + ".name" for p in spec.parties if not p.nullable]
    present = f"arrayMap(x -> assumeNotNull(x), arrayFilter(x -> x IS NOT NULL, [{', '.join(optional)}]))"
    labels = f"arrayConcat([{', '.join(required)}], {present}{''.join(', ' + a for a in spec.arrays)})"
    # Only the type's own rules here: the envelope's are judged in stage 2 (_GENERIC_RULES), analysed once per
    # round instead of once per schema in the round (this statement's analysis is its fixed cost).
    rules = [*spec.rules] or ["1"]
    parties = spec.parties
    extra = {
        "_seal": "seal",
        "_occurred_us": f"{env}.occurred_at",
        "_key_version": f"{env}.subject.key_version",
        "_labels": labels,
        "_idents": f"arrayConcat([{env}.actor.role, {env}.purpose], {env}.data_categories)",
        "_countries": f"arrayConcat([]::Array(String){''.join(', ' + p.country() for p in parties)})",
        "_se_orgs": f"arrayConcat([]::Array(String){''.join(', ' + p.se_org() for p in parties)})",
        "_rules": "toUInt8(" + " AND ".join(f"({r})" for r in rules) + ")",
        "_event_id": f"{env}.event_id",
    }
    select = ",\n  ".join(f"{columns.get(c, chr(39) * 2)} AS {c}" for c in COLUMNS)
    return f"SELECT\n  {select},\n  " + ",\n  ".join(f"{e} AS {n}" for n, e in extra.items()) + "\nFROM @SOURCE@"
