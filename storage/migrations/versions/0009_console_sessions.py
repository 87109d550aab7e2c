"""console sessions kept on the server, so log-out and a new password end a copied cookie

Adds `console_sessions`: one row per log-in (the SHA-256 of the cookie's random id, the login,
when it was made, when it expires, when it was revoked). The console refuses a cookie whose row
is missing, expired or revoked.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 15:00:00
"""
from alembic import op
import sqlalchemy as sa

import storage.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

DT = storage.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        'console_sessions',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('login', sa.String(length=100), nullable=False),
        sa.Column('created_at', DT(), nullable=False),
        sa.Column('expires_at', DT(), nullable=False),
        sa.Column('revoked_at', DT(), nullable=True),
        sa.PrimaryKeyConstraint('id_hash'),
    )
    op.create_index('ix_console_sessions_login', 'console_sessions', ['login'], unique=False)
    op.create_index('ix_console_sessions_expires_at', 'console_sessions', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_console_sessions_expires_at', table_name='console_sessions')
    op.drop_index('ix_console_sessions_login', table_name='console_sessions')
    op.drop_table('console_sessions')
