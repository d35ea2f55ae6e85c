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
exec .venv/bin/python -m pytest "$@"
