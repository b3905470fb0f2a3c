"""What lets the engine rank a bounded set of candidates (``search/backends.py``) rather than
every match.

SQLite: a second FTS5 table, ``search_title_fts``, over the titles alone (external content, kept
by its own triggers like ``search_fts``), so the newest matches by title are found without
reading the positions of every word of every body; it is filled from the entries already there.

PostgreSQL: a GIN index on the title's words (``ts_filter(vector, '{a}')``: the lexemes the
services weight A), and ``vector`` kept in the row (storage MAIN) rather than in the TOAST table,
so scoring a candidate reads one row, not its row and two TOAST chunks; the vectors already
written are rewritten so that they move back into their rows. Each part runs only on its own
database.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

SQLITE_CREATE = [
    """CREATE VIRTUAL TABLE search_title_fts USING fts5(
        title, content='search_searchentry', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER search_title_fts_ai AFTER INSERT ON search_searchentry BEGIN
        INSERT INTO search_title_fts(rowid, title) VALUES (new.id, new.title);
    END""",
    """CREATE TRIGGER search_title_fts_ad AFTER DELETE ON search_searchentry BEGIN
        INSERT INTO search_title_fts(search_title_fts, rowid, title)
        VALUES ('delete', old.id, old.title);
    END""",
    """CREATE TRIGGER search_title_fts_au AFTER UPDATE OF title ON search_searchentry BEGIN
        INSERT INTO search_title_fts(search_title_fts, rowid, title)
        VALUES ('delete', old.id, old.title);
        INSERT INTO search_title_fts(rowid, title) VALUES (new.id, new.title);
    END""",
    "INSERT INTO search_title_fts(search_title_fts) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS search_title_fts_au",
    "DROP TRIGGER IF EXISTS search_title_fts_ad",
    "DROP TRIGGER IF EXISTS search_title_fts_ai",
    "DROP TABLE IF EXISTS search_title_fts",
]
POSTGRES_CREATE = [
    "ALTER TABLE search_searchentry ALTER COLUMN vector SET STORAGE MAIN",
    # A new value (not the same TOAST pointer) is stored under the column's new storage.
    "UPDATE search_searchentry SET vector = vector || ''::tsvector WHERE vector IS NOT NULL",
    "CREATE INDEX search_entry_title_vector ON search_searchentry "
    "USING gin (ts_filter(vector, '{a}'))",
]
POSTGRES_DROP = [
    "DROP INDEX IF EXISTS search_entry_title_vector",
    "ALTER TABLE search_searchentry ALTER COLUMN vector SET STORAGE EXTENDED",
]


def _run(statements: dict[str, list[str]]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0002_engine_index")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}),
            _run({"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}),
        )
    ]
