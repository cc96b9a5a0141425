"""Request-scoped dependencies: one database session per request, shared app state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.domain.rubrics.service import GraderCache


def get_session(request: Request) -> Iterator[Session]:
    """Commit when the handler returns, roll back if it raises.

    Declared with ``scope="function"`` below so the commit happens *before* the response
    is sent: a failing commit then becomes an error response instead of a 2xx for a row
    that was never stored.
    """
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_graders(request: Request) -> GraderCache:
    graders: GraderCache = request.app.state.graders
    return graders


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
GradersDep = Annotated[GraderCache, Depends(get_graders)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
