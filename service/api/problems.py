"""Every error leaves the API as RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.db.session import CommitOutcomeUnknown
from service.errors import DomainError, problem
from service.web.security import is_page_path

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# A body with thousands of bad fields must not get a response many times its size.
MAX_LISTED_ERRORS = 20
DB_RETRY_AFTER_SECONDS = 5


class ProblemDetail(BaseModel):
    """Schema of error bodies, listed in the OpenAPI document for each route."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[dict[str, str]] | None = None


def problem_response(
    request: Request, *, status: int, code: str, title: str, detail: str, **extra: Any
) -> JSONResponse:
    headers = extra.pop("headers", None)
    body = problem(
        status=status, code=code, title=title, detail=detail, instance=request.url.path, **extra
    )
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "request")


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    # Pydantic errors echo the input; an answer can be 10,000 characters, so only the
    # location and message go back.
    errors = []
    for error in exc.errors()[:MAX_LISTED_ERRORS]:
        message = str(error.get("msg", "invalid value"))
        if error.get("type") == "json_invalid":
            message = "Request body is not valid JSON: " + str(
                error.get("ctx", {}).get("error", "")
            )
        errors.append({"field": _field_name(tuple(error.get("loc", ()))), "message": message})
    if len(exc.errors()) > MAX_LISTED_ERRORS:
        left = len(exc.errors()) - MAX_LISTED_ERRORS
        errors.append({"field": "request", "message": f"{left} more errors not listed"})
    return errors


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(
            request,
            status=exc.status_code,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            headers=exc.headers or None,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Page forms are not JSON: their field errors are 422s like any other (the pages
        # turn the problem into a readable page).
        if _has_non_json_body(request) and not is_page_path(request.url.path):
            return problem_response(
                request,
                status=415,
                code="unsupported_media_type",
                title="Unsupported Media Type",
                detail="Send the request body as JSON with 'Content-Type: application/json'.",
            )
        errors = _validation_errors(exc)
        first = errors[0] if errors else {"field": "request", "message": "invalid"}
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return problem_response(
            request,
            status=422,
            code="validation_error",
            title="Invalid request",
            detail=f"{first['field']}: {first['message']}{more}",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI reports any body it cannot decode as a bare 400 "error parsing the
            # body"; say what was wrong instead.
            return _unparseable_body(request, exc.__cause__)
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        return problem_response(
            request,
            status=exc.status_code,
            code=codes.get(exc.status_code, "http_error"),
            title=_reason(exc.status_code),
            detail=str(exc.detail),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DBAPIError)
    def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if not _is_unavailable(exc):
            # A constraint or data error that no handler expected: a bug, so a 500 with
            # the traceback logged (exceptions handled here are not re-raised).
            log.error("unexpected database error", exc_info=exc)
            return _internal_error(request)
        if isinstance(exc, CommitOutcomeUnknown):
            # The connection broke during COMMIT: it may have been stored. Say so, and
            # point at the one safe way on.
            log.warning("database connection lost during commit; outcome unknown")
            return _unavailable(
                request,
                code="commit_outcome_unknown",
                detail="The database connection was lost while saving; the request may or "
                "may not have been stored. Retry with the same Idempotency-Key to get the "
                "stored result without creating a duplicate.",
            )
        # Connection refused or lost, server restarting, lock timeout: the transaction was
        # rolled back, so the client should retry and nothing was stored.
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return _unavailable(
            request,
            code="database_unavailable",
            detail="The database is unavailable; nothing was stored. Retry shortly.",
        )

    @app.exception_handler(PoolTimeoutError)
    def _pool_exhausted(request: Request, exc: PoolTimeoutError) -> JSONResponse:
        # Every pooled connection stayed busy for the pool timeout: overloaded, or the
        # database stopped answering. Nothing was stored.
        log.warning("no database connection available within the pool timeout")
        return _unavailable(
            request,
            code="database_unavailable",
            detail="No database connection became available in time; nothing was stored. "
            "Retry shortly.",
        )

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Still a 500, and Starlette re-raises after this so the traceback is logged; this
        # only keeps the body in the same format as every other error.
        return _internal_error(request)


def _is_unavailable(exc: DBAPIError) -> bool:
    """Whether the error means "database unreachable or busy" rather than a bug."""
    return isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated


def _unavailable(request: Request, *, code: str, detail: str) -> JSONResponse:
    return problem_response(
        request,
        status=503,
        code=code,
        title="Service unavailable",
        detail=detail,
        headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)},
    )


def _internal_error(request: Request) -> JSONResponse:
    # Starlette sends a 500 from outside every middleware, so the request id and the
    # security headers are added here.
    return problem_response(
        request,
        status=500,
        code="internal_error",
        title="Internal Server Error",
        detail="An unexpected error occurred; it has been logged.",
        headers={
            "X-Request-ID": getattr(request.state, "request_id", "-"),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def _has_non_json_body(request: Request) -> bool:
    """A body sent as something other than JSON (or with no Content-Type at all)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method not in ("POST", "PUT", "PATCH"):
        return False
    if not content_type:
        return request.headers.get("content-length", "0") not in ("", "0")
    return not (content_type == "application/json" or content_type.endswith("+json"))


def _unparseable_body(request: Request, cause: BaseException) -> JSONResponse:
    if isinstance(cause, UnicodeDecodeError):
        reason = f"it is not valid UTF-8 ({cause.reason})"
    elif isinstance(cause, RecursionError):
        reason = "it is nested too deeply"
    else:
        reason = "it could not be parsed"
    return problem_response(
        request,
        status=422,
        code="validation_error",
        title="Invalid request",
        detail=f"The request body is not acceptable JSON: {reason}.",
        errors=[{"field": "body", "message": reason}],
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
