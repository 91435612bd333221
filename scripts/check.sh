#!/usr/bin/env bash
# Every check CI runs: lint, format, types, import layering, then the test suite. Stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${VENV:-.venv}/bin"
export PATH="$PWD/$bin:$PATH"

echo "== ruff"; ruff check .
echo "== ruff format"; ruff format --check .
echo "== mypy"; mypy cdp_poc_studio
echo "== import-linter"; lint-imports
echo "== pytest"
# Exit code 5 means pytest collected nothing (a wrong path or marker): say so rather than fail without a word.
status=0
QT_QPA_PLATFORM=offscreen pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: check the paths and the -m/-k selection ($*)" >&2
fi
exit "$status"
