#!/usr/bin/env bash
# Build the wheel and the sdist, install the wheel (not editable) with the train extra
# into a fresh virtual environment, and smoke-test what a user's `pip install` gets.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
.venv/bin/python -m build --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
WHEEL="$(ls "$WORK"/dist/*.whl)"
ls "$WORK"/dist/*.tar.gz >/dev/null
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet "$WHEEL[train]"
# Run from outside the checkout so that only the installed packages can be imported.
cd "$WORK"
"$WORK/venv/bin/python" -I "$ROOT/scripts/smoke_installed.py" "$WHEEL"
