"""the console's look-ups: incidents.merged_into_id and incidents.first_answer_at

Every incident card asks which incidents were merged into this one, and every view of the SLA board
and its live counters (every 15 s per open board) counts the incidents answered in the last 24 h:
both were scans of the whole incidents table per request (issue 18, query plans in
docs/benchmarks.md, "The console's CPU per request").

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 20:00:00
"""
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_incidents_merged_into_id', 'incidents', ['merged_into_id'])
    op.create_index('ix_incidents_first_answer_at', 'incidents', ['first_answer_at'])


def downgrade() -> None:
    op.drop_index('ix_incidents_first_answer_at', table_name='incidents')
    op.drop_index('ix_incidents_merged_into_id', table_name='incidents')
