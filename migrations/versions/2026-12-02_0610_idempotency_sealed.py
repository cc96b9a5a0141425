"""Idempotency records store the SHA-256 of the key and the response sealed with a key
derived from the Idempotency-Key (no plaintext feedback tokens); created_at is indexed for
the worker's expiry sweep.

Existing rows keep working: each is converted in place (its key is still readable here, so
its response can be sealed exactly as service/domain/idempotency/service.py does, scheme
"v1", copied below so that this migration never changes when the service does). A replay
after the upgrade returns the same bytes as before it. The downgrade cannot recover keys
from their hashes, so it deletes the records (they are retry caches that expire anyway).

Revision ID: a9e0c4d5b6f7
Revises: f1e2d3c4b5a6
Create Date: 2026-11-27 09:00:00.000000
"""

import hashlib
import json
import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

revision: str = "a9e0c4d5b6f7"
down_revision: str | None = "f1e2d3c4b5a6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEAL_CONTEXT_V1 = b"grader idempotency response v1"

_records = sa.table(
    "idempotency_record",
    sa.column("id", sa.BigInteger()),
    sa.column("api_key_id", sa.Uuid()),
    sa.column("key", sa.String()),
    sa.column("key_hash", sa.String()),
    sa.column("request_hash", sa.String()),
    sa.column("status_code", sa.Integer()),
    sa.column("response_body", sa.JSON()),
    sa.column("sealed_response", sa.LargeBinary()),
)


def _seal_v1(row: sa.Row, key_hash: str) -> bytes | None:
    if row.status_code is None or row.response_body is None:
        return None
    # The bytes the old code sent: Starlette's JSONResponse rendering of the stored body.
    content = json.dumps(
        row.response_body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=row.api_key_id.bytes, info=_SEAL_CONTEXT_V1
    ).derive(row.key.encode())
    aad = f"{row.api_key_id}|{key_hash}|{row.request_hash}|{row.status_code}".encode()
    nonce = os.urandom(12)
    return nonce + AESGCM(derived).encrypt(nonce, content, aad)


def _convert_existing_rows() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            _records.c.id,
            _records.c.api_key_id,
            _records.c.key,
            _records.c.request_hash,
            _records.c.status_code,
            _records.c.response_body,
        )
    ).all()
    for row in rows:
        key_hash = hashlib.sha256(row.key.encode()).hexdigest()
        connection.execute(
            _records.update()
            .where(_records.c.id == row.id)
            .values(key_hash=key_hash, sealed_response=_seal_v1(row, key_hash))
        )


def upgrade() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("sealed_response", sa.LargeBinary(), nullable=True))
    _convert_existing_rows()
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_constraint("uq_idempotency_record_api_key_id_key", type_="unique")
        batch_op.drop_column("key")
        batch_op.drop_column("response_body")
        batch_op.alter_column("key_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(
            "uq_idempotency_record_api_key_id_key_hash", ["api_key_id", "key_hash"]
        )
        batch_op.create_index("ix_idempotency_record_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    # Keys cannot be recovered from their hashes: the records go (a retry after the
    # downgrade is then treated as a new request).
    op.execute(_records.delete())
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_record_created_at")
        batch_op.drop_constraint("uq_idempotency_record_api_key_id_key_hash", type_="unique")
        batch_op.drop_column("sealed_response")
        batch_op.drop_column("key_hash")
        batch_op.add_column(sa.Column("key", sa.String(length=255), nullable=False))
        batch_op.add_column(sa.Column("response_body", sa.JSON(), nullable=True))
        batch_op.create_unique_constraint(
            "uq_idempotency_record_api_key_id_key", ["api_key_id", "key"]
        )
