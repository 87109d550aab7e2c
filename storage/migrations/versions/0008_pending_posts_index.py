"""the processing queue's index: unprocessed posts in time order, without a scan

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 13:25:00
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_posts_pending', 'posts', ['processed', 'created_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_posts_pending', table_name='posts')
