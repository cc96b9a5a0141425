"""One learner's data in an organisation: export it, delete it; and retention.

Everything stored about a learner hangs off their submissions (results, overrides,
callback deliveries, the feedback token on the row, idempotency records replaying the
responses that named them), except copies of their answers in calibration data: the
calibrate endpoint copies overridden answers into a rubric version's ``graded_answers``.
Deleting a learner removes those copies from every version of the affected questions (see
``_scrub_calibration``), so "deleted" means gone, not only unreachable.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from service.db.base import utcnow
from service.db.models import (
    AuditEvent,
    CallbackDelivery,
    GradingResult,
    Question,
    RubricVersion,
    ScoreOverride,
    Submission,
)
from service.domain.access.principal import Principal, Scope
from service.domain.learners.repository import LearnerRepository, SubmissionDeletion
from service.domain.learners.schemas import (
    CalibrationCopy,
    DeliveryExport,
    FeedbackLinkExport,
    LearnerDeleted,
    LearnerExport,
    OverrideExport,
    ResultExport,
    SubmissionExport,
)
from service.domain.questions.repository import QuestionRepository
from service.domain.rubrics import service as rubric_service
from service.domain.rubrics.repository import RubricRepository
from service.domain.rubrics.schemas import RubricDocument
from service.errors import NotFound
from service.scoring import fit_question_calibration

log = logging.getLogger(__name__)

LEARNER_DELETED = "learner.deleted"
RETENTION_DELETED = "retention.deleted"


def _find_submissions(session: Session, principal: Principal, learner_id: str) -> list[Submission]:
    found = list(LearnerRepository(session, principal.scope).submissions(learner_id))
    if not found:
        # Same answer whether the learner never existed or belongs to another organisation.
        raise NotFound("No data is stored about this learner in your organisation.")
    return found


@dataclass(frozen=True)
class _CalibrationHit:
    question: Question
    answers: frozenset[str]
    versions: list[RubricVersion]


def _calibration_hits(session: Session, submissions: Sequence[Submission]) -> list[_CalibrationHit]:
    """Per question the learner answered: versions whose graded answers hold their text.

    A graded answer is matched by its exact text (that is how calibrate copies it). All of
    the learner's answers count, not only overridden ones: an instructor may also have
    pasted one in by hand, and it is still the learner's text.
    """
    answers: dict[str, set[str]] = defaultdict(set)
    questions: dict[str, Question] = {}
    for submission in submissions:
        answers[submission.question_id].add(submission.answer)
        questions[submission.question_id] = submission.question
    hits = []
    for question_id in sorted(answers):
        texts = frozenset(answers[question_id])
        versions = [
            version
            for version in RubricRepository(session).list_versions(questions[question_id])
            if any(g.get("answer") in texts for g in version.content.get("graded_answers", []))
        ]
        if versions:
            hits.append(_CalibrationHit(questions[question_id], texts, versions))
    return hits


def export_learner(session: Session, principal: Principal, learner_id: str) -> LearnerExport:
    submissions = _find_submissions(session, principal, learner_id)
    repo = LearnerRepository(session, principal.scope)
    ids = [s.id for s in submissions]
    overrides: dict[uuid.UUID, list[ScoreOverride]] = defaultdict(list)
    for override in repo.overrides(ids):
        overrides[override.submission_id].append(override)
    deliveries: dict[uuid.UUID, list[CallbackDelivery]] = defaultdict(list)
    for delivery in repo.deliveries(ids):
        deliveries[delivery.submission_id].append(delivery)
    return LearnerExport(
        learner_id=learner_id,
        organization_id=str(principal.organization_id),
        exported_at=utcnow(),
        submissions=[_export_submission(s, overrides[s.id], deliveries[s.id]) for s in submissions],
        calibration_copies=[
            CalibrationCopy(
                question_id=hit.question.slug, rubric_versions=[v.version for v in hit.versions]
            )
            for hit in _calibration_hits(session, submissions)
        ],
    )


def _export_submission(
    submission: Submission,
    overrides: Iterable[ScoreOverride],
    deliveries: Iterable[CallbackDelivery],
) -> SubmissionExport:
    return SubmissionExport(
        id=submission.id,
        question_id=submission.question.slug,
        created_at=submission.created_at,
        answer=submission.answer,
        status=submission.status,
        points=submission.points,
        machine_points=submission.machine_points,
        max_points=submission.max_points,
        needs_review=submission.needs_review,
        is_overridden=submission.is_overridden,
        feedback_link=FeedbackLinkExport(issued=submission.feedback_token_hash is not None),
        results=[_export_result(r) for r in submission.results],
        overrides=[
            OverrideExport(
                id=o.id,
                created_at=o.created_at,
                old_points=o.old_points,
                new_points=o.new_points,
                reason=o.reason,
                by_key_id=o.api_key_id,
            )
            for o in overrides
        ],
        callback_deliveries=[
            DeliveryExport(
                id=d.id,
                created_at=d.created_at,
                event=d.event,
                status=d.status,
                attempts=d.attempts,
                delivered_at=d.delivered_at,
            )
            for d in deliveries
        ],
    )


def _export_result(result: GradingResult) -> ResultExport:
    return ResultExport(
        id=result.id,
        created_at=result.created_at,
        rubric_version=result.rubric_version.version,
        engine_version=result.engine_version,
        points=result.points,
        max_points=result.max_points,
        score=result.score,
        keyword_coverage=result.keyword_coverage,
        similarity=result.similarity,
        model=result.model,
        confidence=result.confidence,
        needs_review=result.needs_review,
        advisories=list(result.advisories),
        details=dict(result.details),
    )


def _mentions(body: Any, ids: frozenset[str]) -> bool:
    """Whether a stored JSON response names one of ``ids`` (confirms the SQL pre-filter)."""
    if isinstance(body, str):
        return body in ids
    if isinstance(body, dict):
        return any(_mentions(value, ids) for value in body.values())
    if isinstance(body, list):
        return any(_mentions(value, ids) for value in body)
    return False


def subject_hash(hmac_key: bytes | None, organization_id: uuid.UUID, learner_id: str) -> str | None:
    """A keyed hash of the learner id: confirms a deletion to whoever holds the key and the
    id, reveals nothing to anyone else (a plain hash of ``student-17`` is a lookup away)."""
    if hmac_key is None:
        return None
    message = f"{organization_id}:{learner_id}".encode()
    return hmac.new(hmac_key, message, hashlib.sha256).hexdigest()


def delete_learner(
    session: Session, principal: Principal, learner_id: str, *, hmac_key: bytes | None
) -> LearnerDeleted:
    """Delete everything stored about the learner in the caller's organisation; audit it."""
    submissions = _find_submissions(session, principal, learner_id)
    hits = _calibration_hits(session, submissions)
    ids = [s.id for s in submissions]
    id_texts = frozenset(str(i) for i in ids)
    candidates = LearnerRepository(session, principal.scope).idempotency_records_mentioning(ids)
    records = [r.id for r in candidates if _mentions(r.submission_ids, id_texts)]
    deletion = SubmissionDeletion(session, principal.scope)
    # The loaded rows are about to be deleted in bulk: keep them out of the unit of work.
    for submission in submissions:
        session.expunge(submission)
    counts = deletion.delete(ids)
    counts["idempotency_records"] = deletion.delete_idempotency_records(records)
    counts |= _scrub_calibration(session, principal, hits)
    outcome = LearnerDeleted(**counts)
    deletion.add(
        AuditEvent(
            organization_id=principal.organization_id,
            actor_key_id=principal.key_id,
            action=LEARNER_DELETED,
            subject_hash=subject_hash(hmac_key, principal.organization_id, learner_id),
            details=outcome.model_dump(),
        )
    )
    session.flush()
    log.info("learner data deleted: %s", counts)
    return outcome


