// Cognition graph: attractor basins, memories, wisdom principles, coherence snapshots.
// Applied idempotently at start-up and by `dionysus-mcp schema apply`.
// Statements are separated by `;`; lines starting with `//` are comments.
//
//   (:AttractorBasin)-[:RELATED_TO {weight}]->(:AttractorBasin)
//   (:Memory)-[:IN_BASIN {weight}]->(:AttractorBasin)
CREATE CONSTRAINT attractor_basin_id IF NOT EXISTS FOR (b:AttractorBasin) REQUIRE b.id IS UNIQUE;
// upsert_basin MERGEs on the name: the constraint keeps concurrent upserts from duplicating it.
CREATE CONSTRAINT attractor_basin_name IF NOT EXISTS FOR (b:AttractorBasin) REQUIRE b.name IS UNIQUE;
// The active set: basins that may still be active now (Store.basins_activated_since).
CREATE INDEX attractor_basin_last_activated_at IF NOT EXISTS FOR (b:AttractorBasin) ON (b.last_activated_at);
// ... and those with a stored activation but no time (`activation_undated: true`): Neo4j's
// indexes hold no nulls, so `last_activated_at IS NULL` would walk every basin.
CREATE INDEX attractor_basin_activation_undated IF NOT EXISTS FOR (b:AttractorBasin) ON (b.activation_undated);
CREATE CONSTRAINT memory_id IF NOT EXISTS FOR (m:Memory) REQUIRE m.id IS UNIQUE;
CREATE INDEX memory_created_at IF NOT EXISTS FOR (m:Memory) ON (m.created_at);
CREATE INDEX memory_kind IF NOT EXISTS FOR (m:Memory) ON (m.kind);
// Recall: reindex finds memories embedded with another model. The full-text and vector indexes
// are created at open when the server supports them (dionysus_mcp/store/neo4j/memory_search.py).
CREATE INDEX memory_embedding_model IF NOT EXISTS FOR (m:Memory) ON (m.embedding_model);
CREATE CONSTRAINT wisdom_principle_id IF NOT EXISTS FOR (w:WisdomPrinciple) REQUIRE w.id IS UNIQUE;
CREATE CONSTRAINT coherence_snapshot_id IF NOT EXISTS FOR (s:CoherenceSnapshot) REQUIRE s.id IS UNIQUE;
CREATE INDEX coherence_snapshot_created_at IF NOT EXISTS FOR (s:CoherenceSnapshot) ON (s.created_at);
// Edits the memory count does not show (a memory updated or forgotten, a basin deleted): part of
// memory_stats' revision, so a recall index in another process notices them.
CREATE CONSTRAINT store_revision_name IF NOT EXISTS FOR (r:StoreRevision) REQUIRE r.name IS UNIQUE;
