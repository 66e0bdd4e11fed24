"""Per-subject lineage for the DPO: parameterised ``.sql`` files and the code that runs them.

    lineage = SubjectLineage(backend, pseudonymiser)
    lineage.who_accessed("19811218-9876", since=datetime(2026, 1, 1, tzinfo=UTC))
    lineage.shared_with(...), .sources(...), .credit_checks(...), .consent_state(..., at=...),
    .retention_status(...), .lineage_graph(...);  actor_activity(backend, "emp-1042", since, until)

``backend`` is :class:`LocalQueries` over a clickhouse-connect client, or :class:`RemoteQueries`
when another process owns the embedded store; ``pdtrail.store.open_query_backend`` picks. The
reports (access report, complaint response, PDF, lineage picture) are in :mod:`pdtrail.queries.reports`;
every lookup a DPO makes is recorded with :func:`record_lookup` (an actor-activity lookup with
:func:`record_activity_lookup`).
"""

from pdtrail.queries._findings import FINDING_KINDS, Finding, findings, person_findings
from pdtrail.queries._graph import Edge, LineageGraph, Node
from pdtrail.queries._lineage import MAX_OFFSET, MAX_ROWS, SubjectLineage, actor_activity
from pdtrail.queries._meta_audit import (
    ACCESS_REQUEST,
    COMPLAINT_HANDLING,
    DPO_PURPOSES,
    INVESTIGATION,
    ensure_recorded,
    record_activity_lookup,
    record_lookup,
)
from pdtrail.queries._report_accesses import SCOPES, access_totals, is_audit_log_lookup, scoped_accesses
from pdtrail.queries._retention import RetentionRules
from pdtrail.queries._rights_cases import RightsCase, add_months, counts, deadline, open_cases
from pdtrail.queries._runner import (
    LocalQueries,
    QueryBackend,
    QueryResult,
    RemoteQueries,
    load_sql,
    query_names,
    to_json_value,
)
from pdtrail.queries.exceptions import (
    InvalidQueryParameterError,
    LookupNotRecordedError,
    QueryError,
    StoreUnavailableError,
)

__all__ = [
    "ACCESS_REQUEST",
    "COMPLAINT_HANDLING",
    "DPO_PURPOSES",
    "FINDING_KINDS",
    "INVESTIGATION",
    "MAX_OFFSET",
    "MAX_ROWS",
    "SCOPES",
    "Edge",
    "Finding",
    "InvalidQueryParameterError",
    "LineageGraph",
    "LocalQueries",
    "LookupNotRecordedError",
    "Node",
    "QueryBackend",
    "QueryError",
    "QueryResult",
    "RemoteQueries",
    "RetentionRules",
    "RightsCase",
    "StoreUnavailableError",
    "SubjectLineage",
    "access_totals",
    "actor_activity",
    "add_months",
    "counts",
    "deadline",
    "ensure_recorded",
    "findings",
    "is_audit_log_lookup",
    "load_sql",
    "open_cases",
    "person_findings",
    "query_names",
    "record_activity_lookup",
    "record_lookup",
    "scoped_accesses",
    "to_json_value",
]
