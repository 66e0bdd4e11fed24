"""Errors of the contract: invalid events and messages that cannot be decoded."""

from __future__ import annotations

from pydantic import ValidationError

from pdtrail.errors import PdtrailError

_TAGS = {"identifier", "pseudonym"}  # union tags of the subject field, not field names


class InvalidEventError(PdtrailError, ValueError):
    """An event broke the contract. ``field`` is a dotted path, ``reason`` says why; ``problems``
    lists every (field, reason) pair found. Input values are never repeated."""

    def __init__(self, field: str, reason: str, problems: list[tuple[str, str]] | None = None) -> None:
        self.field = field
        self.reason = reason
        self.problems = problems or [(field, reason)]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"invalid event: {field}: {reason}{more}")

    @classmethod
    def from_validation_error(cls, exc: ValidationError, prefix: str = "") -> InvalidEventError:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            # Union members show up as path elements ("SubjectIdentifier"); they are not fields.
            loc = [str(p) for p in error["loc"] if not (isinstance(p, str) and (p[:1].isupper() or p in _TAGS))]
            field = ".".join([prefix, *loc] if prefix else loc) or "(event)"
            problems.append((field, error["msg"].removeprefix("Value error, ")))
        return cls(problems[0][0], problems[0][1], problems)


class UndecodableMessageError(PdtrailError):
    """A message is not a pdtrail event this reader can decode. ``reason`` is one short phrase."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class UnknownSchemaError(UndecodableMessageError):
    """The message's writer-schema fingerprint is not among the versions shipped in ``schemas/``."""

    def __init__(self, fingerprint: bytes) -> None:
        self.fingerprint = fingerprint
        super().__init__(f"unknown writer schema fingerprint {fingerprint.hex()}")
