"""search: embedded full-text index of posts, kept current by triggers

SQLite: an FTS5 table `search_posts_fts` (rowid = posts.id). PostgreSQL: `search_documents`
(post_id, lemmas, tsv generated from lemmas) with a GIN index. On both: `search_queue`, filled
by triggers on posts (insert; update of text or deleted). A post marked deleted or removed
leaves the index in the same transaction. `incidents.services.search.fts.catch_up` lemmatizes the
queued posts (SQL cannot call pymorphy3); every existing post is queued here.

Also indexes the two change timestamps the Elasticsearch sync reads by cursor
(signals.updated_at, incident_posts.added_at).

Written by hand: autogenerate does not know virtual tables, triggers or generated columns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 12:00:00
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE search_posts_fts USING fts5(lemmas, tokenize = 'unicode61 remove_diacritics 0')",
    "CREATE TABLE search_queue (id INTEGER PRIMARY KEY AUTOINCREMENT, post_id INTEGER NOT NULL)",
    """CREATE TRIGGER search_posts_ai AFTER INSERT ON posts
       BEGIN INSERT INTO search_queue(post_id) VALUES (NEW.id); END""",
    """CREATE TRIGGER search_posts_au AFTER UPDATE OF text, deleted ON posts
       BEGIN INSERT INTO search_queue(post_id) VALUES (NEW.id); END""",
    """CREATE TRIGGER search_posts_deleted AFTER UPDATE OF deleted ON posts WHEN NEW.deleted
       BEGIN DELETE FROM search_posts_fts WHERE rowid = NEW.id; END""",
    """CREATE TRIGGER search_posts_ad AFTER DELETE ON posts
       BEGIN DELETE FROM search_posts_fts WHERE rowid = OLD.id; END""",
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS search_posts_ad",
    "DROP TRIGGER IF EXISTS search_posts_deleted",
    "DROP TRIGGER IF EXISTS search_posts_au",
    "DROP TRIGGER IF EXISTS search_posts_ai",
    "DROP TABLE IF EXISTS search_queue",
    "DROP TABLE IF EXISTS search_posts_fts",
]

PG_UP = [
    """CREATE TABLE search_documents (
         post_id integer PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
         lemmas text NOT NULL,
         tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, lemmas)) STORED
       )""",
    "CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)",
    "CREATE TABLE search_queue (id bigserial PRIMARY KEY, post_id integer NOT NULL)",
    """CREATE FUNCTION search_queue_post() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND NEW.deleted AND NOT OLD.deleted THEN
           DELETE FROM search_documents WHERE post_id = NEW.id;
         END IF;
         INSERT INTO search_queue(post_id) VALUES (NEW.id);
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER search_posts_ai AFTER INSERT ON posts
       FOR EACH ROW EXECUTE FUNCTION search_queue_post()""",
    """CREATE TRIGGER search_posts_au AFTER UPDATE OF text, deleted ON posts
       FOR EACH ROW EXECUTE FUNCTION search_queue_post()""",
]

PG_DOWN = [
    "DROP TRIGGER IF EXISTS search_posts_au ON posts",
    "DROP TRIGGER IF EXISTS search_posts_ai ON posts",
    "DROP FUNCTION IF EXISTS search_queue_post()",
    "DROP TABLE IF EXISTS search_queue",
    "DROP TABLE IF EXISTS search_documents",
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for stmt in SQLITE_UP if sqlite else PG_UP:
        op.execute(stmt)
    op.execute("INSERT INTO search_queue(post_id) SELECT id FROM posts ORDER BY id")
    op.create_index('ix_signals_updated_at', 'signals', ['updated_at'], unique=False)
    op.create_index('ix_incident_posts_added_at', 'incident_posts', ['added_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_incident_posts_added_at', table_name='incident_posts')
    op.drop_index('ix_signals_updated_at', table_name='signals')
    sqlite = op.get_bind().dialect.name == "sqlite"
    for stmt in SQLITE_DOWN if sqlite else PG_DOWN:
        op.execute(stmt)
