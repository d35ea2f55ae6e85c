#!/usr/bin/env bash
# Mutation testing of the modules where a silent bug hurts most, with mutmut 3.
#
#   scripts/mutation.sh                     every module below
#   scripts/mutation.sh coherence outbox    only these
#   MUTATION_JOBS=4 scripts/mutation.sh     parallel mutants (default 2)
#   MUTATION_TESTS_recall="tests/unit/test_memory_and_wisdom.py" scripts/mutation.sh recall
#                                           another test selection for one module
#
# Each module runs in its own copy of the tree (.mutation/<module>/, mutmut writes its mutated
# copy to mutants/ inside it) against a FAST test selection: the unit and contract tests that
# exercise it, on SQLite, so a full run takes minutes, not hours. Per module it prints the kill
# rate (killed + timed out, over all mutants; "no tests" counts as not killed), the same rate
# once case-only SQL mutants are set apart as equivalent ("judged", see
# scripts/mutation_report.py), and every other surviving mutant as a diff. The report is also
# written to .mutation/report.md.
# docs/mutation.md lists the survivors judged equivalent, with why. Not run in CI (too slow).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS="${MUTATION_JOBS:-2}"
WORK="${MUTATION_DIR:-$ROOT/.mutation}"

# name | files mutated (comma-separated) | tests run against its mutants (paths or node ids,
# space-separated) | optional: a pytest marker whose tests are left out | optional: a cap, in GB,
# on each test process's address space
# sandbox runs the child's half in the test process (mutmut's mutants cannot reach the isolated
# child; tests/sandbox_helpers.InProcessSandbox), so a mutant that lets a huge allocation through
# hits the cap instead of the machine; sandbox_server mutates the process driver, whose tests run
# real children and wait on real clocks (~2 h on two cores: name it to run it).
MODULES="
secrets|dionysus_mcp/secrets.py|tests/unit/test_secrets.py tests/integration/test_trace_secret_flows.py
coherence|dionysus_mcp/cognition/coherence.py|tests/unit/test_coherence_worked_examples.py tests/unit/test_coherence_properties.py tests/unit/test_coherence_snapshots.py tests/contract/test_many_writers_contract.py
basins|dionysus_mcp/cognition/basins.py,dionysus_mcp/cognition/activation.py|tests/unit/test_basin_rules.py tests/unit/test_basins.py tests/unit/test_basin_service.py tests/unit/test_coherence_worked_examples.py tests/contract/test_active_set_contract.py tests/contract/test_basins_contract.py tests/contract/test_many_writers_contract.py
pruning|callbacks/pruning.py,callbacks/rolling_digest.py|tests/unit/test_pruning_rules.py tests/unit/test_rolling_digest.py tests/unit/test_callbacks.py tests/integration/test_pruning_window.py
traces_service|dionysus_mcp/traces/service.py,dionysus_mcp/traces/writer.py|tests/unit/test_traces.py tests/unit/test_outbox_set_aside.py tests/unit/test_outbox_outage.py tests/unit/test_trace_reads.py tests/unit/test_sqlite_off_loop.py tests/integration/test_trace_reads.py tests/integration/test_trace_otel.py tests/integration/test_sub_run_times.py tests/integration/test_subscriptions.py tests/integration/test_trace_tools.py
outbox_queue|dionysus_mcp/store/outbox.py|tests/unit/test_outbox_file.py tests/unit/test_outbox_outage.py tests/unit/test_outbox_set_aside.py tests/unit/test_traces.py
trace_store|dionysus_mcp/store/sqlite/traces.py|tests/contract/test_traces_contract.py tests/unit/test_trace_reads.py tests/unit/test_traces.py
recall|dionysus_mcp/cognition/memory.py|tests/unit/test_recall_ranking.py tests/unit/test_recall_by_meaning.py tests/unit/test_memory_and_wisdom.py tests/contract/test_memories_contract.py tests/contract/test_recall_contract.py tests/integration/test_update_and_forget.py::test_update_memory_changes_what_recall_finds tests/integration/test_update_and_forget.py::test_forgetting_tools_are_destructive_and_explain_missing_targets tests/integration/test_update_and_forget.py::test_delete_basin_detaches_memories_and_says_what_it_removed tests/unit/test_minilm_embedder.py tests/contract/test_many_writers_contract.py tests/contract/test_recall_small_stores_contract.py
ranking|dionysus_mcp/cognition/ranking.py|tests/unit/test_ranking.py tests/unit/test_recall_ranking.py tests/unit/test_recall_by_meaning.py
sandbox|agents/code_guard.py,agents/sandbox/interpreter.py,agents/sandbox/replies.py|tests/integration/test_manager_sandbox_limits.py tests/unit/test_sandbox_step.py|child_process|8
sandbox_server|agents/safe_executor.py|tests/integration/test_manager_sandbox_limits.py tests/integration/test_manager_sandbox_child.py
write_behind|callbacks/write_behind.py|tests/integration/test_write_behind.py tests/integration/test_trace_persistence.py tests/integration/test_outage.py tests/integration/test_background_runs.py
"

