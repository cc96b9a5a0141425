"""Application factory: ``create_app(settings)`` wires engine, rubrics, routers and errors."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from service.api.middleware import (
    AccessLogMiddleware,
    BodySizeLimitMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from service.api.problems import install_problem_handlers
from service.api.ratelimit import build_limiter, guard_anonymous_lookup, install_rate_limit_handler
from service.api.routers import (
    bench,
    callbacks,
    courses,
    embedding,
    exports,
    feedback,
    groups,
    health,
    jobs,
    keys,
    learners,
    lti,
    metrics,
    organizations,
    pilot,
    questions,
    submissions,
)
from service.api.routers.common import document_problem_responses
from service.config import Settings, get_settings, split_list
from service.db.session import make_engine, make_sessionmaker, session_scope
from service.domain.keys import cache as key_cache
from service.domain.keys import service as key_service
from service.domain.organizations import service as organization_service
from service.domain.rubrics import service as rubric_service
from service.domain.rubrics.service import GraderCache
from service.domain.sessions import service as session_service
from service.domain.submissions import service as submission_service
from service.logging import configure_logging
from service.web.app import install_page_middleware, install_pages
from service.worker import Worker, scoring_policy

log = logging.getLogger(__name__)


DOCS_URL = "/docs"
REDOC_URL = "/redoc"
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
API_DESCRIPTION = """\
Every request except the health checks, the feedback links and the LTI browser endpoints
needs `Authorization: Bearer <API key>`; each operation says which role (operator, admin,
instructor, integration) may call it.

Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code`;
each operation lists the codes it can return under its responses. See `docs/api.md` for
the table of codes.
"""


class DatabaseNotMigrated(RuntimeError):
    pass


def sync_rubrics(factory: sessionmaker[Session], settings: Settings) -> None:
    """Import ``rubrics/*.yaml``: every file is validated before anything is written.

    Several workers may start at once; the loser of a race hits a unique constraint,
    rolls back and retries, and then finds the versions already stored.
    """
    documents = rubric_service.load_rubric_dir(settings.rubrics_dir)
    for attempt in range(3):
        try:
            with session_scope(factory) as session:
                # The shipped rubrics belong to the deployment's default course.
                home = organization_service.ensure_default_organization(session)
                for document in documents:
                    rubric_service.import_document(
                        session, document, source="file", course=home.course
                    )
            return
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("rubric import raced with another process; retrying")


def startup(
    engine: Engine, factory: sessionmaker[Session], settings: Settings, graders: GraderCache
) -> None:
    if not inspect(engine).has_table("alembic_version"):
        raise DatabaseNotMigrated(
            "The database has no schema. Run `python -m service migrate` (or `make run`) first."
        )
    sync_rubrics(factory, settings)
    configured = settings.bootstrap_admin_key
    if configured is not None:
        # A deployer's GRADER_BOOTSTRAP_ADMIN_KEY becomes the first admin key (a generated
        # one is only made by `python -m service serve`, which can show it once).
        with session_scope(factory) as session:
            home = organization_service.ensure_default_organization(session)
            key_service.bootstrap_admin(
                session,
                organization_id=home.organization.id,
                configured_key=configured.get_secret_value(),
            )
    # Answers left pending by a scoring failure are tried at once at start-up, whatever their
    # backoff (a restart usually comes with a fix); the worker retries them after that.
    outcome = submission_service.retry_pending(
        factory, graders=graders, policy=scoring_policy(settings), limit=1000, ignore_backoff=True
    )
    if outcome.scored:
        log.info("scored %d pending submissions at startup", outcome.scored)


def csrf_secret(factory: sessionmaker[Session], settings: Settings) -> str:
    """The setting, else the deployment's own secret from the database (shared by every
    process, so a form rendered by one replica is accepted by another)."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    with session_scope(factory) as session:
        return session_service.deployment_secret(session)


def _make_app(settings: Settings, lifespan: Lifespan) -> FastAPI:
    """The FastAPI object, with the API reference or (``docs_enabled=false``) without it."""
    details: dict[str, Any] = {
        "title": "Assessment grading service",
        "version": "0.1.0",
        "summary": "Scores short free-text answers by rubric keyword coverage and TF-IDF "
        "similarity, stores every submission and explains each score.",
        "description": API_DESCRIPTION,
        "lifespan": lifespan,
    }
    if not settings.docs_enabled:
        # No /docs, /redoc or /openapi.json (and no static assets); `app.openapi()` still
        # builds the document for tests and tools in the same process.
        return FastAPI(docs_url=None, redoc_url=None, openapi_url=None, **details)
    # Swagger UI and ReDoc from the fastapi-offline package's own copies, never a CDN: the
    # reference must work on a school network without internet access.
    return FastAPIOffline(docs_url=DOCS_URL, redoc_url=REDOC_URL, **details)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            connect_timeout=settings.db_connect_timeout_seconds,
            pool_timeout=settings.db_pool_timeout_seconds,
        )
        factory = make_sessionmaker(engine)
        key_cache.attach(factory, app.state.key_cache)
        app.state.engine = engine
        app.state.sessionmaker = factory
        app.state.read_sessionmaker = make_sessionmaker(engine, read_only=True)
        worker: Worker | None = None
        try:
            await run_in_threadpool(startup, engine, factory, settings, app.state.graders)
            # After startup has opened it: /readyz fails if the file is deleted or replaced.
            app.state.database_file = health.DatabaseFile.capture(settings.database_url)
            app.state.csrf_secret = await run_in_threadpool(csrf_secret, factory, settings)
            app.state.rubrics_loaded = True
            # Everything loaded so far (modules, compiled graders) lives as long as the
            # process: move it out of the collector's way, so that the young objects of each
            # request and rescoring batch are collected without walking all of it.
            gc.collect()
            gc.freeze()
            if settings.worker_enabled:
                worker = Worker(factory, app.state.graders, settings)
                worker.start()
            yield
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop)
            engine.dispose()

    app = _make_app(settings, lifespan)
    app.state.settings = settings
    app.state.graders = GraderCache(settings.grader_cache_size)
    app.state.key_cache = key_cache.KeyCache(settings.key_cache_seconds)
    app.state.rubrics_loaded = False
    app.state.rate_limiter = build_limiter(settings)
    install_problem_handlers(app)
    install_rate_limit_handler(app)
    document_problem_responses(app)
    # Outermost last: the request id is set before the access log line and the security
    # headers reach every response, the early 413 included.
    install_page_middleware(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        SecurityHeadersMiddleware,
        docs_paths=(DOCS_URL, REDOC_URL, app.swagger_ui_oauth2_redirect_url),
    )
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
    if settings.forwarded_allow_ips.strip():
        # Outermost: the client address and scheme are settled before anything reads them
        # (the failed-credential limit, HSTS, links). Only the listed proxies may set them;
        # `serve` turns uvicorn's own copy of this middleware off, whose default would
        # trust loopback.
        app.add_middleware(
            ProxyHeadersMiddleware, trusted_hosts=split_list(settings.forwarded_allow_ips)
        )
    for module in (
        health,
        organizations,
        embedding,
        courses,
        questions,
        submissions,
        keys,
        callbacks,
        jobs,
        exports,
        learners,
        lti,
        groups,
        pilot,
    ):
        app.include_router(module.router)
    app.include_router(lti.questions_router)
    # A feedback link is its own credential: an unknown one counts as a failed credential.
    app.include_router(feedback.router, dependencies=[Depends(guard_anonymous_lookup)])
    if settings.metrics_enabled and settings.metrics_token is not None:
        app.include_router(metrics.router)
    elif settings.metrics_enabled:
        log.info("GET /metrics is off: set GRADER_METRICS_TOKEN to serve it")
    if settings.bench_endpoints:  # bench/http_load.py only; see routers/bench.py
        app.include_router(bench.router)
    install_pages(app)
    return app


def build_default_app() -> FastAPI:
    """Entry point for ``uvicorn --factory service.main:build_default_app``."""
    settings = get_settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    return create_app(settings)
