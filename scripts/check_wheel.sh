#!/usr/bin/env bash
# The wheel as a user gets it: build it with `python -m build`, install it into a fresh virtual environment
# outside the checkout, and run `cdp-poc-studio demo` from an empty folder; it must end PASSED.
# Usage: scripts/check_wheel.sh [WORK_FOLDER]   (default: a new temporary folder, removed afterwards)
set -euo pipefail
checkout="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$checkout/.venv/bin/python}"
work="${1:-}"
if [ -z "$work" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/dist" "$work/run"

echo "== building the wheel"
"$python" -m build --wheel --outdir "$work/dist" "$checkout" >"$work/build.log" 2>&1 || {
  tail -20 "$work/build.log" >&2
  exit 1
}
wheel="$(ls "$work"/dist/*.whl)"
echo "   $wheel"

echo "== installing it into a fresh virtual environment"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel"

echo "== cdp-poc-studio demo, from an empty folder outside the checkout"
cd "$work/run"
# PYTHONPATH cleared and the checkout not the working folder: only the installed wheel can be imported.
env -u PYTHONPATH "$work/venv/bin/cdp-poc-studio" demo --guests 50 | tee "$work/demo.txt"
"$work/venv/bin/python" -c "import cdp_poc_studio, sys; sys.exit(0 if '$checkout' not in cdp_poc_studio.__file__ else 1)"
grep -q ": PASSED" "$work/demo.txt"
echo "== the installed wheel runs the demo to PASSED"
