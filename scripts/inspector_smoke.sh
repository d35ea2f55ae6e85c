#!/usr/bin/env bash
# Drive the server over stdio with a third-party client, the MCP Inspector CLI: list the tools,
# then call every tool once (and one hostile call), on a throw-away database.
# Usage: scripts/inspector_smoke.sh        (needs Node/npx; fetches @modelcontextprotocol/inspector)
set -euo pipefail
cd "$(dirname "$0")/.."
export DIONYSUS_DB_PATH="$(mktemp -d)/inspector.db"
SERVER=(.venv/bin/dionysus-mcp serve)
inspect() { npx -y @modelcontextprotocol/inspector --cli "${SERVER[@]}" "$@" 2>/dev/null; }
call() {
  local tool=$1; shift
  local args=()
  for a in "$@"; do args+=(--tool-arg "$a"); done
  local out
  out=$(inspect --method tools/call --tool-name "$tool" "${args[@]}" || true)
  if grep -q '"isError": true' <<<"$out"; then echo "FAIL $tool: $out"; return 1; fi
  echo "ok   $tool"
}
listed=$(inspect --method tools/list | grep -c '^      "name": ' || true)
echo "tools listed: $listed"
call upsert_basin name=sleep 'keywords=["sleep","night"]'
call upsert_basin name=work 'keywords=["deadline"]'
call link_basins source=sleep target=work weight=0.6
call remember 'content=Bad sleep before the deadline' importance=0.8
call semantic_recall query=deadline
call activate_basin basin=sleep strength=0.9
call list_basins
call assess_coherence
call observe_environment
call mosaeic_capture 'emotions=tense about the deadline'
call add_wisdom 'text=Rest before deadlines' domain=health
call query_wisdom topic=deadlines
call run_heartbeat
call run_ooda_cycle 'context=I slept badly and a deadline is near'
call list_traces
trace=$(inspect --method tools/call --tool-name list_traces | grep -o '"id": "[^"]*"' | head -1 | cut -d'"' -f4)
call get_trace "trace_id=$trace"
call replay_trace "trace_id=$trace"
call get_token_usage
hostile=$(inspect --method tools/call --tool-name activate_basin --tool-arg basin=sleep --tool-arg strength=7 || true)  # the Inspector exits 1 on isError
grep -q '"isError": true' <<<"$hostile" && echo "ok   hostile strength=7 refused with: $(grep -o 'must be at most 1' <<<"$hostile" | head -1)"
