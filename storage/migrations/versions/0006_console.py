"""console: users' password hashes and the "who is working on it" locks of the web console

Adds `users.password_hash` (bcrypt; NULL means the user cannot log in to the console) and the
`incident_locks` table (one row per incident someone has open, with an expiry).

Written by hand. Revises 0004 (the head of the issue-9 branch); 0003 (issue 5) and 0005 are
other branches: when they are merged, set down_revision to the latest of them.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-23 12:30:00
"""
from alembic import op
import sqlalchemy as sa

import storage.types

revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None

DT = storage.types.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('password_hash', sa.String(length=200), nullable=True))
    op.create_table(
        'incident_locks',
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('login', sa.String(length=100), nullable=False),
        sa.Column('since', DT(), nullable=False),
        sa.Column('expires_at', DT(), nullable=False),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id']),
        sa.PrimaryKeyConstraint('incident_id'),
    )
    op.create_index('ix_incident_locks_expires_at', 'incident_locks', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_incident_locks_expires_at', table_name='incident_locks')
    op.drop_table('incident_locks')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('password_hash')
