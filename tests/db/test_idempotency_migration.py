"""The migration to sealed idempotency records keeps existing records working: a retry
after the upgrade replays the response stored before it, byte for byte, and the upgraded
row holds neither the key nor the feedback token."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import JSON, Engine, Integer, String, Uuid, column, select, table

from service.__main__ import alembic_config
from service.db.base import utcnow
from service.db.models import IdempotencyRecord
from service.domain.idempotency.service import fingerprint
from service.domain.submissions.schemas import SubmissionCreate
from tests.conftest import migrate

PREVIOUS_HEAD = "f1e2d3c4b5a6"  # the revision before a9e0c4d5b6f7 sealed the records
BODY = {"question_id": "backchannel-q1", "learner_id": "learner-7", "answer": "Talked secretly."}
TOKEN = "legacy-feedback-token-0123456789abcdefghijk"
# What the old code stored: the response body as JSON (non-ASCII kept, as JSONResponse does).
OLD_RESPONSE: dict[str, Any] = {
    "id": str(uuid.uuid4()),
    "learner_id": "learner-7",
    "answer": "Talked secretly — in private.",
    "feedback_url": f"http://127.0.0.1:8000/v1/feedback/{TOKEN}",
}

old_records = table(
    "idempotency_record",
    column("api_key_id", Uuid()),
    column("key", String()),
    column("request_hash", String()),
    column("status_code", Integer()),
    column("response_body", JSON()),
    column("created_at"),
)


def test_records_from_before_the_upgrade_still_replay(
    client: TestClient, lms: TestClient, engine: Engine, database_url: str
) -> None:
    [lms_key] = [k for k in client.get("/v1/keys").json()["items"] if k["name"] == "LMS one"]
    config = alembic_config(database_url)
    config.attributes["configure_logger"] = False
    command.downgrade(config, PREVIOUS_HEAD)
    request_hash = fingerprint(
        "POST", "/v1/submissions", SubmissionCreate.model_validate(BODY).model_dump_json()
    )
    with engine.begin() as connection:
        connection.execute(
            old_records.insert().values(
                api_key_id=uuid.UUID(lms_key["id"]),
                key="legacy-key-1",
                request_hash=request_hash,
                status_code=201,
                response_body=OLD_RESPONSE,
                created_at=utcnow(),
            )
        )
    migrate(database_url)

    with engine.connect() as connection:
        [row] = connection.execute(select(IdempotencyRecord.__table__)).all()
    assert row.key_hash == hashlib.sha256(b"legacy-key-1").hexdigest()
    assert TOKEN.encode() not in bytes(row.sealed_response)
    replay = lms.post("/v1/submissions", json=BODY, headers={"Idempotency-Key": "legacy-key-1"})
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == OLD_RESPONSE
    assert (
        replay.content
        == (
            '{"id":"' + OLD_RESPONSE["id"] + '","learner_id":"learner-7",'
            '"answer":"Talked secretly — in private.",'
            '"feedback_url":"http://127.0.0.1:8000/v1/feedback/' + TOKEN + '"}'
        ).encode()
    )
