#!/usr/bin/env bash
# The MCP conformance suite's generic server scenarios against `dionysus-mcp serve --transport
# http` on a free loopback port, with a fresh SQLite store in a temporary folder.
#
#   scripts/conformance.sh                 every scenario below
#   scripts/conformance.sh ping tools-list only these
#
# Needs Node 22 (the suite refuses older Node): installed once, with the suite itself, into
# $CONFORMANCE_PREFIX (default .conformance/, git-ignored) by `npm install node@22
# @modelcontextprotocol/conformance` from the npm registry. Exit status: 0 when every scenario
# passed. Results (JSON) land in $CONFORMANCE_PREFIX/results.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIOS=(server-initialize ping tools-list resources-list prompts-list completion-complete dns-rebinding-protection)
if [ "$#" -gt 0 ]; then SCENARIOS=("$@"); fi
PREFIX="${CONFORMANCE_PREFIX:-$PWD/.conformance}"
PY="${PYTHON:-.venv/bin/python}"

if [ ! -x "$PREFIX/node_modules/.bin/conformance" ] || [ ! -x "$PREFIX/node_modules/.bin/node" ]; then
  mkdir -p "$PREFIX"
  npm install --silent --no-audit --no-fund --prefix "$PREFIX" node@22 @modelcontextprotocol/conformance >&2
fi
export PATH="$PREFIX/node_modules/.bin:$PATH"

WORK="$(mktemp -d)"
PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
DIONYSUS_DB_PATH="$WORK/conformance.db" DIONYSUS_LOG_LEVEL=WARNING \
  "$PY" -m dionysus_mcp serve --transport http --port "$PORT" 2>"$WORK/server.log" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT

# The server says on stderr when it listens.
for _ in $(seq 1 300); do
  grep -q "serving MCP at" "$WORK/server.log" 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done
grep -q "serving MCP at" "$WORK/server.log" || { echo "the server did not start" >&2; cat "$WORK/server.log" >&2; exit 1; }

failed=()
for scenario in "${SCENARIOS[@]}"; do
  echo "== $scenario"
  if ! conformance server --url "http://127.0.0.1:$PORT/mcp" --scenario "$scenario" -o "$PREFIX/results"; then
    failed+=("$scenario")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "conformance: failed: ${failed[*]}" >&2
  exit 1
fi
echo "conformance: all ${#SCENARIOS[@]} scenarios passed"
