"""ORM tables. Schema changes go through Alembic migrations only (see ``migrations/``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from service.db.base import Base, UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Organization(Base):
    """A school, district or LMS deployment: the unit of isolation. Nothing of one
    organisation is visible to a caller of another."""

    __tablename__ = "organization"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The public id (``POST /v1/organizations`` chooses it); unique in the deployment.
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Origins (``https://lms.example.edu``) whose pages may embed this organisation's student
    # pages in an iframe (CSP ``frame-ancestors``); none means no site may.
    embed_origins: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Course(Base):
    """A course of one organisation; questions belong to a course, and instructors are
    granted courses. Each organisation has one default course (``is_default``), where
    questions go when no course is named."""

    __tablename__ = "course"
    __table_args__ = (UniqueConstraint("organization_id", "slug"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CourseGrant(Base):
    """An instructor key's access to one course."""

    __tablename__ = "course_grant"

    api_key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_key.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Question(Base):
    """A question of one course. Callers name it by ``slug`` (the API's ``question_id``),
    unique within its organisation, so two schools can both have ``q1``. ``id`` is the
    internal key the other tables refer to (questions stored before organisations keep
    their old slug as id). Its current rubric is its newest ``RubricVersion``; title,
    prompt and points are copied from that version so listings need no join."""

    __tablename__ = "question"
    __table_args__ = (
        UniqueConstraint("organization_id", "slug"),
        Index("ix_question_course_id_slug", "course_id", "slug"),
        CheckConstraint(
            "feedback_release IN ('immediately', 'after_close', 'manual')",
            name="feedback_release",
        ),
        CheckConstraint("max_attempts >= 1", name="max_attempts"),
        CheckConstraint("attempt_policy IN ('last', 'highest')", name="attempt_policy"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    slug: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("course.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    max_points: Mapped[float] = mapped_column(Float)
    score_step: Mapped[float] = mapped_column(Float)
    # The rubric's language (BCP 47, e.g. "en", "fr-CA"); pages set ``lang`` from it.
    language: Mapped[str | None] = mapped_column(String(35))
    # Number of the current (newest) rubric version.
    rubric_version: Mapped[int] = mapped_column(Integer)
    # When students and integrations see the score and its reasons (Moodle's review options):
    # "immediately", "after_close" (from ``feedback_close_at``) or "manual" (from
    # ``feedback_released_at``, set when an instructor releases). The rule itself lives in
    # service/domain/submissions/release.py.
    feedback_release: Mapped[str] = mapped_column(
        String(16), default="immediately", server_default="immediately"
    )
    feedback_close_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Attempts a learner launching it from an LMS may make, and which one the gradebook
    # gets: "last" or "highest" (the API's submissions are the integration's business).
    max_attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    attempt_policy: Mapped[str] = mapped_column(String(16), default="last", server_default="last")
    # When LMS gradebook scores were last posted again because feedback was released or
    # hidden (an ``after_close`` release is noticed by the worker from this).
    gradebook_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    rubric_versions: Mapped[list[RubricVersion]] = relationship(
        back_populates="question", lazy="raise", order_by="RubricVersion.version"
    )
    course: Mapped[Course] = relationship(lazy="raise")


class RubricVersion(Base):
    """An immutable rubric. Results point at the version that scored them, so editing a
    rubric never changes what an old score meant."""

    __tablename__ = "rubric_version"
    __table_args__ = (
        UniqueConstraint("question_id", "version"),
        CheckConstraint("source IN ('file', 'api')", name="source"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    # The validated rubric as canonical JSON, and the SHA-256 of that JSON.
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    # Where it came from: a file in rubrics/ or an instructor through the API. A file is only
    # re-imported when it differs from the last version imported *from that file*, so a
    # restart never reverts an instructor's edit.
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    question: Mapped[Question] = relationship(back_populates="rubric_versions", lazy="raise")


class ApiKey(Base):
    """A caller of one organisation. Only the SHA-256 of the key is stored; the key itself
    is shown once. ``is_operator`` adds the deployment's capability (creating
    organisations) to a key; the role ``operator`` has only that."""

    __tablename__ = "api_key"
    __table_args__ = (
        CheckConstraint("role IN ('operator', 'admin', 'instructor', 'integration')", name="role"),
        Index("ix_api_key_organization_id_role", "organization_id", "role"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    # First characters of the key, so an admin can tell keys apart without the secret.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An integration's callback endpoint and the shared secret its deliveries are signed with.
    callback_url: Mapped[str | None] = mapped_column(String(2048))
    callback_secret: Mapped[str | None] = mapped_column(String(256))

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Submission(Base):
    """One learner's answer. The answer is stored before it is scored, so a scoring failure
    leaves it ``pending`` rather than lost.

    ``points`` is the effective score (the newest override, else the newest machine result),
    kept on the row with ``machine_points`` and ``needs_review`` so that lists can filter and
    sort by them in SQL.
    """

    __tablename__ = "submission"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'scored', 'error')", name="status"),
        # Scores are finite and on the question's scale (NaN and inf fail these too). An
        # override was within the scale it was given on; a later rubric with fewer points
        # rescales the machine score but never rewrites an instructor's.
        CheckConstraint(
            "machine_points IS NULL OR (machine_points >= 0 AND machine_points <= max_points)",
            name="machine_points_range",
        ),
        CheckConstraint(
            "points IS NULL OR (points >= 0 AND (points <= max_points OR is_overridden))",
            name="points_range",
        ),
        Index("ix_submission_created_at_id", "created_at", "id"),
        Index("ix_submission_status_next_scoring_at", "status", "next_scoring_at"),
        Index("ix_submission_question_id_created_at", "question_id", "created_at"),
        Index("ix_submission_learner_id_created_at", "learner_id", "created_at"),
        Index("ix_submission_api_key_id_created_at", "api_key_id", "created_at"),
        Index("ix_submission_organization_id_learner_id", "organization_id", "learner_id"),
        Index("ix_submission_course_id_created_at", "course_id", "created_at"),
        Index(
            "ix_submission_lti_resource_link_id_learner_id", "lti_resource_link_id", "learner_id"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    question_id: Mapped[str] = mapped_column(ForeignKey("question.id", ondelete="RESTRICT"))
    # The question's scope, copied onto the row so that every scoped query filters one
    # table. A question never changes course, so the copies cannot go stale.
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("course.id", ondelete="RESTRICT"))
    learner_id: Mapped[str] = mapped_column(String(255))
    answer: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The key that posted it (integrations only see their own submissions).
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_key.id", ondelete="RESTRICT")
    )
    # SHA-256 (hex) of the capability token of the student feedback URL. The token itself is
    # never stored: it is shown once, when the submission or a new link is created. Null
    # after an instructor revoked the link. ``feedback_token_issued_at`` starts the link's
    # lifetime (``GRADER_FEEDBACK_LINK_TTL_DAYS``).
    feedback_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    feedback_token_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    points: Mapped[float | None] = mapped_column(Float)
    machine_points: Mapped[float | None] = mapped_column(Float)
    max_points: Mapped[float | None] = mapped_column(Float)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_overridden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Retries of a scoring failure: how many scorings were tried, when the worker tries the
    # next one (backoff), and, once it gave up (status ``error``), a short reason that is
    # safe to show (never a traceback).
    scoring_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_scoring_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scoring_error: Mapped[str | None] = mapped_column(String(200))
    # The LMS placement it was answered in (an LTI launch): its score goes to that line item.
    lti_resource_link_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lti_resource_link.id", ondelete="SET NULL")
    )

    question: Mapped[Question] = relationship(lazy="raise")
    results: Mapped[list[GradingResult]] = relationship(
        back_populates="submission", lazy="raise", order_by="GradingResult.id.desc()"
    )

    @property
    def latest_result(self) -> GradingResult | None:
        """The machine score: the newest result (``results`` is ordered newest first)."""
        return self.results[0] if self.results else None


class GradingResult(Base):
    """One scoring of a submission by one rubric version and engine version."""

    __tablename__ = "grading_result"
    __table_args__ = (
        Index("ix_grading_result_submission_id_id", "submission_id", "id"),
        # What the engine guarantees, enforced where it is stored (NaN and inf fail too).
        CheckConstraint("points >= 0 AND points <= max_points", name="points_range"),
        CheckConstraint("score >= 0 AND score <= 1", name="score_range"),
        CheckConstraint(
            "keyword_coverage >= 0 AND keyword_coverage <= 1", name="keyword_coverage_range"
        ),
        CheckConstraint("similarity >= 0 AND similarity <= 1", name="similarity_range"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE")
    )
    rubric_version_id: Mapped[int] = mapped_column(
        ForeignKey("rubric_version.id", ondelete="RESTRICT")
    )
    engine_version: Mapped[str] = mapped_column(String(32))
    points: Mapped[float] = mapped_column(Float)
    max_points: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    keyword_coverage: Mapped[float] = mapped_column(Float)
    similarity: Mapped[float] = mapped_column(Float)
    # "default" (the rubric's weights) or "calibrated" (a model fitted on graded answers).
    model: Mapped[str] = mapped_column(String(16), default="default", server_default="default")
    confidence: Mapped[float | None] = mapped_column(Float)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Advisory codes (gaming, can't-grade signs); their messages are in ``details``.
    advisories: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Per-criterion results with evidence spans, the summary, the blend weights used, the
    # measured components and advisory messages.
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="results", lazy="raise")
    rubric_version: Mapped[RubricVersion] = relationship(lazy="raise")


class ScoreOverride(Base):
    """An instructor's change of a score: an immutable audit record. The machine result
    it overrides is kept; the newest override is the effective score."""

    __tablename__ = "score_override"
    __table_args__ = (Index("ix_score_override_submission_id_id", "submission_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE")
    )
    # The key that made it, or none for an instructor signed in by an LTI launch; who it was
    # is then ``actor_name`` (the name the LMS gave).
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_key.id", ondelete="RESTRICT")
    )
    actor_name: Mapped[str | None] = mapped_column(String(200))
    old_points: Mapped[float | None] = mapped_column(Float)
    new_points: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    # Set on a revert: the override this row undid (its points went back to that one's
    # ``old_points``). The undone row stays, so the history shows both.
    reverts_override_id: Mapped[int | None] = mapped_column(
        ForeignKey("score_override.id", ondelete="SET NULL")
    )
    # Made by grading an answer group (the group's id; groups are recomputed, so no foreign
    # key): such an override is not one made "one by one", which a group grade leaves alone.
    answer_group_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    api_key: Mapped[ApiKey | None] = relationship(lazy="raise")


class IdempotencyRecord(Base):
    """The first response to a request carrying an ``Idempotency-Key``, replayed on retries.

    Inserted before the work is done, in the same transaction: a concurrent retry blocks on
    the unique key and then replays, instead of doing the work twice. Neither the key nor
    the response is stored readably: the key as its SHA-256, the response (which holds
    students' feedback links) sealed with a key derived from the Idempotency-Key itself, so
    only a client presenting the key again can read it (service/domain/idempotency).
    """

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("api_key_id", "key_hash"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64))
    # Method, path and SHA-256 of the body: the same key with another request is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    # Nonce + AES-GCM ciphertext of the response's JSON bytes; null while the work runs.
    sealed_response: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The submissions the response names (ids only, no content): a learner's deletion
    # finds the records that replay that learner's submissions without unsealing them.
    submission_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Indexed for the worker's expiry sweep (GRADER_IDEMPOTENCY_TTL_DAYS).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class RescoreJob(Base):
    """Rescoring a question's submissions with its current rubric, in the background.

    Progress (``cursor``, counts) is committed batch by batch, so a job interrupted by a
    restart resumes where it stopped; ``lease_until`` lets another worker take over a job
    whose worker died.
    """

    __tablename__ = "rescore_job"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
        Index("ix_rescore_job_status_created_at", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    question_id: Mapped[str] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"))
    # The question's scope: who may read the job.
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("course.id", ondelete="RESTRICT"))
    rubric_version_id: Mapped[int] = mapped_column(
        ForeignKey("rubric_version.id", ondelete="RESTRICT")
    )
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_key.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16), default="queued")
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # Keyset position: (created_at, id) of the last submission processed.
    cursor_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cursor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    error: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Which claim holds the lease: a worker that lost its lease (it stalled past
    # ``lease_until`` and another took over) stops instead of working alongside.
    lease_owner: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    rubric_version: Mapped[RubricVersion] = relationship(lazy="raise")
    question: Mapped[Question] = relationship(lazy="raise")


class CallbackDelivery(Base):
    """One message that leaves the service (an outbox row), on one channel: ``webhook`` (an
    event POSTed to an integration's callback URL, signed) or ``lti_score`` (an AGS Score
    POSTed to an LMS line item with the platform's access token).

    Written in the same transaction as the change it reports, so a message is never lost
    nor sent for a change that was rolled back; a worker delivers it with retries.
    """

    __tablename__ = "callback_delivery"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed', 'cancelled')", name="status"),
        CheckConstraint("channel IN ('webhook', 'lti_score')", name="channel"),
        CheckConstraint(
            "(channel = 'webhook' AND api_key_id IS NOT NULL)"
            " OR (channel = 'lti_score' AND lti_platform_id IS NOT NULL)",
            name="channel_target",
        ),
        Index("ix_callback_delivery_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_callback_delivery_submission_id", "submission_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The scope of the submission it reports (the receiving key's organisation).
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    channel: Mapped[str] = mapped_column(String(16), default="webhook", server_default="webhook")
    # The receiver: the integration's key (webhook) or the LMS platform (lti_score).
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_key.id", ondelete="CASCADE")
    )
    lti_platform_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lti_platform.id", ondelete="CASCADE")
    )
    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE")
    )
    event: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Every attempt: when, HTTP status (if any) and error (if any).
    attempt_log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Who did what to personal data, and when: never the data itself.

    A learner deletion stores counts and a keyed hash of the learner id (``subject_hash``,
    an HMAC with a deployment secret, so the row can confirm "was learner X deleted?" for
    someone who knows X and the secret, but does not reveal X). Rows are append-only and
    refer to keys by id without a foreign key, so an audit row outlives what it names.
    ``organization_id`` is empty for deployment-wide work (the retention run).
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_organization_id_created_at", "organization_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    actor_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(64))
    subject_hash: Mapped[str | None] = mapped_column(String(64))
    # Counts of what was affected (and ids of rewritten rubric versions): no content.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebSession(Base):
    """A signed-in browser: the console's session, kept server-side so that sign-out, key
    revocation and the idle timeout take effect at once in every process. Only the SHA-256
    of the cookie's token is stored. A session of a key re-reads the key on every request;
    one made by an LTI launch (no key) carries its role and courses itself."""

    __tablename__ = "web_session"
    __table_args__ = (
        CheckConstraint("role IN ('operator', 'admin', 'instructor', 'integration')", name="role"),
        Index("ix_web_session_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_key.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(16))
    course_ids: Mapped[list[str] | None] = mapped_column(JSON)
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ServiceSecret(Base):
    """Secrets the deployment makes for itself once (the CSRF signing key when
    ``GRADER_SESSION_SECRET`` is unset), shared by every process through the database."""

    __tablename__ = "service_secret"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiToolKey(Base):
    """One of the tool's RSA signing keys (its public half is in ``/.well-known/jwks.json``).

    The newest unretired key signs; a rotated key stays published until ``retired_at`` plus
    the longest lifetime of what it signed, so launches and tokens in flight still verify.
    The private key is stored as PKCS#8 PEM encrypted with ``GRADER_LTI_KEY_PASSPHRASE``
    (or, unset, a deployment secret: see service/integrations/lti/keys.py).
    """

    __tablename__ = "lti_tool_key"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LtiPlatform(Base):
    """An LMS registered with the tool (LTI 1.3): where to send users to log in, where to
    get access tokens and the keys its launches are signed with. It belongs to one
    organisation, so its launches only ever see that organisation's data."""

    __tablename__ = "lti_platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(2048))
    token_url: Mapped[str] = mapped_column(String(2048))
    jwks_url: Mapped[str] = mapped_column(String(2048))
    # The platform's key set as last fetched (refetched when a launch names an unknown kid).
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    jwks_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "manual" (an admin pasted the values) or "dynamic" (LTI Dynamic Registration).
    registered_by: Mapped[str] = mapped_column(String(16), default="manual")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Deleted with the platform by the database (ON DELETE CASCADE): without the cascade
    # here the ORM would first set a loaded deployment's platform_id to NULL, which fails.
    deployments: Mapped[list[LtiDeployment]] = relationship(
        back_populates="platform",
        lazy="raise",
        order_by="LtiDeployment.deployment_id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class LtiDeployment(Base):
    """A deployment of the tool on a platform (``deployment_id`` claim): launches naming a
    deployment that is not registered are refused."""

    __tablename__ = "lti_deployment"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    platform_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_platform.id", ondelete="CASCADE")
    )
    deployment_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    platform: Mapped[LtiPlatform] = relationship(back_populates="deployments", lazy="raise")


class LtiContext(Base):
    """An LMS course (the ``context`` claim) and the course of ours it became on its first
    launch."""

    __tablename__ = "lti_context"
    __table_args__ = (UniqueConstraint("platform_id", "context_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    platform_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_platform.id", ondelete="CASCADE")
    )
    context_id: Mapped[str] = mapped_column(String(255))
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiResourceLink(Base):
    """A placement of a question in an LMS course (``resource_link`` claim), with the line
    item its grades go to (the AGS ``lineitem`` claim, when the platform gives one)."""

    __tablename__ = "lti_resource_link"
    __table_args__ = (UniqueConstraint("platform_id", "resource_link_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    platform_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_platform.id", ondelete="CASCADE")
    )
    resource_link_id: Mapped[str] = mapped_column(String(255))
    question_id: Mapped[str] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(255))
    lineitem_url: Mapped[str | None] = mapped_column(String(2048))
    # The AGS scopes the platform granted in the launch: a score is only posted with "score".
    ags_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    platform: Mapped[LtiPlatform] = relationship(lazy="raise")
    question: Mapped[Question] = relationship(lazy="raise")


class LtiNonce(Base):
    """A launch's ``nonce``, kept until its id_token expires: a second launch with the same
    nonce (a replayed id_token) is refused."""

    __tablename__ = "lti_nonce"
    __table_args__ = (Index("ix_lti_nonce_expires_at", "expires_at"),)

    platform_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_platform.id", ondelete="CASCADE"), primary_key=True
    )
    nonce: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LtiLaunch(Base):
    """A verified launch, for the pages it opens inside the LMS's iframe.

    Browsers block third-party cookies in iframes, so the answer and deep-linking forms
    carry the launch's token (a random capability, stored as its SHA-256) instead of
    relying on a cookie: whoever holds the page holds the launch, for ``expires_at``.
    """

    __tablename__ = "lti_launch"
    __table_args__ = (
        CheckConstraint(
            "message_type IN ('LtiResourceLinkRequest', 'LtiDeepLinkingRequest')",
            name="message_type",
        ),
        Index("ix_lti_launch_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    platform_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lti_platform.id", ondelete="CASCADE")
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    message_type: Mapped[str] = mapped_column(String(32))
    deployment_id: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(200))
    # "instructor" or "learner", from the LTI roles.
    role: Mapped[str] = mapped_column(String(16))
    resource_link_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lti_resource_link.id", ondelete="CASCADE")
    )
    # Deep linking: the return URL and the platform's opaque ``data``, echoed back.
    deep_linking: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LtiRegistrationInvite(Base):
    """A one-time Dynamic Registration URL an admin made for their organisation: the
    platform that opens it is registered there. Only the token's SHA-256 is stored."""

    __tablename__ = "lti_registration_invite"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    platform_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lti_platform.id", ondelete="SET NULL")
    )


