"""Error responses shared by routes, for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.api.problems import PROBLEM_MEDIA_TYPE, ProblemDetail

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ProblemDetail, "description": "Missing, invalid or revoked API key"},
    403: {"model": ProblemDetail, "description": "The key's role may not do this"},
    422: {"model": ProblemDetail, "description": "Invalid request; `errors` lists each field"},
    429: {"model": ProblemDetail, "description": "Rate limit exceeded; see Retry-After"},
    503: {"model": ProblemDetail, "description": "Database unavailable; retry after a pause"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ProblemDetail, "description": "Not found"}
}


def document_problem_responses(app: FastAPI) -> None:
    """Document error bodies as they are sent: ``application/problem+json``.

    FastAPI lists every response model under ``application/json`` and adds its own 422
    shape (``HTTPValidationError``) to routes that declare none; both would make the
    document disagree with the responses (found by Schemathesis).
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        problem = {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}
        page = {"schema": {"type": "string"}}
        for path, path_item in document.get("paths", {}).items():
            # The LTI endpoints answer a browser inside the LMS: their errors are pages.
            errors = (
                ("text/html", page)
                if path.startswith("/lti/")
                else (
                    PROBLEM_MEDIA_TYPE,
                    problem,
                )
            )
            for operation in path_item.values():
                for response in operation.get("responses", {}).values():
                    content = response.get("content", {})
                    ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
                    if ref.endswith(("/ProblemDetail", "/HTTPValidationError")):
                        del content["application/json"]
                        content[errors[0]] = errors[1]
        schemas = document.get("components", {}).get("schemas", {})
        schemas.setdefault("ProblemDetail", ProblemDetail.model_json_schema())
        return document

    app.openapi = openapi  # type: ignore[method-assign]
