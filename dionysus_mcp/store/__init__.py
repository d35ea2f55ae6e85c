"""Storage backends behind one interface (`base.Store`).

`create_store` picks the backend from the settings: Neo4j when NEO4J_URI is set, otherwise the
embedded SQLite file. The chosen backend is imported lazily, so start-up does not pay for the
one it does not use (the neo4j driver in particular).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dionysus_mcp.store.base import Store, StoreError, StoreUnavailable

if TYPE_CHECKING:
    from dionysus_mcp.config import Settings

__all__ = ["Store", "StoreError", "StoreUnavailable", "create_store"]


def create_store(settings: "Settings", read_only: bool = False) -> Store:
    """`read_only`: the caller only reads (a CLI listing, an export): the store is opened
    without applying the schema, so a database the user may not write still reads."""
    if settings.neo4j_uri:
        from dionysus_mcp.config import reveal  # noqa: PLC0415
        from dionysus_mcp.store.neo4j import Neo4jStore  # noqa: PLC0415

        return Neo4jStore(
            settings.neo4j_uri,
            settings.neo4j_username,
            reveal(settings.neo4j_password),
            settings.neo4j_database,
            read_only=read_only,
        )
    from dionysus_mcp.store.sqlite import SQLiteStore  # noqa: PLC0415

    return SQLiteStore(settings.db_path, read_only=read_only)
