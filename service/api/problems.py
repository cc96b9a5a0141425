"""Every error leaves the API as RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.errors import DomainError, problem

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
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
    for error in exc.errors():
        message = str(error.get("msg", "invalid value"))
        if error.get("type") == "json_invalid":
            message = "Request body is not valid JSON: " + str(
                error.get("ctx", {}).get("error", "")
            )
        errors.append({"field": _field_name(tuple(error.get("loc", ()))), "message": message})
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
        if _has_non_json_body(request):
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

    @app.exception_handler(OperationalError)
    def _database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        # Connection refused, server restarting, lock timeout: the client should retry,
        # and nothing was stored (the transaction was rolled back).
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return problem_response(
            request,
            status=503,
            code="database_unavailable",
            title="Service unavailable",
            detail="The database is unavailable; nothing was stored. Retry shortly.",
            headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Still a 500, and Starlette re-raises after this so the traceback is logged; this
        # only keeps the body in the same format as every other error.
        return problem_response(
            request,
            status=500,
            code="internal_error",
            title="Internal Server Error",
            detail="An unexpected error occurred; it has been logged.",
        )


def _has_non_json_body(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method not in ("POST", "PUT", "PATCH") or not content_type:
        return False
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
