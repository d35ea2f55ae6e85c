"""The embedded SQLite backend of the store interface (stdlib `sqlite3`, one file, WAL mode).

Tables mirror the graph model (schema/sqlite/schema.sql). `SQLiteStore` is composed from one
mixin per aggregate (basins.py, memories.py with memory_search.py, wisdom.py, traces.py;
trace_lifecycle.py for the owners and leases of running traces) over the connection,
transaction and schema plumbing of connection.py.

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

from .basins import BasinsMixin
from .connection import BUSY_TIMEOUT_MS, SCHEMA_VERSION, SQLiteConnection, parse_sql_script, schema_statements
from .memories import MemoriesMixin
from .memory_search import MemorySearchMixin
from .trace_lifecycle import TraceLifecycleMixin
from .trace_removal import TraceRemovalMixin
from .traces import TracesMixin
from .wisdom import WisdomMixin

__all__ = [
    "BUSY_TIMEOUT_MS",
    "SCHEMA_VERSION",
    "SQLiteConnection",
    "SQLiteStore",
    "parse_sql_script",
    "schema_statements",
]


class SQLiteStore(
    BasinsMixin, MemoriesMixin, MemorySearchMixin, WisdomMixin, TracesMixin, TraceRemovalMixin, TraceLifecycleMixin,
    SQLiteConnection,
):
    """The whole store interface on one SQLite file."""
