-- The embedded SQLite store (dionysus_mcp/store/sqlite.py): tables mirroring the graph model of
-- DESIGN.md "Storage". Applied idempotently at start-up and by `dionysus-mcp schema apply`:
-- every statement is CREATE ... IF NOT EXISTS, and the whole file runs in one transaction.
--
-- Conventions shared with the Neo4j backend:
--   * timestamps are fixed-width UTC ISO-8601 TEXT (schema.models.to_iso), so string order is
--     time order and plain indexes serve ordering and keyset pagination;
--   * lists and dicts are JSON TEXT, decoded on read;
--   * relationships are tables: RELATED_TO = basin_links, IN_BASIN = memory_basins,
--     DELEGATED_TO = traces.parent_id (+ parent_step), HAS_STEP = trace_steps.trace_id
--     (order = step_number), ACTIVATED_BASIN = trace_basins.
--
-- Traces, steps and child traces are tied by plain columns without foreign keys on purpose:
-- replayed outbox writes may deliver a step or a child before the trace it refers to, and
-- they must still be found once that trace exists (the Neo4j backend behaves the same way).

-- (:AttractorBasin {id, name, description, keywords, activation, stability, depth, ...})
CREATE TABLE IF NOT EXISTS basins (
    id                TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL UNIQUE,
    description       TEXT NOT NULL DEFAULT '',
    keywords          TEXT NOT NULL DEFAULT '[]',   -- JSON list of strings
    activation        REAL NOT NULL DEFAULT 0.0,
    stability         REAL NOT NULL DEFAULT 0.5,
    depth             REAL NOT NULL DEFAULT 0.0,
    last_activated_at TEXT,
    created_at        TEXT NOT NULL
);

-- (:AttractorBasin)-[:RELATED_TO {weight}]->(:AttractorBasin)
CREATE TABLE IF NOT EXISTS basin_links (
    source_id TEXT NOT NULL REFERENCES basins(id),
    target_id TEXT NOT NULL REFERENCES basins(id),
    weight    REAL NOT NULL,
    PRIMARY KEY (source_id, target_id)
) WITHOUT ROWID;

-- The active set: basins that may still be active now (see Store.basins_activated_since).
CREATE INDEX IF NOT EXISTS basins_activation ON basins(last_activated_at, activation);

CREATE INDEX IF NOT EXISTS basin_links_target ON basin_links(target_id);

-- (:Memory {id, kind, content, tags, importance, created_at})
CREATE TABLE IF NOT EXISTS memories (
    id         TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL,
    content    TEXT NOT NULL,
    tags       TEXT NOT NULL DEFAULT '[]',          -- JSON list of strings
    importance REAL NOT NULL DEFAULT 0.5,
    created_at TEXT NOT NULL,
    -- Added in schema version 2 (older files get them by ALTER TABLE at open, see
    -- dionysus_mcp/store/sqlite/migrations.py):
    terms           TEXT NOT NULL DEFAULT '',   -- schema.text tokens of content + tags, space-separated
    embedding       BLOB,                       -- float32 vector, L2-normalized, little-endian
    embedding_model TEXT,                       -- the model that produced it (NULL: none)
    embedding_dim   INTEGER
);

CREATE INDEX IF NOT EXISTS memories_created ON memories(created_at, id);
CREATE INDEX IF NOT EXISTS memories_kind ON memories(kind, created_at, id);
CREATE INDEX IF NOT EXISTS memories_embedding_model ON memories(embedding_model);

-- Lexical recall: FTS5 over the normalized terms, ranked by bm25(). The table keeps its own copy
-- of the terms with the memory id rather than pointing at memories' rowid (external content):
-- memories has a TEXT primary key, and VACUUM may renumber the rowids of such a table.
-- Filled by the triggers below (and once from existing rows when a version-1 file is opened).
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(terms, memory_id UNINDEXED, tokenize = 'unicode61');

