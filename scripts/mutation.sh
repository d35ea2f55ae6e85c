#!/usr/bin/env bash
# Mutation testing of the modules where a silent bug hurts most, with mutmut 3.
#
#   scripts/mutation.sh                     every module below
#   scripts/mutation.sh coherence outbox    only these
#   MUTATION_JOBS=4 scripts/mutation.sh     parallel mutants (default 2)
#
# Each module runs in its own copy of the tree (.mutation/<module>/, mutmut writes its mutated
# copy to mutants/ inside it) against a FAST test selection: the unit and contract tests that
# exercise it, on SQLite, so a full run takes minutes, not hours. Per module it prints the kill
# rate (killed + timed out, over all mutants; "no tests" counts as not killed) and every
# surviving mutant as a diff. The report is also written to .mutation/report.md.
# docs/mutation.md lists the survivors judged equivalent, with why. Not run in CI (too slow).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS="${MUTATION_JOBS:-2}"
WORK="${MUTATION_DIR:-$ROOT/.mutation}"

# name | file mutated | tests run against its mutants (paths or node ids, space-separated)
MODULES="
secrets|dionysus_mcp/secrets.py|tests/unit/test_secrets.py tests/integration/test_trace_secret_flows.py
coherence|dionysus_mcp/cognition/coherence.py|tests/unit/test_coherence_worked_examples.py tests/unit/test_coherence_properties.py
basins|dionysus_mcp/cognition/basins.py|tests/unit/test_basins.py tests/unit/test_coherence_worked_examples.py
pruning|callbacks/memory.py|tests/unit/test_callbacks.py tests/integration/test_pruning_window.py
traces_service|dionysus_mcp/traces/service.py|tests/unit/test_traces.py tests/unit/test_outbox_set_aside.py
outbox_queue|dionysus_mcp/store/outbox.py|tests/unit/test_traces.py tests/unit/test_outbox_set_aside.py
trace_store|dionysus_mcp/store/sqlite/traces.py|tests/contract/test_traces_contract.py tests/unit/test_traces.py
recall|dionysus_mcp/cognition/memory.py|tests/unit/test_memory_and_wisdom.py tests/contract/test_memories_contract.py
"

if [ ! -x .venv/bin/mutmut ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev,mutation]"
fi

wanted=" $* "
mkdir -p "$WORK"
REPORT="$WORK/report.md"
{ echo "# Mutation testing ($(date -u '+%Y-%m-%d %H:%M UTC'), mutmut $(.venv/bin/mutmut --version | awk '{print $NF}'))"; echo; } > "$REPORT"
printf '%-15s %7s %7s %8s %8s %8s %7s\n' module mutants killed timeout survived no_tests rate | tee -a "$REPORT"

echo "$MODULES" | while IFS='|' read -r name file tests; do
  [ -n "$name" ] || continue
  if [ "$#" -gt 0 ] && [[ "$wanted" != *" $name "* ]]; then continue; fi
  dir="$WORK/$name"
  rm -rf "$dir"
  mkdir -p "$dir"
  # The tree as it is now, committed or not (new test files included), without docs.
  git ls-files -z --cached --others --exclude-standard | grep -zv '^docs/' \
    | xargs -0 -I{} sh -c 'test -f "{}" && cp --parents "{}" "'"$dir"'"' 
  selection=""
  for t in $tests; do [ -e "${t%%::*}" ] && selection="$selection\"$t\", "; done
  # Point the [tool.mutmut] section of the copy at this module and its tests.
  .venv/bin/python - "$dir/pyproject.toml" "$file" "[${selection%, }]" <<'PY'
import re, sys
path, file, selection = sys.argv[1:]
text = open(path).read()
text = re.sub(r'(?m)^only_mutate = .*$', f'only_mutate = ["{file}"]', text)
text = re.sub(r'(?m)^pytest_add_cli_args_test_selection = .*$', f'pytest_add_cli_args_test_selection = {selection}', text)
open(path, "w").write(text)
PY
  (cd "$dir" && "$ROOT/.venv/bin/mutmut" run --max-children "$JOBS" > run.log 2>&1 || true)
  (cd "$dir" && "$ROOT/.venv/bin/mutmut" export-cicd-stats > /dev/null 2>&1 || true)
  stats="$dir/mutants/mutmut-cicd-stats.json"
  if [ ! -f "$stats" ]; then
    echo "$name: mutmut did not finish, see $dir/run.log" | tee -a "$REPORT"
    continue
  fi
  .venv/bin/python - "$stats" "$name" <<'PY' | tee -a "$REPORT"
import json, sys
s = json.load(open(sys.argv[1]))
killed, timeout = s["killed"], s["timeout"]
total = s["total"] - s["skipped"]
rate = 100.0 * (killed + timeout) / total if total else 0.0
print(f'{sys.argv[2]:<15} {total:>7} {killed:>7} {timeout:>8} {s["survived"]:>8} {s["no_tests"]:>8} {rate:>6.1f}%')
PY
done

echo | tee -a "$REPORT"
echo "## Surviving mutants" | tee -a "$REPORT"
for dir in "$WORK"/*/; do
  name=$(basename "$dir")
  [ -d "$dir/mutants" ] || continue
  if [ "$#" -gt 0 ] && [[ "$wanted" != *" $name "* ]]; then continue; fi
  survivors=$(cd "$dir" && "$ROOT/.venv/bin/mutmut" results 2>/dev/null | awk -F': ' '/: (survived|no tests)$/ {print $1}')
  [ -n "$survivors" ] || continue
  echo "### $name" | tee -a "$REPORT"
  for m in $survivors; do
    echo "- $m" | tee -a "$REPORT"
    (cd "$dir" && "$ROOT/.venv/bin/mutmut" show "$m" 2>/dev/null | grep -E '^[-+] ' | sed 's/^/      /') | tee -a "$REPORT"
  done
done
echo "report: $REPORT"
