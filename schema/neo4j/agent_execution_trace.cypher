CREATE CONSTRAINT agent_execution_trace_id IF NOT EXISTS FOR (t:AgentExecutionTrace) REQUIRE t.id IS UNIQUE;
// Agent execution traces: one node per agent run (sub-agent runs are child traces), one node per
// step. Applied idempotently at start-up and by `dionysus-mcp schema apply`.
// Statements are separated by `;`; lines starting with `//` are comments.
//
//   (:AgentExecutionTrace)-[:HAS_STEP {order}]->(:AgentExecutionStep)
//   (parent:AgentExecutionTrace)-[:DELEGATED_TO {at_step}]->(child:AgentExecutionTrace)
//   (:AgentExecutionTrace)-[:ACTIVATED_BASIN {strength, at_step}]->(:AttractorBasin)
//
// Timestamps are fixed-width UTC ISO-8601 strings (they sort as time), so plain range indexes
// serve the `started_at` ordering and keyset pagination of list_traces.
CREATE INDEX agent_execution_trace_agent_name IF NOT EXISTS FOR (t:AgentExecutionTrace) ON (t.agent_name);
CREATE INDEX agent_execution_trace_started_at IF NOT EXISTS FOR (t:AgentExecutionTrace) ON (t.started_at);
// Children are found by their parent_id property (also when the parent arrived later).
CREATE INDEX agent_execution_trace_parent_id IF NOT EXISTS FOR (t:AgentExecutionTrace) ON (t.parent_id);
CREATE INDEX agent_execution_trace_run_id IF NOT EXISTS FOR (t:AgentExecutionTrace) ON (t.run_id);
CREATE INDEX agent_execution_trace_status IF NOT EXISTS FOR (t:AgentExecutionTrace) ON (t.status);
// The owner of a running trace (owner_host, owner_pid, owner_token, lease_until): leases are
// renewed by owner token.
CREATE INDEX agent_execution_trace_owner_token IF NOT EXISTS FOR (t:AgentExecutionTrace) ON (t.owner_token);
// Step ids are derived from (trace_id, step_type, step_number): writing a step twice stores it once.
CREATE CONSTRAINT agent_execution_step_id IF NOT EXISTS FOR (s:AgentExecutionStep) REQUIRE s.id IS UNIQUE;
CREATE INDEX agent_execution_step_trace_id IF NOT EXISTS FOR (s:AgentExecutionStep) ON (s.trace_id);
