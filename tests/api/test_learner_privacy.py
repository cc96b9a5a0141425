"""One learner's data: export, delete (with copies in calibration data), audit, and
retention, through HTTP against the real database; the tables are checked directly."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from service.config import Settings
from service.db.base import utcnow
from service.db.models import (
    ApiKey,
    AuditEvent,
    CallbackDelivery,
    GradingResult,
    IdempotencyRecord,
    Organization,
    Question,
    RubricVersion,
    ScoreOverride,
    Submission,
)
from service.db.session import make_sessionmaker
from service.main import create_app
from service.scoring.pilot import MIN_TO_CALIBRATE
from service.worker import apply_retention
from tests.conftest import ADMIN_KEY, auth, client_as, create_key
from tests.factories import rubric_data, submit

Q = "backchannel-q1"
LEARNER = "student-17"
SECRET = "whsec_bGVhcm5lci1wcml2YWN5LXRlc3Qtc2VjcmV0LTAwMzI="
# Answers the tests look for in every table after deletion.
FIRST = "Kennedy and Khrushchev talked in secret, which is unusual for student seventeen."
SECOND = "They used a back channel through Robert Kennedy and Dobrynin, said student 17."
OTHER = "Someone else's answer about the missiles in Cuba, by student eighteen."
OTHER_ORG = "The answer student-17 of the other school wrote about Cuba."


def second_school(client: TestClient, app: FastAPI) -> tuple[TestClient, TestClient]:
    """Another organisation with the same question id: its admin and its integration."""
    created = client.post("/v1/organizations", json={"id": "other-school", "name": "Other"})
    assert created.status_code == 201, created.text
    admin_key = created.json()["admin_key"]["key"]
    admin = client_as(app, admin_key)
    assert admin.post("/v1/questions", json=rubric_data(Q)).status_code == 201
    return admin, client_as(app, create_key(client, "integration", admin_key=admin_key))


def override(client: TestClient, submission_id: str, points: float) -> None:
    body = {"points": points, "reason": "Reviewed by hand."}
    response = client.post(f"/v1/submissions/{submission_id}/overrides", json=body)
    assert response.status_code == 201, response.text


def post_once(client: TestClient, path: str, body: Any, key: str) -> Any:
    response = client.post(path, json=body, headers={"Idempotency-Key": key})
    assert response.status_code in (200, 201), response.text
    return response.json()


def count(session: Session, model: Any, *conditions: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0


def graded_texts(session: Session, question_slug: str, organization_slug: str) -> list[list[str]]:
    """Graded answer texts of every rubric version of a question, oldest first."""
    stmt = (
        select(RubricVersion.content)
        .join(Question, Question.id == RubricVersion.question_id)
        .join(Organization, Organization.id == Question.organization_id)
        .where(Question.slug == question_slug, Organization.slug == organization_slug)
        .order_by(RubricVersion.version)
    )
    return [[g["answer"] for g in content["graded_answers"]] for content in session.scalars(stmt)]


def test_export_holds_everything_about_the_learner_of_this_organisation(
    client: TestClient, app: FastAPI, lms: TestClient, instructor: TestClient
) -> None:
    other_admin, other_lms = second_school(client, app)
    first = submit(lms, FIRST, learner_id=LEARNER)
    second = submit(lms, SECOND, learner_id=LEARNER)
    submit(lms, OTHER, learner_id="student-18")
    submit(other_lms, OTHER_ORG, learner_id=LEARNER)
    override(instructor, first["id"], 7.5)

    response = client.get(f"/v1/learners/{LEARNER}/export")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["learner_id"] == LEARNER
    assert [s["id"] for s in body["submissions"]] == [first["id"], second["id"]]
    exported = body["submissions"][0]
    assert exported["answer"] == FIRST
    assert exported["question_id"] == Q
    assert exported["created_at"] == first["created_at"]
    assert (exported["points"], exported["is_overridden"]) == (7.5, True)
    assert exported["machine_points"] == first["result"]["points"]
    assert exported["feedback_link"] == {"issued": True}
    [result] = exported["results"]
    assert result["points"] == first["result"]["points"]
    assert result["rubric_version"] == 1
    [change] = exported["overrides"]
    assert (change["old_points"], change["new_points"]) == (first["result"]["points"], 7.5)
    assert change["reason"] == "Reviewed by hand."
    assert body["submissions"][1]["overrides"] == []
    assert body["calibration_copies"] == []
    assert OTHER not in response.text
    assert OTHER_ORG not in response.text

    # The other school's student-17 is another person: its admin sees only that one.
    theirs = other_admin.get(f"/v1/learners/{LEARNER}/export").json()
    assert [s["answer"] for s in theirs["submissions"]] == [OTHER_ORG]
    assert client.get("/v1/learners/nobody/export").status_code == 404


def test_learner_ids_are_url_encoded_path_segments(client: TestClient, lms: TestClient) -> None:
    odd = "course 5/student #17?ü"
    created = submit(lms, FIRST, learner_id=odd)
    response = client.get(f"/v1/learners/{quote(odd, safe='')}/export")
    assert response.status_code == 200, response.text
    assert [s["id"] for s in response.json()["submissions"]] == [created["id"]]
    too_long = quote("x" * 256, safe="")
    assert client.get(f"/v1/learners/{too_long}/export").status_code == 422
    assert client.get(f"/v1/learners/{quote('a' + chr(7), safe='')}/export").status_code == 422
    deleted = client.delete(f"/v1/learners/{quote(odd, safe='')}")
    assert deleted.status_code == 200
    assert deleted.json()["submissions"] == 1


@pytest.mark.parametrize("role", ["instructor", "integration"])
def test_only_admins_export_or_delete(
    client: TestClient, app: FastAPI, lms: TestClient, role: str
) -> None:
    submit(lms, FIRST, learner_id=LEARNER)
    caller = client_as(app, create_key(client, role))
    assert caller.get(f"/v1/learners/{LEARNER}/export").status_code == 403
    assert caller.delete(f"/v1/learners/{LEARNER}").status_code == 403
    assert client.get(f"/v1/learners/{LEARNER}/export").status_code == 200


def test_delete_removes_the_learner_everywhere_and_audits_without_content(
    client: TestClient,
    app: FastAPI,
    lms: TestClient,
    instructor: TestClient,
    engine: Engine,
) -> None:
    other_admin, other_lms = second_school(client, app)
    callback = {"url": "http://127.0.0.1:9/x", "secret": SECRET}
    assert lms.put("/v1/callback", json=callback).status_code == 200
    single = post_once(
        lms, "/v1/submissions", {"question_id": Q, "learner_id": LEARNER, "answer": FIRST}, "one"
    )
    post_once(
        lms,
        "/v1/submissions/batch",
        {
            "items": [
                {"question_id": Q, "learner_id": LEARNER, "answer": SECOND},
                {"question_id": Q, "learner_id": "student-18", "answer": "Another one, by 18."},
            ]
        },
        "two",
    )
    other = post_once(
        lms, "/v1/submissions", {"question_id": Q, "learner_id": "student-18", "answer": OTHER}, "3"
    )
    theirs = submit(other_lms, OTHER_ORG, learner_id=LEARNER)
    override(instructor, single["id"], 8)
    override(instructor, other["id"], 2)
    override(other_admin, theirs["id"], 4)
    # Calibration copies the overridden answers into new rubric versions (2, then 3).
    assert instructor.post(f"/v1/questions/{Q}/calibrate", json={}).status_code == 200
    extra = {"graded_answers": [{"answer": SECOND, "points": 5}]}
    assert instructor.post(f"/v1/questions/{Q}/calibrate", json=extra).status_code == 200
    assert other_admin.post(f"/v1/questions/{Q}/calibrate", json={}).status_code == 200
    with Session(engine) as session:
        assert graded_texts(session, Q, "default") == [[], [FIRST, OTHER], [FIRST, OTHER, SECOND]]
        ids = list(
            session.scalars(
                select(Submission.id).where(
                    Submission.learner_id == LEARNER, Submission.id != uuid.UUID(theirs["id"])
                )
            )
        )
        assert len(ids) == 2
        # One delivery per scoring, and one for the override.
        assert count(session, CallbackDelivery, CallbackDelivery.submission_id.in_(ids)) == 3
    export = client.get(f"/v1/learners/{LEARNER}/export").json()
    assert export["calibration_copies"] == [{"question_id": Q, "rubric_versions": [2, 3]}]

    response = client.delete(f"/v1/learners/{LEARNER}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "submissions": 2,
        "grading_results": 2,
        "score_overrides": 1,
        "callback_deliveries": 3,
        "feedback_tokens": 2,
        "idempotency_records": 2,
        "graded_answers_removed": 3,
        "rubric_versions_scrubbed": 2,
        "rubric_versions_created": 1,
    }
    with Session(engine) as session:
        assert count(session, Submission, Submission.id.in_(ids)) == 0
        assert count(session, GradingResult, GradingResult.submission_id.in_(ids)) == 0
        assert count(session, ScoreOverride, ScoreOverride.submission_id.in_(ids)) == 0
        assert count(session, CallbackDelivery, CallbackDelivery.submission_id.in_(ids)) == 0
        # The batch record named student-18's submission too: it goes with the learner's.
        remaining = session.scalars(select(IdempotencyRecord.key_hash)).all()
        assert remaining == [hashlib.sha256(b"3").hexdigest()]
        # Every version is scrubbed; a new current version without the answers is written.
        assert graded_texts(session, Q, "default") == [[], [OTHER], [OTHER], [OTHER]]
        # The other school's student-17 and their calibration copy are untouched.
        assert count(session, Submission, Submission.learner_id == LEARNER) == 1
        assert graded_texts(session, Q, "other-school") == [[], [OTHER_ORG]]
        [audit] = session.scalars(select(AuditEvent)).all()
        operator_id = session.scalar(select(ApiKey.id).where(ApiKey.is_operator.is_(True)))
        stored = json.dumps(
            {"details": audit.details, "hash": audit.subject_hash, "action": audit.action}
        )
    assert audit.action == "learner.deleted"
    assert audit.actor_key_id == operator_id
    assert audit.details == response.json()
    assert audit.subject_hash is None  # no audit HMAC key configured
    for secret in (LEARNER, "17", FIRST, SECOND):
        assert secret not in stored
    assert client.get(f"/v1/learners/{LEARNER}/export").status_code == 404
    assert client.delete(f"/v1/learners/{LEARNER}").status_code == 404
    kept = other_admin.get(f"/v1/learners/{LEARNER}/export").json()["submissions"]
    assert [s["answer"] for s in kept] == [OTHER_ORG]
    # Feedback links of the deleted submissions are gone; the current rubric still grades.
    assert client.get(single["feedback_url"].split("testserver")[-1]).status_code == 404
    assert submit(lms, FIRST, learner_id="student-19")["result"]["rubric_version"] == 4


def test_erasure_refits_a_few_shot_calibration_without_the_learner(
    client: TestClient, lms: TestClient, instructor: TestClient
) -> None:
    """A question calibrated from a handful of grades stays calibrated the same way (a
    few-shot map, one example fewer) when one graded answer's learner is erased."""
    mine = submit(lms, FIRST, learner_id=LEARNER)
    override(instructor, mine["id"], 8)
    others = [
        {"answer": f"Answer {i} about the missiles and the secret talks.", "points": i + 1}
        for i in range(MIN_TO_CALIBRATE)
    ]
    calibrated = instructor.post(f"/v1/questions/{Q}/calibrate", json={"graded_answers": others})
    assert calibrated.json()["calibration_kind"] == "few-shot"
    assert client.delete(f"/v1/learners/{LEARNER}").status_code == 200
    current = instructor.get(f"/v1/questions/{Q}/rubric-versions").json()["items"][-1]["rubric"]
    assert FIRST not in [g["answer"] for g in current["graded_answers"]]
    assert current["calibration"]["kind"] == "few-shot"
    assert current["calibration"]["n_examples"] == MIN_TO_CALIBRATE


