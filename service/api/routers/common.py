"""Error responses shared by routes, for the OpenAPI document.

Every operation's problem ``code`` values are listed under its responses, worked out here
in one place rather than by hand per route: what every keyed operation can answer (401,
403, 429, 503), what every operation with a body can answer (413, and 415 for JSON), the
404/409 a route declares, and the extra codes a route names with ``problems(...)``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.api.problems import PROBLEM_MEDIA_TYPE, ProblemDetail
from service.errors import PROBLEM_TYPE_BASE, DomainError

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

# Every problem `code` the API sends, its status and what it means to a client (the table
# in docs/api.md). tests/api/test_openapi_docs.py checks each is really raised somewhere.
PROBLEM_CODES: dict[str, tuple[int, str]] = {
    "unauthorized": (401, "No API key, or an unknown or revoked one."),
    "forbidden": (403, "The key's role (or organisation, or course) may not do this."),
    "not_found": (404, "No such object, or not one the key may see."),
    "conflict": (409, "The object exists already, or the change would break a rule."),
    "feedback_link_expired": (410, "The feedback link is older than its lifetime."),
    "payload_too_large": (413, "The body is larger than GRADER_MAX_BODY_BYTES."),
    "unsupported_media_type": (415, "The body is not sent as application/json."),
    "validation_error": (422, "A field is missing or invalid; `errors` lists each one."),
    "rubric_invalid": (422, "The rubric cannot be used; `field` names the part."),
    "unprocessable": (422, "Well-formed, but it breaks a rule (the detail says which)."),
    "callback_refused": (422, "The callback URL may not receive callbacks."),
    "idempotency_key_reused": (422, "The Idempotency-Key was used with a different body."),
    "group_members_invalid": (
        422,
        "An answer named is not in the group, is named twice, or the split or move cannot be done.",
    ),
    "invalid_cursor": (422, "The cursor is not a next_cursor of this listing."),
    "invalid_feedback_release": (422, "close_at is missing or not allowed for the mode."),
    "wrong_question": (422, "The submission answers another question than the one named."),
    "not_scored": (422, "The submission has no machine score to compare a grade with."),
    "rate_limited": (429, "Too many requests for this key or address; see Retry-After."),
    "database_unavailable": (503, "The database is unavailable; nothing was stored."),
    "commit_outcome_unknown": (503, "The connection broke while saving; retry the same key."),
}
PROBLEM_CODES_KEY = "x-problem-codes"
KEYED_CODES = ("unauthorized", "forbidden", "rate_limited", "database_unavailable")


def problems(*codes: str) -> dict[str, Any]:
    """``openapi_extra`` for a route: the codes it can return beyond the systematic ones."""
    unknown = [code for code in codes if code not in PROBLEM_CODES]
    if unknown:
        raise ValueError(f"unknown problem codes {unknown}: add them to PROBLEM_CODES")
    return {PROBLEM_CODES_KEY: list(codes)}


def _operation_codes(operation: dict[str, Any], method: str) -> list[str]:
    """The codes an operation can return, in status order."""
    responses = operation.get("responses", {})
    named: list[str] = operation.pop(PROBLEM_CODES_KEY, [])
    codes: list[str] = []
    if "401" in responses:  # a keyed operation (the routers' AUTH_ERRORS)
        codes += KEYED_CODES
        if method != "get":  # only a write can break during COMMIT
            codes.append("commit_outcome_unknown")
    if operation.get("parameters") or "requestBody" in operation:
        codes.append("validation_error")
    body = operation.get("requestBody", {}).get("content", {})
    if body:
        # BodySizeLimitMiddleware refuses any large body; the problem handler any non-JSON one.
        codes.append("payload_too_large")
        if "application/json" in body:
            codes.append("unsupported_media_type")
    if "404" in responses:
        codes.append("not_found")
    if "409" in responses:
        codes.append("conflict")
    unique = dict.fromkeys([*codes, *named])  # the route's own codes after the common ones
    return sorted(unique, key=lambda code: (PROBLEM_CODES[code][0], list(unique).index(code)))


# Titles of the problems the handlers build themselves (service/api/problems.py, the body
# size middleware, the rate limiter); the DomainError classes carry their own.
HANDLER_TITLES = {
    "payload_too_large": "Content Too Large",
    "unsupported_media_type": "Unsupported Media Type",
    "validation_error": "Invalid request",
    "rate_limited": "Too Many Requests",
    "database_unavailable": "Service unavailable",
    "commit_outcome_unknown": "Service unavailable",
}


def _domain_titles() -> dict[str, str]:
    """``code`` -> ``title`` of every DomainError subclass defined so far (all of them, once
    the routers are imported)."""
    titles: dict[str, str] = {}
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        titles.setdefault(cls.code, cls.title)
        pending += cls.__subclasses__()
    return titles


def _example(code: str, titles: dict[str, str]) -> dict[str, Any]:
    status, meaning = PROBLEM_CODES[code]
    return {
        "type": PROBLEM_TYPE_BASE + code.replace("_", "-"),
        "title": titles.get(code, HANDLER_TITLES.get(code, "Error")),
        "status": status,
        "detail": meaning,
        "code": code,
    }


def _document_codes(operation: dict[str, Any], method: str) -> None:
    """List each status's codes in its description, ``x-problem-codes`` and examples."""
    by_status: dict[str, list[str]] = {}
    for code in _operation_codes(operation, method):
        by_status.setdefault(str(PROBLEM_CODES[code][0]), []).append(code)
    responses = operation.setdefault("responses", {})
    if "422" in responses and "422" not in by_status:
        # AUTH_ERRORS names 422 on every route; one without parameters or body cannot fail
        # validation.
        del responses["422"]
    titles = _domain_titles()
    for status, codes in by_status.items():
        response = responses.setdefault(status, {"description": PROBLEM_CODES[codes[0]][1]})
        listed = ", ".join(f"`{code}`" for code in codes)
        lead = str(response["description"]).rstrip(".")
        response["description"] = f"{lead}. Problem `code`: {listed}."
        response[PROBLEM_CODES_KEY] = codes
        response["content"] = {
            PROBLEM_MEDIA_TYPE: {
                "schema": {"$ref": "#/components/schemas/ProblemDetail"},
                "examples": {code: {"value": _example(code, titles)} for code in codes},
            }
        }


