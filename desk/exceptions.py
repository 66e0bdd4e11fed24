"""Errors of the DPO's desk. Each becomes ``{"error": {"code", "message", "field"}}`` in the API."""

from __future__ import annotations

from pdtrail.errors import PdtrailError


class DeskError(PdtrailError):
    """A request the desk answers with ``status``; ``code`` is stable, ``message`` is for people."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)

    def as_json(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


def unauthorised(message: str = "a valid bearer token is required") -> DeskError:
    return DeskError(401, "unauthorised", message)


def forbidden(role: str, permission: str) -> DeskError:
    return DeskError(403, "forbidden", f"the role {role!r} may not use {permission}")


def invalid(field: str, message: str) -> DeskError:
    return DeskError(422, "invalid_parameter", message, field)


def not_found(message: str, field: str | None = None) -> DeskError:
    return DeskError(404, "not_found", message, field)
