"""The Neo4j backend of the store interface (official `neo4j` async driver, Bolt).

One module per aggregate, each a mixin on the shared connection plumbing:

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

from .basins import BasinsMixin
from .connection import Neo4jConnection, parse_cypher_script, schema_statements
from .memories import MemoriesMixin
from .memory_search import MemorySearchMixin
from .trace_lifecycle import TraceLifecycleMixin
from .trace_removal import TraceRemovalMixin
from .traces import TracesMixin
from .wisdom import WisdomMixin

__all__ = ["Neo4jConnection", "Neo4jStore", "parse_cypher_script", "schema_statements"]


class Neo4jStore(
    BasinsMixin, MemoriesMixin, MemorySearchMixin, WisdomMixin, TracesMixin, TraceRemovalMixin, TraceLifecycleMixin,
    Neo4jConnection,
):
    """The whole `Store` interface on Neo4j: each aggregate's mixin over one connection."""
