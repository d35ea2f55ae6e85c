#!/usr/bin/env bash
# The test command: makes .venv, installs the package with its dev extra (which brings the
# arcadedb-embedded wheel: the tests start a real Bolt server from it), then runs pytest.
# Extra arguments go to pytest, e.g. scripts/test.sh -k contract -x
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
# The trace viewer is tested in a real browser: Debian's chromium. Installed only when missing
# (CI runs as root); a failed install is reported, and the viewer tests then fail in CI.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "installing chromium for the trace viewer tests (apt-get)" >&2
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium) >&2 \
      || echo "could not install chromium: the trace viewer tests will not run" >&2
  else
    echo "no /usr/bin/chromium and no root apt-get: the trace viewer tests will not run" >&2
  fi
fi
# One worker more than there are cores: much of the suite waits on the processes it starts
# (servers, browsers, the Bolt server), and a third worker on two cores fills that wait
# (docs/benchmarks.md, "The test suite's time"). One test file per worker (--dist loadfile keeps a
# file's module fixtures — a benchmark run, a browser, a seeded store — in one process).
# TEST_WORKERS=0 runs in this process (what mutmut does); a worker count of your own: TEST_WORKERS=4.
# Bytecode caches on, as Python's default: pytest keeps a test module's rewritten asserts only where
# Python may write bytecode; with PYTHONDONTWRITEBYTECODE set, every worker rewrites and compiles
# all ~200 test files again (collection 7 s instead of 3 s of CPU per worker).
unset PYTHONDONTWRITEBYTECODE
WORKERS="${TEST_WORKERS:-$(( $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1) + 1 ))}"
exec .venv/bin/python -m pytest -n "$WORKERS" --dist loadfile "$@"
