"""Feedback links: stored as a SHA-256 only, shown once, revocable, re-issuable, expiring."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text, update

from service.__main__ import alembic_config
from service.config import Settings
from service.db.models import Submission
from service.main import create_app
from tests.conftest import ADMIN_KEY, auth, client_as, create_key
from tests.factories import submit

ANSWER = "Kennedy and Khrushchev sent secret messages and avoided war."


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def stored_hash(engine: Engine, submission_id: str) -> str | None:
    with engine.connect() as connection:
        return connection.execute(
            select(Submission.feedback_token_hash).where(Submission.id == uuid.UUID(submission_id))
        ).scalar_one()


def test_only_the_hash_is_stored_and_the_url_is_shown_once(
    lms: TestClient, instructor: TestClient, anon: TestClient, clean_engine: Engine
) -> None:
    created = submit(lms, ANSWER)
    token = token_of(created["feedback_url"])
    assert stored_hash(clean_engine, created["id"]) == hashlib.sha256(token.encode()).hexdigest()
    with clean_engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM submission")).one()
    assert token not in [str(value) for value in row]
    assert anon.get(created["feedback_url"]).status_code == 200
    for reader in (lms, instructor):
        assert reader.get(f"/v1/submissions/{created['id']}").json()["feedback_url"] is None
        assert [s["feedback_url"] for s in reader.get("/v1/submissions").json()["items"]] == [None]


def test_instructor_revokes_and_issues_a_new_link(
    lms: TestClient, instructor: TestClient, anon: TestClient
) -> None:
    created = submit(lms, ANSWER)
    old = created["feedback_url"]
    path = f"/v1/submissions/{created['id']}/feedback-link"
    assert instructor.delete(path).status_code == 204
    gone = anon.get(old)
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"
    assert instructor.delete(path).status_code == 204  # already revoked: still 204

    response = instructor.post(path)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"submission_id", "feedback_url", "issued_at", "expires_at"}
    assert body["submission_id"] == created["id"]
    assert body["expires_at"] is None
    assert body["feedback_url"].startswith("http://testserver/v1/feedback/")
    assert body["feedback_url"] != old
    assert anon.get(body["feedback_url"]).json()["answer"] == ANSWER
    assert anon.get(old).status_code == 404
    # A second new link replaces the first.
    newer = instructor.post(path).json()["feedback_url"]
    assert anon.get(body["feedback_url"]).status_code == 404
    assert anon.get(newer).status_code == 200


def test_who_may_revoke_and_reissue(
    client: TestClient, app: FastAPI, lms: TestClient, other_lms: TestClient, anon: TestClient
) -> None:
    created = submit(lms, ANSWER)
    path = f"/v1/submissions/{created['id']}/feedback-link"
    assert lms.delete(path).status_code == 403  # revoking is the instructor's decision
    assert other_lms.post(path).status_code == 404  # not the integration that posted it
    assert client.post("/v1/courses", json={"id": "other", "title": "Other"}).status_code == 201
    outsider = client_as(app, create_key(client, "instructor", "Mr Other", courses=["other"]))
    assert outsider.delete(path).status_code == 404
    assert outsider.post(path).status_code == 404
    assert anon.post(path).status_code == 401
    assert anon.get(created["feedback_url"]).status_code == 200  # nothing changed so far
    issued = lms.post(path)
    assert issued.status_code == 201
    assert anon.get(issued.json()["feedback_url"]).status_code == 200
    assert anon.get(created["feedback_url"]).status_code == 404
    assert client.delete(path).status_code == 204  # admin
    assert anon.get(issued.json()["feedback_url"]).status_code == 404


def test_links_expire_after_the_configured_days(settings: Settings, clean_engine: Engine) -> None:
    expiring = settings.model_copy(update={"feedback_link_ttl_days": 2})
    with TestClient(create_app(expiring), headers=auth(ADMIN_KEY)) as admin:
        lms = client_as(admin.app, create_key(admin, "integration"))  # type: ignore[arg-type]
        created = submit(lms, ANSWER)
        submission_id = uuid.UUID(created["id"])
        assert admin.get(created["feedback_url"]).status_code == 200

        with clean_engine.begin() as connection:
            connection.execute(
                update(Submission)
                .where(Submission.id == submission_id)
                .values(feedback_token_issued_at=datetime.now(UTC) - timedelta(days=2, seconds=1))
            )
        expired = admin.get(created["feedback_url"])
        assert expired.status_code == 410
        assert expired.json()["code"] == "feedback_link_expired"
        assert expired.json()["detail"] == (
            "This feedback link has expired; ask your instructor or your course for a new one."
        )

        renewed = admin.post(f"/v1/submissions/{created['id']}/feedback-link").json()
        issued_at = datetime.fromisoformat(renewed["issued_at"])
        assert datetime.fromisoformat(renewed["expires_at"]) == issued_at + timedelta(days=2)
        assert admin.get(renewed["feedback_url"]).status_code == 200


def test_migration_hashes_existing_tokens_in_place(
    client: TestClient, lms: TestClient, anon: TestClient, database_url: str, clean_engine: Engine
) -> None:
    """Links handed out before the upgrade keep working: their tokens are hashed in place."""
    created = submit(lms, ANSWER)
    config = alembic_config(database_url)
    config.attributes["configure_logger"] = False
    try:
        # The old schema kept the plain token; its downgrade gives each row a new one.
        command.downgrade(config, "d8f3e2a1c0b9")
        with clean_engine.connect() as connection:
            plain = connection.execute(text("SELECT feedback_token FROM submission")).scalar_one()
    finally:
        command.upgrade(config, "head")
    assert stored_hash(clean_engine, created["id"]) == hashlib.sha256(plain.encode()).hexdigest()
    feedback = anon.get(f"/v1/feedback/{plain}")
    assert feedback.status_code == 200
    assert feedback.json()["answer"] == ANSWER
    assert anon.get(created["feedback_url"]).status_code == 404
