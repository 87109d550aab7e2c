"""the place the platform gives: a post's address and point, an incident's point

Adds `posts.address`, `posts.lat`, `posts.lon` (interchange `address`, `lat`, `lon`: the
feedback platform's address line and coordinates), the same three on `post_revisions` (the place
a post had before an edit) and `incidents.lat`, `incidents.lon` (the console's map). All
nullable: existing rows have no place given; a ПОС message gets it at its next crawl.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 20:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

PLACED = {
    'posts': ('address', 'lat', 'lon'),
    'post_revisions': ('address', 'lat', 'lon'),
    'incidents': ('lat', 'lon'),
}


def upgrade() -> None:
    for table, names in PLACED.items():
        with op.batch_alter_table(table) as batch:
            for name in names:
                kind = sqlmodel.sql.sqltypes.AutoString() if name == 'address' else sa.Float()
                batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for table, names in PLACED.items():
        with op.batch_alter_table(table) as batch:
            for name in reversed(names):
                batch.drop_column(name)
