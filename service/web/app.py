"""Mount the pages on the application: routes, static assets, CSRF and HTML errors."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from service.web.errors import install_page_errors
from service.web.routes import landing, lti
from service.web.routes.console import (
    admin,
    auth,
    groups,
    home,
    lms,
    pilot,
    questions,
    review,
    rubrics,
)
from service.web.security import CsrfMiddleware, PageFormGuard
from service.web.templating import STATIC_DIR

# Asset URLs carry their content hash (``static_url``), so a year is safe.
STATIC_CACHE = "public, max-age=31536000, immutable"

CONSOLE_ROUTERS = [
    auth.router,
    home.router,
    review.router,
    questions.router,
    groups.router,
    rubrics.router,
    pilot.router,
    admin.router,
    lms.router,
]


class CachedStatic(StaticFiles):
    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers["cache-control"] = STATIC_CACHE
        return response

    async def get_response(self, path: str, scope: Scope):  # type: ignore[no-untyped-def]
        return await super().get_response(path, scope)


def install_page_middleware(app: FastAPI) -> None:
    """Inside the body-size limit (so a form body is bounded before it is parsed)."""
    app.add_middleware(CsrfMiddleware)
    app.add_middleware(PageFormGuard)


def install_pages(app: FastAPI) -> None:
    """Call after the API's routers and problem handlers."""
    app.include_router(landing.router)
    app.include_router(lti.router)
    for router in CONSOLE_ROUTERS:
        app.include_router(router)
    app.mount("/static", CachedStatic(directory=STATIC_DIR), name="static")
    install_page_errors(app)