def _allows_null(schema: dict[str, Any]) -> bool:
    members = schema.get("anyOf", [schema])
    return any(member.get("type") == "null" for member in members)


def _restore_nulls(value: Any, schema: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Put back the ``null`` values FastAPI strips from examples.

    FastAPI serialises the document with ``exclude_none``, which also drops every ``None``
    inside an example, so an example of a required, nullable field (``revoked_at: null``)
    would no longer match its own schema. Only required properties are restored.
    """
    if "$ref" in schema:
        schema = schemas.get(schema["$ref"].rsplit("/", 1)[1], {})
    if isinstance(value, list):
        for item in value:
            _restore_nulls(item, schema.get("items", {}), schemas)
        return
    if not isinstance(value, dict):
        return
    candidates = [schema, *schema.get("anyOf", [])]
    for candidate in candidates:
        if "$ref" in candidate:
            candidate = schemas.get(candidate["$ref"].rsplit("/", 1)[1], {})
        properties = candidate.get("properties", {})
        if not properties or not set(value) <= set(properties):
            continue
        for name in candidate.get("required", []):
            if name not in value and _allows_null(properties[name]):
                value[name] = None
        for name, item in value.items():
            _restore_nulls(item, properties[name], schemas)
        return


def _restore_example_nulls(document: dict[str, Any]) -> None:
    schemas = document.get("components", {}).get("schemas", {})
    for schema in schemas.values():
        for example in schema.get("examples", []):
            _restore_nulls(example, schema, schemas)
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
            for body in bodies:
                for media in body.get("content", {}).values():
                    if "example" in media:
                        _restore_nulls(media["example"], media.get("schema", {}), schemas)


def document_problem_responses(app: FastAPI) -> None:
    """Document error bodies as they are sent: ``application/problem+json``, with codes.

    FastAPI lists every response model under ``application/json`` and adds its own 422
    shape (``HTTPValidationError``) to routes that declare none; both would make the
    document disagree with the responses (found by Schemathesis).
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        problem = {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}
        page = {"schema": {"type": "string"}}
        for path, path_item in document.get("paths", {}).items():
            # The LTI endpoints answer a browser inside the LMS: their errors are pages.
            browser = path.startswith("/lti/")
            errors = ("text/html", page) if browser else (PROBLEM_MEDIA_TYPE, problem)
            for method, operation in path_item.items():
                for response in operation.get("responses", {}).values():
                    content = response.get("content", {})
                    ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
                    if ref.endswith(("/ProblemDetail", "/HTTPValidationError")):
                        del content["application/json"]
                        content[errors[0]] = errors[1]
                if not browser:
                    _document_codes(operation, method)
        schemas = document.get("components", {}).get("schemas", {})
        schemas.setdefault("ProblemDetail", ProblemDetail.model_json_schema())
        _restore_example_nulls(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
