"""workflow: users and roles, answers, outbox targets, SLA clocks, escalation notifications

Adds the `users`, `answers` and `notifications` tables; the incident's workflow timestamps
(triaged, assigned, drafted, interim answer, resolved) and extra deadlines (follow-up,
feedback-platform resolution); and, on `replies` (the outbox), the answer it belongs to, the
network and exact target, and the retry schedule.

Written by hand. Revises 0002; when 0003 (another branch) is merged, set down_revision to it.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-23 12:00:00
"""
from alembic import op
import sqlalchemy as sa

import storage.types

revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None

DT = storage.types.UTCDateTime

INCIDENT_COLUMNS = [
    sa.Column('urgent', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('triaged_at', DT(), nullable=True),
    sa.Column('assigned_at', DT(), nullable=True),
    sa.Column('drafted_at', DT(), nullable=True),
    sa.Column('interim_answer_at', DT(), nullable=True),
    sa.Column('final_answer_at', DT(), nullable=True),
    sa.Column('follow_up_due_at', DT(), nullable=True),
    sa.Column('resolution_due_at', DT(), nullable=True),
    sa.Column('resolved_at', DT(), nullable=True),
    sa.Column('rejected_reason', sa.String(), nullable=True),
]
REPLY_COLUMNS = [
    sa.Column('answer_id', sa.Integer(), nullable=True),
    sa.Column('network', sa.String(length=20), nullable=True),
    sa.Column('target', sa.JSON(), nullable=True),
    sa.Column('next_attempt_at', DT(), nullable=True),
    sa.Column('last_attempt_at', DT(), nullable=True),
    sa.Column('dry_run', sa.Boolean(), nullable=False, server_default=sa.false()),
]


def upgrade() -> None:
    op.create_table(
        'users',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('login', sa.String(length=100), nullable=False),
        sa.Column('name', sa.String(), nullable=True),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('body_code', sa.String(length=80), nullable=True),
        sa.Column('email', sa.String(), nullable=True),
        sa.Column('telegram_chat_id', sa.String(length=50), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', DT(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('login'),
    )
    op.create_index('ix_users_body_code', 'users', ['body_code'])
    op.create_table(
        'answers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('template', sa.String(length=100), nullable=True),
        sa.Column('interim', sa.Boolean(), nullable=False),
        sa.Column('auto', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', DT(), nullable=False),
        sa.Column('approved_by', sa.String(length=100), nullable=True),
        sa.Column('approved_at', DT(), nullable=True),
        sa.Column('published_at', DT(), nullable=True),
        sa.Column('note', sa.String(), nullable=True),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_answers_incident_id', 'answers', ['incident_id'])
    op.create_index('ix_answers_status', 'answers', ['status'])
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('clock', sa.String(length=20), nullable=False),
        sa.Column('step', sa.String(length=20), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('recipient', sa.String(length=200), nullable=False),
        sa.Column('due_at', DT(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('error', sa.String(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('sent_at', DT(), nullable=True),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('incident_id', 'clock', 'step', 'channel', 'recipient', 'due_at',
                            name='uq_notifications_step'),
    )
    op.create_index('ix_notifications_incident_id', 'notifications', ['incident_id'])
    for col in INCIDENT_COLUMNS:
        op.add_column('incidents', col)
    for col in REPLY_COLUMNS:
        op.add_column('replies', col)
    op.create_index('ix_replies_answer_id', 'replies', ['answer_id'])


def downgrade() -> None:
    op.drop_index('ix_replies_answer_id', table_name='replies')
    with op.batch_alter_table('replies') as batch:
        for col in REPLY_COLUMNS:
            batch.drop_column(col.name)
    with op.batch_alter_table('incidents') as batch:
        for col in INCIDENT_COLUMNS:
            batch.drop_column(col.name)
    op.drop_table('notifications')
    op.drop_table('answers')
    op.drop_table('users')
