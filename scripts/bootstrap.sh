#!/usr/bin/env bash
# Installs what the studio needs on a fresh Debian/Ubuntu machine: the system libraries Qt loads,
# a virtual environment in .venv, and the package itself (with the test tools when given --test).
set -euo pipefail
cd "$(dirname "$0")/.."

with_test=0
[ "${1:-}" = "--test" ] && with_test=1

# Offscreen Qt needs these shared libraries; without libdbus-1-3 importing QtWidgets fails.
qt_libs="libgl1 libegl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0"
missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in $qt_libs; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
  done
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing system libraries for Qt:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "Qt needs these system packages, please install them: sudo apt-get install$missing" >&2
    exit 1
  fi
fi

venv="${VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
if [ "$with_test" = 1 ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
else
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e .
fi
