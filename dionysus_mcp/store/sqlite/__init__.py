"""The embedded SQLite backend of the store interface (stdlib `sqlite3`, one file, WAL mode).

Tables mirror the graph model (schema/sqlite/schema.sql). `SQLiteStore` holds one connection
(connection.py: the file, its transactions, the schema) and one object per aggregate, each
holding that connection: basins.py, memories.py (with memory_search.py for recall candidates),
wisdom.py (principles and coherence snapshots), traces.py (with trace_writes.py and
trace_removal.py), trace_lifecycle.py (owners and leases of running traces). A basin's deletion
detaches memories through the memories aggregate, in the same transaction.

Behaviour chosen where the interface leaves room (the contract suite checks it on every
backend):

- Cognition writes are strict: a memory, link or activation that refers to a basin that does
  not exist, or a record whose id exists already (memory, wisdom, snapshot), raises
  `StoreError` and stores nothing.
- Trace writes are tolerant, because the outbox replays them: `create_trace` of an existing id
  is a no-op; steps and child traces are tied to their trace by id columns without foreign
  keys, so a write delivered early is found once its trace exists; `link_trace_basin` to a
  trace or basin that does not exist is ignored; `complete_trace` of an unknown id is a no-op.
"""

from __future__ import annotations

from pathlib import Path

from dionysus_mcp.store.base import Store

from .basins import SQLiteBasins
from .connection import BUSY_TIMEOUT_MS, SCHEMA_VERSION, SQLiteConnection, parse_sql_script, schema_statements
from .memories import SQLiteMemories
from .trace_lifecycle import SQLiteTraceLifecycle
from .traces import SQLiteTraces
from .wisdom import SQLiteSnapshots, SQLiteWisdom

__all__ = [
    "BUSY_TIMEOUT_MS",
    "SCHEMA_VERSION",
    "SQLiteConnection",
    "SQLiteStore",
    "parse_sql_script",
    "schema_statements",
]


class SQLiteStore(Store):
    """The store on one SQLite file: one connection, each aggregate holding it."""

    backend = "sqlite"

    def __init__(self, path: Path | str, read_only: bool = False):
        self.db = SQLiteConnection(path, read_only=read_only)
        self.memories = SQLiteMemories(self.db)
        self.basins = SQLiteBasins(self.db, self.memories)
        self.wisdom = SQLiteWisdom(self.db)
        self.snapshots = SQLiteSnapshots(self.db)
        self.traces = SQLiteTraces(self.db)
        self.lifecycle = SQLiteTraceLifecycle(self.db)

    @property
    def path(self) -> Path:
        return self.db.path

    @property
    def read_only(self) -> bool:
        return self.db.read_only

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    async def apply_schema(self) -> list[str]:
        return await self.db.apply_schema()

    async def describe(self) -> str:
        return str(self.db.path)
