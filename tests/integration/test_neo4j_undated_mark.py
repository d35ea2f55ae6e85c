"""Neo4j only: basins stored with an activation but no activation time before the
`activation_undated` mark existed are marked once, at open, so the active set (an index read)
still finds them; the mark goes with the first activation."""

from __future__ import annotations

from datetime import datetime, timezone

from dionysus_mcp.cognition.basins import BasinService


async def test_an_old_database_is_marked_once_at_open(neo4j_store_factory, bolt_server):
    import neo4j

    store = await neo4j_store_factory()
    driver = neo4j.GraphDatabase.driver(bolt_server.uri, auth=(bolt_server.user, bolt_server.password))

    def cypher(query: str) -> list[dict]:
        with driver.session(database=store.database) as session:
            return [record.data() for record in session.run(query)]

    cypher("MATCH (r:StoreRevision {name: 'basins'}) DETACH DELETE r")  # as before the mark
    cypher("CREATE (:AttractorBasin {id: 'b-old', name: 'old', activation: 0.7, depth: 0.0, stability: 0.5,"
           " description: '', keywords: [], created_at: '2026-01-01T00:00:00.000000Z'})")
    cypher("CREATE (:AttractorBasin {id: 'b-idle', name: 'idle', activation: 0.0, depth: 0.0, stability: 0.5,"
           " description: '', keywords: [], created_at: '2026-01-01T00:00:00.000000Z'})")
    now = datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert [b.id for b in await BasinService(store.basins, 3600, clock=lambda: now).active()] == []  # unmarked: not found

    reopened = await neo4j_store_factory()  # the next process to open the database marks it
    service = BasinService(reopened.basins, 3600, clock=lambda: now)
    assert [b.name for b in await service.active()] == ["old"]
    assert cypher("MATCH (b:AttractorBasin) WHERE b.activation_undated = true RETURN b.id AS id") == [{"id": "b-old"}]
    assert cypher("MATCH (r:StoreRevision {name: 'basins'}) RETURN r.activation_undated AS done") == [{"done": 1}]

    await service.activate_basin("old", 0.1)
    assert cypher("MATCH (b:AttractorBasin) WHERE b.activation_undated = true RETURN b.id AS id") == []
    assert [b.name for b in await service.active()] == ["old"]  # found by its time now
    driver.close()
