"""daily reports: one row per region-local day with the report's figures as JSON

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 13:00:00
"""
from alembic import op
import sqlalchemy as sa

import storage.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'daily_reports',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('generated_at', storage.types.UTCDateTime(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('day'),
    )


def downgrade() -> None:
    op.drop_table('daily_reports')
