"""SQL of console sessions and the deployment's own secrets."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from service.db.models import ServiceSecret, WebSession


class SessionRepository:
    """Sessions are looked up by the hash of their token, which is the credential: the
    lookup itself is the access check, so it takes no scope."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: WebSession) -> None:
        self.session.add(row)

    def get_by_hash(self, token_hash: str) -> WebSession | None:
        return self.session.scalars(
            select(WebSession).where(WebSession.token_hash == token_hash)
        ).one_or_none()

    def touch(self, session_id: uuid.UUID, now: datetime) -> None:
        self.session.execute(
            update(WebSession).where(WebSession.id == session_id).values(last_seen_at=now)
        )

    def end(self, session_id: uuid.UUID, now: datetime) -> None:
        self.session.execute(
            update(WebSession)
            .where(WebSession.id == session_id, WebSession.ended_at.is_(None))
            .values(ended_at=now)
        )

    def delete_expired(self, before: datetime, *, limit: int) -> int:
        ids = self.session.scalars(
            select(WebSession.id).where(WebSession.expires_at < before).limit(limit)
        ).all()
        if not ids:
            return 0
        self.session.execute(delete(WebSession).where(WebSession.id.in_(ids)))
        return len(ids)

    def get_secret(self, name: str) -> str | None:
        row = self.session.get(ServiceSecret, name)
        return row.value if row else None

    def add_secret(self, name: str, value: str) -> None:
        self.session.add(ServiceSecret(name=name, value=value))
        self.session.flush()
