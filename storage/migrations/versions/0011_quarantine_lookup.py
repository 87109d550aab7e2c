"""the quarantine's look-up index: (origin, location)

`store.quarantine` asks "is this record already held?" for every bad record; without an index
that was a scan of the whole table per record — quadratic: 20,000 broken lines took 68 s
(issue 19, F7).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 10:00:00
"""
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_quarantine_origin_location', 'quarantine', ['origin', 'location'])


def downgrade() -> None:
    op.drop_index('ix_quarantine_origin_location', table_name='quarantine')
