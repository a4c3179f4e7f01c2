#!/usr/bin/env bash
# Set up .venv (created once, reused) with the project and its test extra, run ruff and pytest,
# then build the wheel and smoke-test it in a fresh environment (scripts/check_wheel.sh).
# Arguments go to pytest; SKIP_WHEEL=1 skips the wheel check for a quick local run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
.venv/bin/python -m pip install --quiet -e ".[test]"
# Lint and format are checked first: a failure names the file and line, and how to fix it (ruff format / ruff check --fix).
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
.venv/bin/python -m pytest "$@"
if [ "${SKIP_WHEEL:-0}" != "1" ]; then
    bash scripts/check_wheel.sh
fi
