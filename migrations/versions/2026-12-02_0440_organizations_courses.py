"""Organisations and courses: every question, submission, key, job and callback belongs to
one organisation (and questions, submissions and jobs to one course).

Existing single-tenant data moves into a default organisation with a default course: keys
keep their roles (admin keys also get the operator capability they had in effect, and
instructors are granted the default course), and question slugs stay as they were.

Revision ID: d8f3e2a1c0b9
Revises: 98b9a82b8b5e
Create Date: 2026-12-02 04:40:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d8f3e2a1c0b9"
down_revision: str | None = "98b9a82b8b5e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _scope_columns(table: str, *, course: bool) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization_id", sa.Uuid(), nullable=True))
        if course:
            batch_op.add_column(sa.Column("course_id", sa.Uuid(), nullable=True))


def _fill_scope(table: str, org_id: uuid.UUID, course_id: uuid.UUID | None) -> None:
    columns = [sa.column("organization_id", sa.Uuid())]
    values: dict[str, uuid.UUID] = {"organization_id": org_id}
    if course_id is not None:
        columns.append(sa.column("course_id", sa.Uuid()))
        values["course_id"] = course_id
    op.execute(sa.table(table, *columns).update().values(**values))


def _require_scope(table: str, *, course: bool) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column("organization_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_foreign_key(
            f"fk_{table}_organization_id_organization",
            "organization",
            ["organization_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        if course:
            batch_op.alter_column("course_id", existing_type=sa.Uuid(), nullable=False)
            batch_op.create_foreign_key(
                f"fk_{table}_course_id_course", "course", ["course_id"], ["id"], ondelete="RESTRICT"
            )


def upgrade() -> None:
    op.create_table(
        "organization",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization")),
        sa.UniqueConstraint("slug", name=op.f("uq_organization_slug")),
    )
    op.create_table(
        "course",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_course_organization_id_organization"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course")),
        sa.UniqueConstraint("organization_id", "slug", name=op.f("uq_course_organization_id_slug")),
    )
    op.create_table(
        "course_grant",
        sa.Column("api_key_id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_key.id"],
            name=op.f("fk_course_grant_api_key_id_api_key"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["course.id"],
            name=op.f("fk_course_grant_course_id_course"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", "course_id", name=op.f("pk_course_grant")),
    )

    # The default organisation and course that the existing data (and the first key of a
    # new deployment) belong to.
    org_id, course_id = uuid.uuid4(), uuid.uuid4()
    now = sa.func.current_timestamp()
    organization = sa.table(
        "organization",
        sa.column("id", sa.Uuid()),
        sa.column("slug", sa.String()),
        sa.column("name", sa.String()),
        sa.column("created_at", UTC_DATETIME),
    )
    course = sa.table(
        "course",
        sa.column("id", sa.Uuid()),
        sa.column("organization_id", sa.Uuid()),
        sa.column("slug", sa.String()),
        sa.column("title", sa.String()),
        sa.column("is_default", sa.Boolean()),
        sa.column("created_at", UTC_DATETIME),
    )
    op.execute(
        organization.insert().values(
            id=org_id, slug="default", name="Default organisation", created_at=now
        )
    )
    op.execute(
        course.insert().values(
            id=course_id,
            organization_id=org_id,
            slug="default",
            title="Default course",
            is_default=True,
            created_at=now,
        )
    )

    # Keys: into the default organisation with their roles.
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("is_operator", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    _fill_scope("api_key", org_id, None)
    api_key = sa.table(
        "api_key",
        sa.column("id", sa.Uuid()),
        sa.column("role", sa.String()),
        sa.column("is_operator", sa.Boolean()),
    )
    # An admin key could do everything before, creating keys for anyone included: it keeps
    # the deployment's capability.
    op.execute(api_key.update().where(api_key.c.role == "admin").values(is_operator=True))
    grant = sa.table(
        "course_grant",
        sa.column("api_key_id", sa.Uuid()),
        sa.column("course_id", sa.Uuid()),
        sa.column("created_at", UTC_DATETIME),
    )
    op.execute(
        grant.insert().from_select(
            ["api_key_id", "course_id", "created_at"],
            sa.select(
                api_key.c.id,
                sa.literal(course_id, sa.Uuid()),
                now,
            ).where(api_key.c.role == "instructor"),
        )
    )
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_api_key_role"), type_="check")
        batch_op.create_check_constraint(
            "role", "role IN ('operator', 'admin', 'instructor', 'integration')"
        )
        batch_op.create_index(
            "ix_api_key_organization_id_role", ["organization_id", "role"], unique=False
        )
    _require_scope("api_key", course=False)

    # Questions keep their slug as public id (and as internal id, which nothing exposes).
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slug", sa.String(length=64), nullable=True))
    _scope_columns("question", course=True)
    _fill_scope("question", org_id, course_id)
    question = sa.table("question", sa.column("id", sa.String()), sa.column("slug", sa.String()))
    op.execute(question.update().values(slug=question.c.id))
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.alter_column("slug", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(
            "uq_question_organization_id_slug", ["organization_id", "slug"]
        )
        batch_op.create_index("ix_question_course_id_slug", ["course_id", "slug"], unique=False)
    _require_scope("question", course=True)

    for table, has_course in (
        ("submission", True),
        ("rescore_job", True),
        ("callback_delivery", False),
    ):
        _scope_columns(table, course=has_course)
        _fill_scope(table, org_id, course_id if has_course else None)
        _require_scope(table, course=has_course)
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.create_index(
            "ix_submission_organization_id_learner_id",
            ["organization_id", "learner_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_submission_course_id_created_at", ["course_id", "created_at"], unique=False
        )


def downgrade() -> None:
    """Back to one trust zone: scope columns and the organisation tables are dropped.

    Question slugs must then be unique across the deployment again; a database holding
    two organisations' questions with the same slug cannot go back and says so.
    """
    connection = op.get_bind()
    duplicated = connection.execute(
        sa.text("SELECT slug FROM question GROUP BY slug HAVING COUNT(*) > 1")
    ).first()
    if duplicated is not None:
        raise RuntimeError(
            f"Cannot downgrade: question slug {duplicated[0]!r} exists in several organisations."
        )
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_index("ix_submission_course_id_created_at")
        batch_op.drop_index("ix_submission_organization_id_learner_id")
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.drop_index("ix_question_course_id_slug")
        batch_op.drop_constraint(op.f("uq_question_organization_id_slug"), type_="unique")
    for table, has_course in (
        ("callback_delivery", False),
        ("rescore_job", True),
        ("submission", True),
        ("question", True),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"fk_{table}_organization_id_organization"), type_="foreignkey")
            batch_op.drop_column("organization_id")
            if has_course:
                batch_op.drop_constraint(op.f(f"fk_{table}_course_id_course"), type_="foreignkey")
                batch_op.drop_column("course_id")
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.drop_column("slug")
    op.execute(sa.text("DELETE FROM api_key WHERE role = 'operator'"))
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_index("ix_api_key_organization_id_role")
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_api_key_organization_id_organization"), type_="foreignkey")
        batch_op.drop_column("organization_id")
        batch_op.drop_column("is_operator")
        batch_op.drop_constraint(op.f("ck_api_key_role"), type_="check")
        batch_op.create_check_constraint("role", "role IN ('admin', 'instructor', 'integration')")
    op.drop_table("course_grant")
    op.drop_table("course")
    op.drop_table("organization")