def test_audit_hash_is_an_hmac_with_the_configured_key(
    settings: Settings, engine: Engine, lms: TestClient
) -> None:
    submit(lms, FIRST, learner_id=LEARNER)
    keyed = settings.model_copy(update={"audit_hmac_key": SecretStr("audit-secret-for-tests")})
    with TestClient(create_app(keyed), headers=auth(ADMIN_KEY)) as keyed_client:
        assert keyed_client.delete(f"/v1/learners/{LEARNER}").status_code == 200
    with Session(engine) as session:
        [audit] = session.scalars(select(AuditEvent)).all()
        organization_id = session.scalar(
            select(Organization.id).where(Organization.slug == "default")
        )
    message = f"{organization_id}:{LEARNER}".encode()
    expected = hmac.new(b"audit-secret-for-tests", message, hashlib.sha256).hexdigest()
    assert audit.subject_hash == expected
    assert audit.organization_id == organization_id


def test_retention_deletes_only_old_submissions(
    client: TestClient, lms: TestClient, instructor: TestClient, settings: Settings, engine: Engine
) -> None:
    callback = {"url": "http://127.0.0.1:9/x", "secret": SECRET}
    assert lms.put("/v1/callback", json=callback).status_code == 200
    old = [submit(lms, f"Old answer number {i} about Cuba.", learner_id=f"s{i}") for i in range(3)]
    recent = submit(lms, "A recent answer about Cuba.", learner_id="s9")
    # The oldest goes in the first batch, with its override.
    override(instructor, old[2]["id"], 3)
    old_ids = [uuid.UUID(s["id"]) for s in old]
    with Session(engine) as session, session.begin():
        for age, submission_id in enumerate(old_ids, start=31):
            session.execute(
                update(Submission)
                .where(Submission.id == submission_id)
                .values(created_at=utcnow() - timedelta(days=age))
            )
        session.execute(
            update(Submission)
            .where(Submission.id == uuid.UUID(recent["id"]))
            .values(created_at=utcnow() - timedelta(days=29))
        )
    factory = make_sessionmaker(engine)
    assert apply_retention(factory, settings) == 0  # off by default
    on = settings.model_copy(update={"retention_days": 30, "retention_batch_size": 2})
    assert apply_retention(factory, on) == 2  # bounded batches
    assert apply_retention(factory, on) == 1
    assert apply_retention(factory, on) == 0
    with Session(engine) as session:
        remaining = list(session.scalars(select(Submission.id)))
        assert remaining == [uuid.UUID(recent["id"])]
        assert count(session, GradingResult, GradingResult.submission_id.in_(old_ids)) == 0
        assert count(session, ScoreOverride) == 0
        assert count(session, CallbackDelivery, CallbackDelivery.submission_id.in_(old_ids)) == 0
        assert count(session, CallbackDelivery) == 1
        audits = session.scalars(select(AuditEvent).order_by(AuditEvent.created_at)).all()
    assert [(a.action, a.details["submissions"]) for a in audits] == [
        ("retention.deleted", 2),
        ("retention.deleted", 1),
    ]
    assert audits[0].details == {
        "retention_days": 30,
        "submissions": 2,
        "grading_results": 2,
        "score_overrides": 1,
        "callback_deliveries": 3,
        "feedback_tokens": 2,
    }
    assert client.get(f"/v1/submissions/{recent['id']}").status_code == 200
