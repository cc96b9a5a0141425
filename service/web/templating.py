"""One Jinja2 environment (autoescape on) for every page, and ``render`` which adds the
page's security headers and locale.

Templates receive plain view models (Pydantic schemas from the presenters the API uses, or
small dataclasses from ``service.web.views``): never ORM objects, never a query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from service.web import i18n
from service.web.security import CSRF_FIELD, content_security_policy

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@lru_cache(maxsize=64)
def _asset_version(name: str) -> str:
    path = STATIC_DIR / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "0"


def static_url(name: str) -> str:
    """A versioned asset URL: the content hash changes the URL, so assets can be cached
    for a year without a stale one ever being served."""
    return f"/static/{name}?v={_asset_version(name)}"


def csrf_token(request: Request) -> str:
    factory = request.scope.get("csrftoken")
    return str(factory()) if callable(factory) else ""


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(("html", "xml", "svg")),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.globals.update(
        static_url=static_url,
        csrf_field=CSRF_FIELD,
        number=i18n.number,
        percent=i18n.percent,
        when=i18n.when,
    )
    return env


templates = Jinja2Templates(env=_environment())


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    locale: str | None = None,
    lang: str | None = None,
    frame_ancestors: Iterable[str] = (),
    form_targets: Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``name`` in ``locale`` (default: the browser's choice among our catalogues).
    ``lang`` marks the document's language when it differs from the catalogue's (a
    question in a language we have no translation for)."""
    chosen = locale or i18n.best_locale(
        i18n.from_accept_language(request.headers.get("accept-language"))
    )
    i18n.activate(chosen)
    page_headers = {
        "content-security-policy": content_security_policy(frame_ancestors, form_targets),
        "cache-control": "no-store",
        "vary": "Accept, Accept-Language, Cookie",
    }
    page_headers.update(headers or {})
    response = templates.TemplateResponse(
        request,
        name,
        {
            **context,
            "lang": (lang or chosen).replace("_", "-"),
            "csrf_token": csrf_token(request),
        },
        status_code=status_code,
        headers=page_headers,
    )
    return response
