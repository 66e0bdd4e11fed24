"""Errors of the contract: invalid events and messages that cannot be decoded."""

from __future__ import annotations

from pydantic import ValidationError

from pdtrail.errors import PdtrailError

_SUBJECT_FORMS = {"identifier", "pseudonym"}  # union tags of the subject field, not field names


_LONGEST_NAME = 64


def _field_name(part: int | str) -> str:
    """A field name as an error may show it. Names come from the input too (an unknown key): one that holds
    an identifier is withheld, a very long one cut, so that an error message never carries what a value
    must not."""
    from pdtrail.schemas._clear_identifiers import identifier_in_clear

    name = str(part)
    if identifier_in_clear(name) is not None:
        return "(a field name that holds an identifier)"
    return name if len(name) <= _LONGEST_NAME else name[:_LONGEST_NAME] + "…"


def _field_path(loc: tuple[int | str, ...]) -> list[str]:
    path: list[str] = []
    for part in loc:
        if not (path and path[-1] == "subject" and part in _SUBJECT_FORMS):
            path.append(_field_name(part))
    return path


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
    def from_validation_error(cls, exc: ValidationError) -> InvalidEventError:
        problems: list[tuple[str, str]] = []
        for error in exc.errors(include_input=False, include_url=False):
            loc = _field_path(error["loc"])
            nested = (error.get("ctx") or {}).get("error")
            if isinstance(nested, InvalidEventError):
                # A nested model raised its own InvalidEventError: keep its fields, under this path.
                problems += [(".".join([*loc, f]) if loc else f, r) for f, r in nested.problems]
            else:
                problems.append((".".join(loc) or "(event)", error["msg"].removeprefix("Value error, ")))
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


class SchemaCompatibilityError(PdtrailError):
    """A schema change would leave messages of an older version unreadable. ``schema`` names it."""

    def __init__(self, schema: str, reason: str) -> None:
        self.schema = schema
        self.reason = reason
        super().__init__(f"{schema}: incompatible change: {reason}")


class RegisterError(PdtrailError):
    """The processing register file cannot be used. ``where`` is the dotted key (or the file), ``reason`` why."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"processing register: {where}: {reason}")
