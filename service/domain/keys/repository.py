from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.models import ApiKey


class KeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, key: ApiKey) -> None:
        self.session.add(key)

    def get(self, key_id: uuid.UUID) -> ApiKey | None:
        return self.session.get(ApiKey, key_id)

    def get_by_hash(self, key_hash: str) -> ApiKey | None:
        return self.session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash)).first()

    def list_all(self) -> Sequence[ApiKey]:
        return self.session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)).all()

    def count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(ApiKey)) or 0

    def count_active_admins(self) -> int:
        stmt = select(func.count()).where(ApiKey.role == "admin", ApiKey.revoked_at.is_(None))
        return self.session.scalar(stmt) or 0
