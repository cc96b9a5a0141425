"""Stored scores are finite and within the question's scale: CHECK constraints on
grading_result (points, score, keyword coverage, similarity) and submission (points,
machine points).

NaN and infinities fail them too (PostgreSQL orders NaN above every number; SQLite stores
NaN as NULL, which the NOT NULL result columns refuse).

Revision ID: e7a1b0c3d2f4
Revises: d8f3e2a1c0b9
Create Date: 2026-12-02 04:24:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "e7a1b0c3d2f4"
down_revision: str | None = "d8f3e2a1c0b9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RESULT_CHECKS = {
    "points_range": "points >= 0 AND points <= max_points",
    "score_range": "score >= 0 AND score <= 1",
    "keyword_coverage_range": "keyword_coverage >= 0 AND keyword_coverage <= 1",
    "similarity_range": "similarity >= 0 AND similarity <= 1",
}
_SUBMISSION_CHECKS = {
    "machine_points_range": (
        "machine_points IS NULL OR (machine_points >= 0 AND machine_points <= max_points)"
    ),
    "points_range": "points IS NULL OR (points >= 0 AND (points <= max_points OR is_overridden))",
}


def upgrade() -> None:
    with op.batch_alter_table("grading_result", schema=None) as batch_op:
        for name, condition in _RESULT_CHECKS.items():
            batch_op.create_check_constraint(name, condition)
    with op.batch_alter_table("submission", schema=None) as batch_op:
        for name, condition in _SUBMISSION_CHECKS.items():
            batch_op.create_check_constraint(name, condition)


def downgrade() -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        for name in reversed(_SUBMISSION_CHECKS):
            batch_op.drop_constraint(op.f(f"ck_submission_{name}"), type_="check")
    with op.batch_alter_table("grading_result", schema=None) as batch_op:
        for name in reversed(_RESULT_CHECKS):
            batch_op.drop_constraint(op.f(f"ck_grading_result_{name}"), type_="check")
