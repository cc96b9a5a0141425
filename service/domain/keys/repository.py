from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from service.db.models import ApiKey
from service.domain.access.principal import Role, Scope
from service.domain.access.sql import scope_conditions


class KeyRepository:
    """Keys of the scope's organisation (every key for the system scope, which
    authentication uses: the key itself says whose it is)."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def _where(self) -> list[ColumnElement[bool]]:
        return scope_conditions(self.scope, organization=ApiKey.organization_id)

    def add(self, key: ApiKey) -> None:
        self.session.add(key)

    def get(self, key_id: uuid.UUID) -> ApiKey | None:
        stmt = select(ApiKey).where(ApiKey.id == key_id, *self._where())
        return self.session.scalars(stmt).first()

    def get_by_hash(self, key_hash: str) -> ApiKey | None:
        stmt = select(ApiKey).where(ApiKey.key_hash == key_hash, *self._where())
        return self.session.scalars(stmt).first()

    def list_all(self) -> Sequence[ApiKey]:
        stmt = select(ApiKey).where(*self._where()).order_by(ApiKey.created_at, ApiKey.id)
        return self.session.scalars(stmt).all()

    def count(self) -> int:
        stmt = select(func.count()).select_from(ApiKey).where(*self._where())
        return self.session.scalar(stmt) or 0

    def count_active_admins(self, organization_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(
            ApiKey.organization_id == organization_id,
            ApiKey.role == Role.ADMIN.value,
            ApiKey.revoked_at.is_(None),
        )
        return self.session.scalar(stmt) or 0
