"""Bringing an older SQLite file up to the current schema, idempotently, inside apply_schema's
transaction: schema.sql only creates what is missing, so columns added to an existing table
(and the data they need) are added here.

Version 2 (recall by meaning): memories gain `terms` (what FTS5 indexes), `embedding`,
`embedding_model`, `embedding_dim`; the FTS5 table is filled once from the existing rows.
Vectors are not computed here (the store has no model): `dionysus-mcp reindex` embeds them,
and until then those memories are found lexically only.
"""

from __future__ import annotations

import json
import sqlite3

from schema.text import memory_terms

# Column name -> declaration. Both are constants of this module (never user input), which is
# what makes formatting them into ALTER TABLE safe; SQLite takes no parameters in DDL.
MEMORY_COLUMNS_V2 = {
    "terms": "TEXT NOT NULL DEFAULT ''",
    "embedding": "BLOB",
    "embedding_model": "TEXT",
    "embedding_dim": "INTEGER",
}


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def before_schema(conn: sqlite3.Connection) -> bool:
    """Add missing memory columns (filling `terms`); True when the FTS table must be filled
    from existing memories after schema.sql has created it."""
    if not _table_exists(conn, "memories"):
        return False
    columns = {row[1] for row in conn.execute("PRAGMA table_info(memories)")}
    for name, declaration in MEMORY_COLUMNS_V2.items():
        if name not in columns:
            conn.execute(f"ALTER TABLE memories ADD COLUMN {name} {declaration}")
    if "terms" not in columns:
        rows = conn.execute("SELECT id, content, tags FROM memories").fetchall()
        conn.executemany(
            "UPDATE memories SET terms = ? WHERE id = ?",
            [(" ".join(memory_terms(content, json.loads(tags))), mid) for mid, content, tags in rows],
        )
    return not _table_exists(conn, "memories_fts")


def after_schema(conn: sqlite3.Connection, fill_fts: bool) -> None:
    if fill_fts:
        conn.execute("INSERT INTO memories_fts (terms, memory_id) SELECT terms, id FROM memories ORDER BY rowid")
