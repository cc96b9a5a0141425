"""Error responses shared by routes, for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from service.api.problems import ProblemDetail

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ProblemDetail, "description": "Missing, invalid or revoked API key"},
    403: {"model": ProblemDetail, "description": "The key's role may not do this"},
    422: {"model": ProblemDetail, "description": "Invalid request; `errors` lists each field"},
    503: {"model": ProblemDetail, "description": "Database unavailable; retry after a pause"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ProblemDetail, "description": "Not found"}
}
