"""``GET /metrics`` in the Prometheus text format.

Mounted only when ``GRADER_METRICS_TOKEN`` is set, and then answered only with
``Authorization: Bearer <token>``: a dedicated scrape credential, so Prometheus never holds
an API key that could read answers, and nobody else learns the service's traffic. Without
a token (the default) there is no route: an unauthenticated /metrics, even on loopback, is
readable by anything that can reach the port. ``GRADER_METRICS_ENABLED=false`` removes the
route even with a token. Not in the OpenAPI document: it is for operators, not API clients.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from service import observability
from service.api.deps import SettingsDep
from service.errors import Unauthorized

log = logging.getLogger(__name__)

router = APIRouter(tags=["observability"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, settings: SettingsDep) -> Response:
    _check_token(
        request, settings.metrics_token.get_secret_value() if settings.metrics_token else None
    )
    body = generate_latest(REGISTRY) + _job_metrics(request)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _check_token(request: Request, token: str | None) -> None:
    # Fails closed: without a configured token nothing matches (main.py does not mount the
    # route then; this guards an app that mounts it anyway).
    presented = request.headers.get("authorization", "")
    scheme, _, value = presented.partition(" ")
    if (
        token is None
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(value.encode(), token.encode())
    ):
        raise Unauthorized("The metrics endpoint needs 'Authorization: Bearer <metrics token>'.")


def _job_metrics(request: Request) -> bytes:
    """Rescoring job progress, read from the database at scrape time: the database is the
    one place that knows every worker's progress, whichever process is scraped."""
    factory = getattr(request.app.state, "read_sessionmaker", None)
    if factory is None:  # not started (no lifespan): nothing to read yet
        return b""
    registry = CollectorRegistry(auto_describe=False)
    try:
        with factory() as session:
            registry.register(observability.JobProgressCollector(session))
            return generate_latest(registry)
    except SQLAlchemyError as exc:
        log.warning("metrics: rescoring job progress unavailable (%s)", type(exc).__name__)
        return b""
