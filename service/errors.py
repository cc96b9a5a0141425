"""Domain errors and their rendering as RFC 9457 problem details.

Services raise ``DomainError`` subclasses; one handler turns each into
``application/problem+json``. Nothing below ``service.api`` knows about HTTP.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_TYPE_BASE = "https://grader.example.org/problems/"


class DomainError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class RubricInvalid(DomainError):
    """A rubric (file or API) that cannot be used; names the source, field and problem."""

    status_code = 422
    code = "rubric_invalid"
    title = "Invalid rubric"

    def __init__(self, source: str, field: str, problem: str) -> None:
        super().__init__(f"{source}: {field}: {problem}", field=field)
        self.source = source
        self.field = field
        self.problem = problem


def problem(
    *, status: int, code: str, title: str, detail: str, instance: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The body of a problem-details response; ``code`` is a stable, machine-readable name."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code.replace("_", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return body


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"
    title = "Unauthorized"
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    title = "Forbidden"


class UnprocessableRequest(DomainError):
    """A well-formed request that breaks a rule (e.g. points above the maximum)."""

    status_code = 422
    code = "unprocessable"
    title = "Unprocessable request"
