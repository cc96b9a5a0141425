"""LTI 1.3: platforms, deployments, contexts, resource links, nonces, launches, tool keys and
registration invites; the outbox gets channels (webhook, lti_score); questions get an
attempts setting; overrides may be made by an LTI-launched instructor (no key).

Revision ID: e5f6a7b8c9d0
Revises: d4e5f6a7b8c9
Create Date: 2026-12-02 14:10:53.925139
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e5f6a7b8c9d0'
down_revision: str | None = 'd4e5f6a7b8c9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('lti_tool_key',
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('private_pem', sa.Text(), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_lti_tool_key'))
    )
    op.create_table('lti_platform',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('client_id', sa.String(length=255), nullable=False),
    sa.Column('auth_login_url', sa.String(length=2048), nullable=False),
    sa.Column('token_url', sa.String(length=2048), nullable=False),
    sa.Column('jwks_url', sa.String(length=2048), nullable=False),
    sa.Column('jwks', sa.JSON(), nullable=True),
    sa.Column('jwks_fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('registered_by', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_lti_platform_organization_id_organization'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_platform')),
    sa.UniqueConstraint('issuer', 'client_id', name=op.f('uq_lti_platform_issuer_client_id'))
    )
    op.create_table('lti_context',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('platform_id', sa.Uuid(), nullable=False),
    sa.Column('context_id', sa.String(length=255), nullable=False),
    sa.Column('course_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_lti_context_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platform.id'], name=op.f('fk_lti_context_platform_id_lti_platform'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_context')),
    sa.UniqueConstraint('platform_id', 'context_id', name=op.f('uq_lti_context_platform_id_context_id'))
    )
    op.create_table('lti_deployment',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('platform_id', sa.Uuid(), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platform.id'], name=op.f('fk_lti_deployment_platform_id_lti_platform'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_deployment')),
    sa.UniqueConstraint('platform_id', 'deployment_id', name=op.f('uq_lti_deployment_platform_id_deployment_id'))
    )
    op.create_table('lti_nonce',
    sa.Column('platform_id', sa.Uuid(), nullable=False),
    sa.Column('nonce', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platform.id'], name=op.f('fk_lti_nonce_platform_id_lti_platform'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('platform_id', 'nonce', name=op.f('pk_lti_nonce'))
    )
    with op.batch_alter_table('lti_nonce', schema=None) as batch_op:
        batch_op.create_index('ix_lti_nonce_expires_at', ['expires_at'], unique=False)

    op.create_table('lti_registration_invite',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('platform_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_lti_registration_invite_organization_id_organization'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platform.id'], name=op.f('fk_lti_registration_invite_platform_id_lti_platform'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_registration_invite')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_lti_registration_invite_token_hash'))
    )
    op.create_table('lti_resource_link',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('platform_id', sa.Uuid(), nullable=False),
    sa.Column('resource_link_id', sa.String(length=255), nullable=False),
    sa.Column('question_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=True),
    sa.Column('lineitem_url', sa.String(length=2048), nullable=True),
    sa.Column('ags_scopes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platform.id'], name=op.f('fk_lti_resource_link_platform_id_lti_platform'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['question_id'], ['question.id'], name=op.f('fk_lti_resource_link_question_id_question'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_resource_link')),
    sa.UniqueConstraint('platform_id', 'resource_link_id', name=op.f('uq_lti_resource_link_platform_id_resource_link_id'))
    )
    op.create_table('lti_launch',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('platform_id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('course_id', sa.Uuid(), nullable=False),
    sa.Column('message_type', sa.String(length=32), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('resource_link_id', sa.Uuid(), nullable=True),
    sa.Column('deep_linking', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("message_type IN ('LtiResourceLinkRequest', 'LtiDeepLinkingRequest')", name=op.f('ck_lti_launch_message_type')),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_lti_launch_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_lti_launch_organization_id_organization'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platform.id'], name=op.f('fk_lti_launch_platform_id_lti_platform'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_link_id'], ['lti_resource_link.id'], name=op.f('fk_lti_launch_resource_link_id_lti_resource_link'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_launch')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_lti_launch_token_hash'))
    )
    with op.batch_alter_table('lti_launch', schema=None) as batch_op:
        batch_op.create_index('ix_lti_launch_expires_at', ['expires_at'], unique=False)

    with op.batch_alter_table('callback_delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), server_default='webhook', nullable=False))
        batch_op.add_column(sa.Column('lti_platform_id', sa.Uuid(), nullable=True))
        batch_op.alter_column('api_key_id',
               existing_type=sa.Uuid(),
               nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_callback_delivery_lti_platform_id_lti_platform'), 'lti_platform', ['lti_platform_id'], ['id'], ondelete='CASCADE')
        batch_op.create_check_constraint(
            batch_op.f('ck_callback_delivery_channel'), "channel IN ('webhook', 'lti_score')"
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_callback_delivery_channel_target'),
            "(channel = 'webhook' AND api_key_id IS NOT NULL)"
            " OR (channel = 'lti_score' AND lti_platform_id IS NOT NULL)",
        )

    with op.batch_alter_table('question', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_attempts', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('attempt_policy', sa.String(length=16), server_default='last', nullable=False))
        batch_op.add_column(sa.Column('gradebook_synced_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(batch_op.f('ck_question_max_attempts'), 'max_attempts >= 1')
        batch_op.create_check_constraint(
            batch_op.f('ck_question_attempt_policy'), "attempt_policy IN ('last', 'highest')"
        )

    with op.batch_alter_table('score_override', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_name', sa.String(length=200), nullable=True))
        batch_op.alter_column('api_key_id',
               existing_type=sa.Uuid(),
               nullable=True)

    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lti_resource_link_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_submission_lti_resource_link_id_learner_id', ['lti_resource_link_id', 'learner_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_submission_lti_resource_link_id_lti_resource_link'), 'lti_resource_link', ['lti_resource_link_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    # AGS scores have nowhere to go without the LTI tables; an override made by an
    # LTI-launched instructor (no key) cannot be represented before this revision, so a
    # downgrade with such overrides fails on the NOT NULL rather than dropping an audit record.
    op.execute("DELETE FROM callback_delivery WHERE channel = 'lti_score'")
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_submission_lti_resource_link_id_lti_resource_link'), type_='foreignkey')
        batch_op.drop_index('ix_submission_lti_resource_link_id_learner_id')
        batch_op.drop_column('lti_resource_link_id')

    with op.batch_alter_table('score_override', schema=None) as batch_op:
        batch_op.alter_column('api_key_id',
               existing_type=sa.Uuid(),
               nullable=False)
        batch_op.drop_column('actor_name')

    with op.batch_alter_table('question', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_question_attempt_policy'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_question_max_attempts'), type_='check')
        batch_op.drop_column('gradebook_synced_at')
        batch_op.drop_column('attempt_policy')
        batch_op.drop_column('max_attempts')

    with op.batch_alter_table('callback_delivery', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_callback_delivery_channel_target'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_callback_delivery_channel'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_callback_delivery_lti_platform_id_lti_platform'), type_='foreignkey')
        batch_op.alter_column('api_key_id',
               existing_type=sa.Uuid(),
               nullable=False)
        batch_op.drop_column('lti_platform_id')
        batch_op.drop_column('channel')

    with op.batch_alter_table('lti_launch', schema=None) as batch_op:
        batch_op.drop_index('ix_lti_launch_expires_at')

    op.drop_table('lti_launch')
    op.drop_table('lti_resource_link')
    op.drop_table('lti_registration_invite')
    with op.batch_alter_table('lti_nonce', schema=None) as batch_op:
        batch_op.drop_index('ix_lti_nonce_expires_at')

    op.drop_table('lti_nonce')
    op.drop_table('lti_deployment')
    op.drop_table('lti_context')
    op.drop_table('lti_platform')
    op.drop_table('lti_tool_key')
