from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import make_url

from service.db.session import SQLITE_BEGIN_OPTION

router = APIRouter(tags=["health"])

READY_EXAMPLE = {"status": "ready", "checks": {"database": "ok", "rubrics": "ok"}}
NOT_READY_EXAMPLE = {
    "status": "not ready",
    "checks": {"database": "unavailable (OperationalError)", "rubrics": "ok"},
}


@dataclass(frozen=True)
class DatabaseFile:
    """A SQLite file as it was when the server started (device and inode). If the file is
    deleted or replaced underneath, open connections keep writing into the old, unlinked
    file: every answer would be lost at the next restart, so the server is not ready."""

    path: Path
    device: int
    inode: int

    @classmethod
    def capture(cls, database_url: str) -> DatabaseFile | None:
        url = make_url(database_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        path = Path(url.database or "")
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return cls(path, stat.st_dev, stat.st_ino)

    def problem(self) -> str | None:
        """Why the file is not the one the server opened, or None."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return f"file {self.path} was deleted while the server ran; restart it"
        except OSError as exc:
            return f"file {self.path} cannot be checked ({exc.strerror})"
        if (stat.st_dev, stat.st_ino) != (self.device, self.inode):
            return f"file {self.path} was replaced while the server ran; restart it"
        return None


@router.get(
    "/healthz",
    summary="Process is alive",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
def healthz() -> dict[str, str]:
    """Liveness: answers 200 while the process runs; checks nothing else and changes nothing.

    Who: anyone (no key). Use it for a container's liveness probe.
    """
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready to serve: database reachable and rubrics loaded",
    responses={
        200: {"content": {"application/json": {"example": READY_EXAMPLE}}},
        503: {
            "description": "Not ready; the body says which check failed",
            "content": {"application/json": {"example": NOT_READY_EXAMPLE}},
        },
    },
)
def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 when the database answers and the rubrics are loaded, else 503 naming the
    check that failed; changes nothing.

    Who: anyone (no key). Use it for a load balancer's or orchestrator's readiness probe.
    """
    checks = {
        "database": "ok",
        "rubrics": "ok" if request.app.state.rubrics_loaded else "not loaded",
    }
    try:
        # DEFERRED on SQLite: a probe must not queue for the write lock behind a burst of
        # submissions (and fail a healthy instance). Pool and connect timeouts bound it.
        engine = request.app.state.engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the kind is what operators need
        checks["database"] = f"unavailable ({exc.__class__.__name__})"
    database_file: DatabaseFile | None = getattr(request.app.state, "database_file", None)
    if checks["database"] == "ok" and database_file is not None:
        checks["database"] = database_file.problem() or "ok"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
        headers=None if ready else {"Retry-After": "5"},
    )
