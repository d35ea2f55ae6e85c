"""The Neo4j backend of the store interface (official `neo4j` async driver, Bolt).

One module per aggregate, each an object holding the store's one connection (composition):

    connection.py  driver, sessions, transactions and retries, error mapping, schema files
    basins.py      (:AttractorBasin)-[:RELATED_TO {weight}]->(:AttractorBasin)
    memories.py    (:Memory)-[:IN_BASIN {weight}]->(:AttractorBasin)
    memory_search.py  recall candidates: full-text / vector indexes or their fallback
    wisdom.py      (:WisdomPrinciple), (:CoherenceSnapshot)
    traces.py      (:AgentExecutionTrace)-[:HAS_STEP {order}]->(:AgentExecutionStep),
                   -[:DELEGATED_TO {at_step}]-> child traces, -[:ACTIVATED_BASIN]-> basins
    trace_lifecycle.py  owners and leases of running traces; orphaned runs -> interrupted

Row/record conversion both backends share (JSON of nested values, step order, totals) is in
`dionysus_mcp.store.records`. Graph model in full: docs/TRACES.md, schema/neo4j/*.cypher.

Rules kept throughout:

- Parameters only. Every label, relationship type and property name is a literal in the query
  text; values always travel as parameters. (list_traces joins fixed WHERE fragments chosen by
  which filters are set; no value is ever formatted into Cypher.)
- Timestamps are stored as the fixed-width UTC ISO strings of `schema.models.to_iso`, so string
  order is time order; nested values (snapshot components, trace metadata, step tool calls) are
  JSON strings. Reads decode them back into the typed records.
- Every method that writes more than one record runs in one `session.execute_write`
  transaction: a failure leaves nothing half-written.

Cypher portability: the queries stay within what Neo4j 5 and ArcadeDB's Bolt/OpenCypher engine
(used by the test suite) both accept. No APOC, no `CALL { } IN TRANSACTIONS`, no
`datetime()` values (strings instead), no map projections with `.*`.
"""

from __future__ import annotations

from typing import Any

from ..base import Store
from .basins import Neo4jBasins
from .connection import Neo4jConnection, parse_cypher_script, schema_statements
from .memories import Neo4jMemories
from .trace_lifecycle import Neo4jTraceLifecycle
from .traces import Neo4jTraces
from .wisdom import Neo4jSnapshots, Neo4jWisdom

__all__ = ["Neo4jConnection", "Neo4jStore", "parse_cypher_script", "schema_statements"]


class Neo4jStore(Store):
    """The store on Neo4j: one connection (driver), each aggregate holding it. Arguments are
    those of `Neo4jConnection` (uri, username, password, database, timeouts, read_only)."""

    backend = "neo4j"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.db = Neo4jConnection(*args, **kwargs)
        self.memories = Neo4jMemories(self.db)
        self.basins = Neo4jBasins(self.db, self.memories)
        self.wisdom = Neo4jWisdom(self.db)
        self.snapshots = Neo4jSnapshots(self.db)
        self.traces = Neo4jTraces(self.db)
        self.lifecycle = Neo4jTraceLifecycle(self.db)

    @property
    def database(self) -> str:
        return self.db.database

    @property
    def uri(self) -> str:
        """The Bolt URI without credentials."""
        return self.db.uri

    def __repr__(self) -> str:
        return repr(self.db)

    async def open(self) -> None:
        await self.db.open(after_schema=self._after_schema)

    async def _after_schema(self) -> None:
        await self.basins.after_schema()
        await self.memories.recall.after_schema()

    async def close(self) -> None:
        await self.db.close()

    async def apply_schema(self) -> list[str]:
        statements = await self.db.apply_schema()
        await self._after_schema()
        return statements

    async def describe(self) -> str:
        return await self.db.describe()
