"""Per-subject lineage for the DPO: parameterised ``.sql`` files and the code that runs them.

    lineage = SubjectLineage(backend, pseudonymiser)
    lineage.who_accessed("19811218-9876", since=datetime(2026, 1, 1, tzinfo=UTC))

``backend`` is :class:`LocalQueries` over a clickhouse-connect client, or :class:`RemoteQueries`
when another process owns the embedded store; ``pdtrail.store.open_query_backend`` picks.
"""

from pdtrail.queries._findings import FINDING_KINDS, Finding, findings
from pdtrail.queries._lineage import SubjectLineage
from pdtrail.queries._runner import (
    LocalQueries,
    QueryBackend,
    QueryResult,
    RemoteQueries,
    load_sql,
    query_names,
    to_json_value,
)
from pdtrail.queries.exceptions import InvalidQueryParameterError, QueryError, StoreUnavailableError

__all__ = [
    "FINDING_KINDS",
    "Finding",
    "InvalidQueryParameterError",
    "LocalQueries",
    "QueryBackend",
    "QueryError",
    "QueryResult",
    "RemoteQueries",
    "StoreUnavailableError",
    "SubjectLineage",
    "findings",
    "load_sql",
    "query_names",
    "to_json_value",
]
