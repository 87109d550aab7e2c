"""the incident card kept incrementally: its state, and a flag to rebuild it

Adds `incidents.card_state` (JSON: counts of the places the posts name, authors, reach,
networks, post times, the pool of best complaints; incidents/services/refresh.py) and
`incidents.card_stale` (a recrawl changed a post's likes, reposts or views: rebuild from all posts).
Existing incidents have no state; the next refresh of each builds it from its posts.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 18:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incidents') as batch:
        batch.add_column(sa.Column('card_state', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('card_stale', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index('ix_incidents_card_stale', 'incidents', ['card_stale'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_incidents_card_stale', table_name='incidents')
    with op.batch_alter_table('incidents') as batch:
        batch.drop_column('card_stale')
        batch.drop_column('card_state')