ON_REQUEST=" sandbox_server "  # too slow for a run of every module: run only when named

if [ ! -x .venv/bin/mutmut ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev,mutation]"
fi

wanted=" $* "
mkdir -p "$WORK"
REPORT="$WORK/report.md"
{ echo "# Mutation testing ($(date -u '+%Y-%m-%d %H:%M UTC'), mutmut $(.venv/bin/mutmut --version | awk '{print $NF}'))"; echo; } > "$REPORT"
printf '%-15s %7s %7s %8s %8s %8s %7s %6s %7s\n' module mutants killed timeout survived no_tests rate equiv judged | tee -a "$REPORT"

echo "$MODULES" | while IFS='|' read -r name file tests leave_out cap_gb; do
  [ -n "$name" ] || continue
  if [ "$#" -gt 0 ] && [[ "$wanted" != *" $name "* ]]; then continue; fi
  if [ "$#" -eq 0 ] && [[ "$ON_REQUEST" == *" $name "* ]]; then continue; fi
  dir="$WORK/$name"
  rm -rf "$dir"
  mkdir -p "$dir"
  # The tree as it is now, committed or not (new test files included), without docs.
  git ls-files -z --cached --others --exclude-standard | grep -zv '^docs/' \
    | xargs -0 sh -c 'for f; do [ -f "$f" ] && cp --parents "$f" "$0"; done; true' "$dir"
  override="MUTATION_TESTS_$name"  # e.g. MUTATION_TESTS_secrets="tests/unit/test_x.py" replaces the list
  tests="${!override:-$tests}"
  selection=""
  for t in $tests; do [ -e "${t%%::*}" ] && selection="$selection\"$t\", "; done
  if [ -z "$selection" ]; then
    echo "$name: none of its tests exist here ($tests)" | tee -a "$REPORT"
    continue
  fi
  # Point the [tool.mutmut] section of the copy at this module and its tests.
  .venv/bin/python - "$dir/pyproject.toml" "$file" "[${selection%, }]" "${leave_out:-}" <<'PY'
import re, sys
path, file, selection, leave_out = sys.argv[1:]
text = open(path).read()
files = ", ".join(f'"{f.strip()}"' for f in file.split(",") if f.strip())
text = re.sub(r'(?m)^only_mutate = .*$', f'only_mutate = [{files}]', text)
text = re.sub(r'(?m)^pytest_add_cli_args_test_selection = .*$', f'pytest_add_cli_args_test_selection = {selection}', text)
if leave_out:
    marked = text.replace('"-m", "not bolt"', f'"-m", "not bolt and not {leave_out}"')
    if marked == text:
        sys.exit(f"pyproject.toml's pytest_add_cli_args lacks '-m not bolt': cannot leave out {leave_out}")
    text = marked
open(path, "w").write(text)
PY
  (cd "$dir" && { [ -z "${cap_gb:-}" ] || ulimit -v $((cap_gb * 1024 * 1024)); } \
    && "$ROOT/.venv/bin/mutmut" run --max-children "$JOBS" > run.log 2>&1 || true)
  (cd "$dir" && "$ROOT/.venv/bin/mutmut" export-cicd-stats > /dev/null 2>&1 || true)
  stats="$dir/mutants/mutmut-cicd-stats.json"
  if [ ! -f "$stats" ]; then
    echo "$name: mutmut did not finish, see $dir/run.log" | tee -a "$REPORT"
    continue
  fi
  (cd "$dir" && "$ROOT/.venv/bin/python" "$ROOT/scripts/mutation_report.py" "$ROOT/.venv/bin/mutmut" "$stats" "$name") | tee -a "$REPORT"
done

echo | tee -a "$REPORT"
echo "## Surviving mutants" | tee -a "$REPORT"
for dir in "$WORK"/*/; do
  name=$(basename "$dir")
  [ -d "$dir/mutants" ] || continue
  if [ "$#" -gt 0 ] && [[ "$wanted" != *" $name "* ]]; then continue; fi
  (cd "$dir" && "$ROOT/.venv/bin/python" "$ROOT/scripts/mutation_report.py" "$ROOT/.venv/bin/mutmut" \
    "$dir/mutants/mutmut-cicd-stats.json" "$name" --survivors) | tee -a "$REPORT"
done
echo "report: $REPORT"
