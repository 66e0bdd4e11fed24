"""Errors of the lineage queries."""

from __future__ import annotations

from pdtrail.errors import PdtrailError, RetryableError


class QueryError(PdtrailError):
    """A query could not be answered."""


class InvalidQueryParameterError(QueryError, ValueError):
    """A parameter is unusable; ``parameter`` names it and ``reason`` says why (never echoing identifiers)."""

    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = parameter
        self.reason = reason
        super().__init__(f"{parameter}: {reason}")


class StoreUnavailableError(RetryableError, QueryError):
    """The store (or the process that owns it) did not answer."""


class LookupNotRecordedError(QueryError):
    """A DPO's lookup could not be recorded in the audit log (the meta-audit event was not delivered)."""