class GroupingState(Base):
    """A question's answer grouping as a whole: which rubric version and answers the groups
    were computed from, and since when they are out of date.

    ``stale_at`` is set (one UPDATE, in the transaction that stores a machine result) when
    an answer arrives or is rescored; a new rubric version is noticed by comparing
    ``rubric_version_id`` with the question's current one. The worker and the groups page
    recompute a stale grouping; nothing clusters on the request that stores an answer.
    """

    __tablename__ = "answer_grouping"

    question_id: Mapped[str] = mapped_column(
        ForeignKey("question.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("course.id", ondelete="RESTRICT"))
    rubric_version_id: Mapped[int] = mapped_column(
        ForeignKey("rubric_version.id", ondelete="CASCADE")
    )
    # How many answers the last computation grouped (at most the estimator's MAX_ANSWERS).
    answers: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stale_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class AnswerGroup(Base):
    """Answers of one question that deserve the same score (computed by
    ``service.scoring.grouping``), or a group an instructor split off by hand."""

    __tablename__ = "answer_group"
    __table_args__ = (Index("ix_answer_group_question_id_position", "question_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    question_id: Mapped[str] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"))
    # The question's scope, copied so that scoped queries filter one table.
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT")
    )
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("course.id", ondelete="RESTRICT"))
    rubric_version_id: Mapped[int] = mapped_column(
        ForeignKey("rubric_version.id", ondelete="CASCADE")
    )
    # Order on the page: largest groups first (ties: the group whose first answer came first).
    position: Mapped[int] = mapped_column(Integer)
    representative_submission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("submission.id", ondelete="SET NULL")
    )
    # Split off by an instructor (kept while it has members, whatever the clustering says).
    is_manual: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnswerGroupMember(Base):
    """One answer in one group (an answer is in at most one group of its question)."""

    __tablename__ = "answer_group_member"
    __table_args__ = (
        UniqueConstraint("question_id", "submission_id"),
        Index("ix_answer_group_member_group_id", "group_id"),
    )

    submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("answer_group.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"))
    # Put here by an instructor (a move or a split): a recomputation leaves it where it is.
    is_pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Ids of the rubric criteria its latest result met, when the groups were computed.
    criteria_met: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Input order of the last computation (oldest answer first): deterministic tie-breaks.
    rank: Mapped[int] = mapped_column(Integer, default=0)
