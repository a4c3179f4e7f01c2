#!/usr/bin/env bash
# Set up .venv, make a sample MNIST-shaped CSV, convert it, and describe the result.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet -e ".[train]"
mkdir -p demo_data
.venv/bin/python scripts/make_digits_csv.py demo_data/train.csv --rows 42000
.venv/bin/csv2h5 convert demo_data/train.csv -o demo_data/train.h5 --target label --sample-shape 28,28,1 --overwrite
.venv/bin/csv2h5 info demo_data/train.h5
