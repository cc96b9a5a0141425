"""Migrating a populated single-tenant database into organisations and courses keeps every
row, and every row stays reachable through the API with the keys that could reach it.

The later migrations convert old rows in place: feedback tokens become hashes (the links
already handed out keep working), idempotency records get a key hash and a sealed response
(a retry with the old key still replays the original answer), a plain callback secret stays
usable. Two of their downgrades are lossy by design and the second round checks exactly
that: plain feedback tokens cannot be recovered (fresh ones are issued, old links answer
404) and idempotency records cannot be unsealed without their keys (they are deleted).

The state is written at the previous head ("98b9a82b8b5e") with plain Core inserts on the
reflected old tables (not the current models, which describe the new schema). A database
of its own: a SQLite file, or a scratch PostgreSQL database next to the test database.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import CHAR, Engine, MetaData, Uuid, create_engine, func, select, text
from sqlalchemy.engine import make_url

from service.__main__ import alembic_config
from service.config import Settings
from service.db.session import make_engine
from service.domain.rubrics.schemas import RubricDocument
from service.main import create_app
from tests.conftest import RUBRICS_DIR, auth

PREVIOUS_HEAD = "98b9a82b8b5e"
OLD_ADMIN_KEY = "grk_old-admin-key-0123456789abcdefghijklmnopqrstu"
OLD_INSTRUCTOR_KEY = "grk_old-instructor-key-0123456789abcdefghijklmno"
OLD_LMS_KEY = "grk_old-integration-key-0123456789abcdefghijklmn"
OLD_OTHER_LMS_KEY = "grk_old-other-integration-key-0123456789abcdefgh"
OLD_FEEDBACK_TOKEN = "old-feedback-token-00-abcdefghijkl"
OLD_IDEMPOTENCY_KEY = "7b1d9c4e-old-retry-key"
# The retried request the old record answers: POST /v1/submissions with this body, as the
# old code fingerprinted it (method, path, the validated body's JSON; unchanged since).
RETRIED_BODY = {
    "question_id": "old-q1",
    "learner_id": "student-0",
    "answer": "They talked secretly.",
}
RETRIED_HASH = hashlib.sha256(
    b'POST /v1/submissions\n{"question_id":"old-q1","learner_id":"student-0",'
    b'"answer":"They talked secretly."}'
).hexdigest()
QUESTIONS = ("old-q1", "old-q2")
ROW_COUNT_TABLES = (
    "question",
    "rubric_version",
    "api_key",
    "submission",
    "grading_result",
    "score_override",
    "idempotency_record",
    "rescore_job",
    "callback_delivery",
)


@pytest.fixture
def scratch_url(database_url: str, tmp_path: Any) -> Iterator[str]:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'populated.db'}"
        return
    name = f"{url.database}_populated"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _alembic(url: str, action: str, revision: str) -> None:
    config = alembic_config(url)
    config.attributes["configure_logger"] = False
    getattr(command, action)(config, revision)


def _rubric(question_id: str) -> dict[str, Any]:
    return RubricDocument.model_validate(
        {
            "id": question_id,
            "title": f"Title of {question_id}",
            "prompt": "How did the leaders talk?",
            "max_points": 4,
            "reference_answers": ["They negotiated secretly through a backchannel."],
            "criteria": [
                {
                    "id": "secret",
                    "description": "secret talks",
                    "phrasings": ["secretly"],
                    "feedback": {"hit": "Yes.", "miss": "How did they talk?"},
                }
            ],
        }
    ).model_dump(mode="json")


def _details() -> dict[str, Any]:
    return {
        "weights": {"keywords": 0.7, "similarity": 0.3},
        "criteria": [
            {
                "id": "secret",
                "description": "secret talks",
                "weight": 1.0,
                "met": True,
                "matched_phrasing": "secretly",
                "spans": [],
                "feedback": "Yes.",
            }
        ],
        "summary": "Good.",
        "advisories": [],
    }


def _populate(engine: Engine) -> dict[str, Any]:
    """The old schema's tables, one or more rows in each; the ids to look for later."""
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    for table in t.values():
        for column in table.columns:
            # SQLite reflects the Uuid columns as CHAR(32): bind them as Uuid again.
            if isinstance(column.type, CHAR) and column.type.length == 32:
                column.type = Uuid()
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    keys = {name: uuid.uuid4() for name in ("admin", "instructor", "lms", "other_lms", "revoked")}
    raw = {
        "admin": OLD_ADMIN_KEY,
        "instructor": OLD_INSTRUCTOR_KEY,
        "lms": OLD_LMS_KEY,
        "other_lms": OLD_OTHER_LMS_KEY,
        "revoked": "grk_old-revoked-key-0123456789abcdefghijklmnopqr",
    }
    roles = {
        "admin": "admin",
        "instructor": "instructor",
        "lms": "integration",
        "other_lms": "integration",
        "revoked": "integration",
    }
    submissions: dict[str, uuid.UUID] = {}
    with engine.begin() as c:
        for name, key_id in keys.items():
            c.execute(
                t["api_key"].insert(),
                {
                    "id": key_id,
                    "name": f"old {name}",
                    "role": roles[name],
                    "prefix": raw[name][:12],
                    "key_hash": hashlib.sha256(raw[name].encode()).hexdigest(),
                    "created_at": now,
                    "revoked_at": now if name == "revoked" else None,
                    "callback_url": "http://127.0.0.1:9/hook" if name == "lms" else None,
                    "callback_secret": "s" * 20 if name == "lms" else None,
                },
            )
        versions: dict[str, int] = {}
        for number, question_id in enumerate(QUESTIONS, start=1):
            c.execute(
                t["question"].insert(),
                {
                    "id": question_id,
                    "title": f"Title of {question_id}",
                    "prompt": "How did the leaders talk?",
                    "max_points": 4.0,
                    "score_step": 0.5,
                    "rubric_version": 1,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            versions[question_id] = number
            c.execute(
                t["rubric_version"].insert(),
                {
                    "id": number,
                    "question_id": question_id,
                    "version": 1,
                    "content": _rubric(question_id),
                    "content_hash": hashlib.sha256(question_id.encode()).hexdigest(),
                    "source": "api",
                    "created_at": now,
                },
            )
        posts = [("lms", "old-q1"), ("lms", "old-q2"), ("other_lms", "old-q1")]
        for index, (poster, question_id) in enumerate(posts):
            submission_id = uuid.uuid4()
            submissions[f"{poster}:{question_id}"] = submission_id
            c.execute(
                t["submission"].insert(),
                {
                    "id": submission_id,
                    "question_id": question_id,
                    "learner_id": f"student-{index}",
                    "answer": "They talked secretly.",
                    "status": "scored",
                    "created_at": now + timedelta(seconds=index),
                    "api_key_id": keys[poster],
                    "feedback_token": f"old-feedback-token-{index:02d}-abcdefghijkl",
                    "points": 3.0,
                    "machine_points": 4.0,
                    "max_points": 4.0,
                    "needs_review": False,
                    "is_overridden": index == 0,
                },
            )
            c.execute(
                t["grading_result"].insert(),
                {
                    "submission_id": submission_id,
                    "rubric_version_id": versions[question_id],
                    "engine_version": "old-1",
                    "points": 4.0,
                    "max_points": 4.0,
                    "score": 1.0,
                    "keyword_coverage": 1.0,
                    "similarity": 0.5,
                    "details": _details(),
                    "created_at": now + timedelta(seconds=index),
                    "model": "default",
                    "confidence": 0.9,
                    "needs_review": False,
                    "advisories": [],
                },
            )
            c.execute(
                t["callback_delivery"].insert(),
                {
                    "id": uuid.uuid4(),
                    "api_key_id": keys[poster],
                    "submission_id": submission_id,
                    "event": "submission.scored",
                    "url": "http://127.0.0.1:9/hook",
                    "payload": {"id": str(submission_id)},
                    "status": "delivered",
                    "attempts": 1,
                    "attempt_log": [],
                    "next_attempt_at": now,
                    "created_at": now,
                    "delivered_at": now,
                },
            )
        first = submissions["lms:old-q1"]
        c.execute(
            t["score_override"].insert(),
            {
                "submission_id": first,
                "api_key_id": keys["instructor"],
                "old_points": 4.0,
                "new_points": 3.0,
                "reason": "Partly right.",
                "created_at": now,
            },
        )
        c.execute(
            t["idempotency_record"].insert(),
            {
                "api_key_id": keys["lms"],
                "key": OLD_IDEMPOTENCY_KEY,
                "request_hash": RETRIED_HASH,
                "status_code": 201,
                "response_body": {"id": str(first), "feedback_url": "old response"},
                # Recent, unlike the other rows: records replay for 7 days only.
                "created_at": datetime.now(UTC),
            },
        )
        c.execute(
            t["rescore_job"].insert(),
            {
                "id": uuid.uuid4(),
                "question_id": "old-q1",
                "rubric_version_id": versions["old-q1"],
                "api_key_id": keys["instructor"],
                "status": "succeeded",
                "total": 2,
                "processed": 2,
                "changed": 0,
                "failed": 0,
                "created_at": now,
                "finished_at": now,
            },
        )
    return {"keys": keys, "submissions": submissions}


def _counts(engine: Engine) -> dict[str, int]:
    meta = MetaData()
    meta.reflect(engine, only=ROW_COUNT_TABLES)
    with engine.connect() as c:
        return {
            name: c.scalar(select(func.count()).select_from(meta.tables[name])) or 0
            for name in ROW_COUNT_TABLES
        }


def _ids(client: TestClient, path: str) -> set[str]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def _check_through_the_api(url: str, state: dict[str, Any], *, downgraded: bool) -> None:
    """``downgraded``: the database went down to the old head and up again since."""
    subs = {name: str(value) for name, value in state["submissions"].items()}
    settings = Settings(
        database_url=url,
        rubrics_dir=RUBRICS_DIR,
        worker_enabled=False,
        trusted_hosts="127.0.0.1,localhost,testserver",
    )
    with TestClient(create_app(settings), headers=auth(OLD_ADMIN_KEY)) as admin:
        assert set(QUESTIONS) <= _ids(admin, "/v1/questions")
        assert _ids(admin, "/v1/submissions?limit=100") == set(subs.values())
        me = [k for k in admin.get("/v1/keys").json()["items"] if k["name"] == "old admin"]
        assert [(k["role"], k["is_operator"], k["organization_id"]) for k in me] == [
            ("admin", True, "default")
        ]
        overrides = admin.get(f"/v1/submissions/{subs['lms:old-q1']}/overrides").json()
        assert [o["new_points"] for o in overrides["items"]] == [3.0]
        instructor = TestClient(admin.app, headers=auth(OLD_INSTRUCTOR_KEY))
        keys = {k["name"]: k for k in admin.get("/v1/keys").json()["items"]}
        assert keys["old instructor"]["course_ids"] == ["default"]
        assert keys["old revoked"]["revoked_at"] is not None
        assert set(QUESTIONS) <= _ids(instructor, "/v1/questions")
        assert _ids(instructor, "/v1/submissions?limit=100") == set(subs.values())
        question = instructor.get("/v1/questions/old-q1").json()
        assert (question["id"], question["course_id"]) == ("old-q1", "default")
        lms = TestClient(admin.app, headers=auth(OLD_LMS_KEY))
        assert _ids(lms, "/v1/submissions?limit=100") == {subs["lms:old-q1"], subs["lms:old-q2"]}
        assert lms.get(f"/v1/submissions/{subs['other_lms:old-q1']}").status_code == 404
        assert lms.get("/v1/callback").json() == {
            "url": "http://127.0.0.1:9/hook",
            "configured": True,
        }
        read = lms.get(f"/v1/submissions/{subs['lms:old-q1']}")
        assert read.status_code == 200, read.text
        assert read.json()["question_id"] == "old-q1"
        feedback = admin.get(f"/v1/feedback/{OLD_FEEDBACK_TOKEN}")
        if downgraded:  # the downgrade could only issue fresh tokens
            assert feedback.status_code == 404, feedback.text
        else:
            assert feedback.status_code == 200, feedback.text
            assert feedback.json()["answer"] == "They talked secretly."
        if not downgraded:
            # The converted record replays the old answer byte for byte and stores nothing.
            retry = lms.post(
                "/v1/submissions",
                json=RETRIED_BODY,
                headers={"Idempotency-Key": OLD_IDEMPOTENCY_KEY},
            )
            assert retry.status_code == 201, retry.text
            assert retry.headers["Idempotent-Replayed"] == "true"
            assert retry.content == (
                f'{{"id":"{subs["lms:old-q1"]}","feedback_url":"old response"}}'.encode()
            )
            assert _ids(admin, "/v1/submissions?limit=100") == set(subs.values())
        # A new link for an old submission, shown once, works; the one it replaces stops.
        issued = lms.post(f"/v1/submissions/{subs['lms:old-q2']}/feedback-link")
        assert issued.status_code == 201, issued.text
        new_url = issued.json()["feedback_url"]
        assert new_url.startswith("http://testserver/v1/feedback/")
        assert admin.get(new_url).status_code == 200
        revoked = TestClient(
            admin.app, headers=auth("grk_old-revoked-key-0123456789abcdefghijklmnopqr")
        )
        assert revoked.get("/v1/submissions").status_code == 401


def test_populated_database_migrates_keeps_every_row_and_stays_reachable(
    scratch_url: str,
) -> None:
    _alembic(scratch_url, "upgrade", PREVIOUS_HEAD)
    engine = make_engine(scratch_url)
    try:
        state = _populate(engine)
        before = _counts(engine)
        assert min(before.values()) >= 1
        _alembic(scratch_url, "upgrade", "head")
        assert _counts(engine) == before
        _check_through_the_api(scratch_url, state, downgraded=False)
        # The app's start-up added the shipped rubrics; the old rows are all still there,
        # except the idempotency record, which the downgrade deletes (it cannot be unsealed).
        after_start = _counts(engine)
        assert after_start["submission"] == before["submission"]
        _alembic(scratch_url, "downgrade", PREVIOUS_HEAD)
        assert _counts(engine) == {**after_start, "idempotency_record": 0}
        _alembic(scratch_url, "upgrade", "head")
        assert _counts(engine) == {**after_start, "idempotency_record": 0}
        _check_through_the_api(scratch_url, state, downgraded=True)
    finally:
        engine.dispose()
