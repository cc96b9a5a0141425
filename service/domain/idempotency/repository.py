"""SQL for idempotency records: lookup by (owner, key hash), the guarded insert, expiry."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db.models import IdempotencyRecord


class IdempotencyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, owner_id: uuid.UUID, key_hash: str) -> IdempotencyRecord | None:
        stmt = select(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == owner_id, IdempotencyRecord.key_hash == key_hash
        )
        return self.session.scalars(stmt).first()

    def add_last(self, record: IdempotencyRecord) -> bool:
        """Insert ``record`` as the transaction's last write; False if another request holds
        the same (owner, key), in which case this whole transaction has been rolled back.

        On PostgreSQL the insert waits for a concurrent holder of the key to finish, so a
        False here means that holder committed. No savepoint: what the transaction did is
        the work the record answers for, and goes with it.
        """
        self.session.add(record)
        try:
            self.session.flush()
        except IntegrityError:
            self.session.rollback()
            return False
        return True

    def delete(self, record: IdempotencyRecord) -> None:
        # A Core DELETE, not session.delete(): a concurrent request may have removed the same
        # expired row already, and zero rows deleted is then the right outcome, not an error.
        self.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record.id))
        self.session.expunge(record)

    def delete_created_before(self, cutoff: datetime, *, limit: int) -> int:
        """Delete at most ``limit`` records created before ``cutoff``; how many went."""
        oldest = (
            select(IdempotencyRecord.id)
            .where(IdempotencyRecord.created_at < cutoff)
            .order_by(IdempotencyRecord.created_at)  # oldest first, along the index
            .limit(limit)
        )
        stmt = delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(oldest.scalar_subquery()))
        result = self.session.execute(stmt.execution_options(synchronize_session=False))
        assert isinstance(result, CursorResult)
        return result.rowcount