-- Document frequency per term (fts5vocab reads FTS5's own index): recall's query weight.
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts_vocab USING fts5vocab(memories_fts, 'row');

CREATE TRIGGER IF NOT EXISTS memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (terms, memory_id) VALUES (new.terms, new.id);
END;

CREATE TRIGGER IF NOT EXISTS memories_fts_update AFTER UPDATE OF terms ON memories BEGIN
    DELETE FROM memories_fts WHERE memory_id = old.id;
    INSERT INTO memories_fts (terms, memory_id) VALUES (new.terms, new.id);
END;

-- Counters the store keeps for its caches: embedding_epoch changes whenever existing vectors are
-- replaced (reindex), so another process's in-memory vector matrix knows to reload.
CREATE TABLE IF NOT EXISTS store_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- (:Memory)-[:IN_BASIN {weight}]->(:AttractorBasin)
CREATE TABLE IF NOT EXISTS memory_basins (
    memory_id TEXT NOT NULL REFERENCES memories(id),
    basin_id  TEXT NOT NULL REFERENCES basins(id),
    weight    REAL NOT NULL,
    PRIMARY KEY (memory_id, basin_id)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS memory_basins_basin ON memory_basins(basin_id);

-- (:WisdomPrinciple {id, text, domain, confidence, created_at})
CREATE TABLE IF NOT EXISTS wisdom (
    id         TEXT PRIMARY KEY NOT NULL,
    text       TEXT NOT NULL,
    domain     TEXT NOT NULL,
    confidence REAL NOT NULL,
    created_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS wisdom_created ON wisdom(created_at, id);

-- (:CoherenceSnapshot {id, created_at, consciousness_level, status, components, active_basin_ids})
CREATE TABLE IF NOT EXISTS coherence_snapshots (
    id                  TEXT PRIMARY KEY NOT NULL,
    created_at          TEXT NOT NULL,
    consciousness_level REAL NOT NULL,
    status              TEXT NOT NULL,
    components          TEXT NOT NULL DEFAULT '{}',  -- JSON object name -> float
    active_basin_ids    TEXT NOT NULL DEFAULT '[]'   -- JSON list of basin ids
);

CREATE INDEX IF NOT EXISTS coherence_snapshots_created ON coherence_snapshots(created_at, id);

-- (:AgentExecutionTrace {...}); parent_id/parent_step stand for
-- (parent)-[:DELEGATED_TO {at_step}]->(child).
CREATE TABLE IF NOT EXISTS traces (
    id                  TEXT PRIMARY KEY NOT NULL,
    run_id              TEXT NOT NULL,
    agent_name          TEXT NOT NULL,
    parent_id           TEXT,
    parent_step         INTEGER,
    model               TEXT NOT NULL DEFAULT '',
    task                TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL DEFAULT 'running',
    summary             TEXT,
    error               TEXT,
    started_at          TEXT NOT NULL,
    completed_at        TEXT,
    input_tokens        INTEGER NOT NULL DEFAULT 0,
    output_tokens       INTEGER NOT NULL DEFAULT 0,
    pruned_tokens_saved INTEGER NOT NULL DEFAULT 0,
    step_count          INTEGER NOT NULL DEFAULT 0,
    metadata            TEXT NOT NULL DEFAULT '{}'   -- JSON object
);

CREATE INDEX IF NOT EXISTS traces_started ON traces(started_at, id);
CREATE INDEX IF NOT EXISTS traces_agent ON traces(agent_name, started_at, id);
CREATE INDEX IF NOT EXISTS traces_parent ON traces(parent_id, started_at, id);
CREATE INDEX IF NOT EXISTS traces_status ON traces(status, started_at, id);
CREATE INDEX IF NOT EXISTS traces_run ON traces(run_id);

-- (:AgentExecutionTrace)-[:HAS_STEP {order: step_number}]->(:AgentExecutionStep {...})
CREATE TABLE IF NOT EXISTS trace_steps (
    id                    TEXT PRIMARY KEY NOT NULL,
    trace_id              TEXT NOT NULL,
    step_number           INTEGER NOT NULL,
    step_type             TEXT NOT NULL,
    started_at            TEXT,
    completed_at          TEXT,
    duration_ms           REAL,
    model_output          TEXT,
    code_action           TEXT,
    tool_calls            TEXT NOT NULL DEFAULT '[]',  -- JSON list of {id, name, arguments}
    observations          TEXT,
    plan                  TEXT,
    error                 TEXT,
    final_answer          TEXT,
    input_tokens          INTEGER NOT NULL DEFAULT 0,
    output_tokens         INTEGER NOT NULL DEFAULT 0,
    unpruned_input_tokens INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS trace_steps_trace ON trace_steps(trace_id, step_number);

-- (:AgentExecutionTrace)-[:ACTIVATED_BASIN {strength, at_step}]->(:AttractorBasin)
CREATE TABLE IF NOT EXISTS trace_basins (
    trace_id TEXT NOT NULL,
    basin_id TEXT NOT NULL REFERENCES basins(id),
    at_step  INTEGER NOT NULL,
    strength REAL NOT NULL,
    PRIMARY KEY (trace_id, basin_id, at_step)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS trace_basins_basin ON trace_basins(basin_id);

-- The server process running a trace and its lease (owner_* properties of the trace node in
-- Neo4j). A table of its own, so a database written before owners existed needs no migration.
CREATE TABLE IF NOT EXISTS trace_owners (
    trace_id    TEXT PRIMARY KEY NOT NULL,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    token       TEXT NOT NULL,
    lease_until TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS trace_owners_token ON trace_owners(token);

-- Requests to cancel a running trace, from any process sharing the store (cancel_run); its
-- owner checks for them while the run is in flight (cancel_requested_at of the trace node in
-- Neo4j). A table of its own, so older files need no migration.
CREATE TABLE IF NOT EXISTS trace_cancels (
    trace_id     TEXT PRIMARY KEY NOT NULL,
    requested_at TEXT NOT NULL
) WITHOUT ROWID;

-- Counters of edits the row counts do not show (a memory updated or forgotten, a basin
-- deleted): part of memory_stats' revision, so a recall index in another process notices them.
CREATE TABLE IF NOT EXISTS store_revisions (
    name  TEXT PRIMARY KEY NOT NULL,
    edits INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Schema version of this file; the store refuses a database written by a newer version.
PRAGMA user_version = 2;
