"""The row contract of the ``events`` table (infra/clickhouse/migrations): its columns in insert order.

The consumer writes rows in this order and integrity/ hashes them by these names; both import it from
here, so neither depends on the other for it.
"""

from __future__ import annotations

COLUMNS = (
    "event_id", "event_type", "occurred_at", "subject_key", "subject_key_version", "subject_kind",
    "actor_type", "actor_id", "actor_role", "purpose", "legal_basis", "data_categories", "source_system",
    "correlation_id", "collection_source", "access_kind", "resource", "party_name", "party_org_no",
    "party_country", "party_role", "reference", "outcome", "schema_name", "schema_version",
    "kafka_topic", "kafka_partition", "kafka_offset", "ingested_at",
    "action", "gdpr_right", "reason", "register_version",
)  # fmt: skip
# A link event (subject.identifiers_linked / _unlinked) needs no column of its own: the other key is in
# reference (64 hex), its kind in action, the reason in reason; its key version is the row's own.
# Added by migration 0005: '' in every older row, and left out of a row's canonical form when '' (integrity/).
LATER_COLUMNS = ("action", "gdpr_right", "reason", "register_version")
# Integer columns (all others are text, a UUID, a time or an array of text).
INTEGER_COLUMNS = frozenset({"subject_key_version", "schema_version", "kafka_partition", "kafka_offset"})