def _scrub_calibration(
    session: Session, principal: Principal, hits: Sequence[_CalibrationHit]
) -> dict[str, int]:
    """Remove the learner's answers from every rubric version that holds a copy.

    A question whose *current* version holds one gets a new version without them (its
    calibration refitted on what remains, or dropped when too few remain), so graders
    compiled from the old content (cached by content hash, in every process) stop being
    used. Older versions are rewritten in place: rubric versions are otherwise immutable,
    but a deleted learner's words must not survive in history. Their ``content_hash`` is
    kept as the identity of what scored past results, so it no longer hashes their
    scrubbed content; the audit row counts these versions.
    """
    removed = scrubbed = created = 0
    questions = QuestionRepository(session, Scope.organization(principal.organization_id))
    for hit in hits:
        question = questions.get(hit.question.id)
        if question is None:  # deleted with its course meanwhile: nothing left to scrub
            continue
        current = next((v for v in hit.versions if v.version == question.rubric_version), None)
        if current is not None:
            rubric_service.update_rubric(session, question, _without(current.content, hit.answers))
            created += 1
        for version in hit.versions:
            graded = version.content.get("graded_answers", [])
            kept = [g for g in graded if g.get("answer") not in hit.answers]
            removed += len(graded) - len(kept)
            # A new dict: the JSON column does not track changes made inside the old one.
            version.content = {**version.content, "graded_answers": kept}
            scrubbed += 1
    session.flush()
    return {
        "graded_answers_removed": removed,
        "rubric_versions_scrubbed": scrubbed,
        "rubric_versions_created": created,
    }


def _without(content: dict[str, Any], answers: frozenset[str]) -> dict[str, Any]:
    """The rubric without ``answers``; its calibration refitted like calibrate would."""
    document = RubricDocument.model_validate(content)
    graded = [g for g in document.graded_answers if g.answer not in answers]
    uncalibrated = document.model_copy(update={"graded_answers": graded, "calibration": None})
    fitted = None
    if document.calibration is not None:
        fitted = fit_question_calibration(rubric_service.build_grader(uncalibrated))
    refitted = uncalibrated.model_copy(
        update={"calibration": fitted.to_dict() if fitted is not None else None}
    )
    return refitted.model_dump(mode="json")


def delete_expired(session: Session, *, days: int, batch_size: int) -> int:
    """Retention: delete one batch of submissions older than ``days`` (every organisation)
    with their results, overrides and deliveries; one audit row if anything went."""
    deletion = SubmissionDeletion(session, Scope.system())
    ids = list(deletion.expired(utcnow() - timedelta(days=days), limit=batch_size))
    if not ids:
        return 0
    counts = deletion.delete(ids)
    deletion.add(
        AuditEvent(
            organization_id=None,
            actor_key_id=None,
            action=RETENTION_DELETED,
            details={"retention_days": days, **counts},
        )
    )
    session.flush()
    log.info("retention deleted %d submissions older than %d days", counts["submissions"], days)
    return counts["submissions"]
