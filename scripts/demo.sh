#!/usr/bin/env bash
# Set up .venv, make a sample MNIST-shaped CSV, convert it, train on it with h5train, print accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet -e ".[train]"
mkdir -p demo_data
.venv/bin/python scripts/make_digits_csv.py demo_data/train.csv --rows 42000
.venv/bin/python scripts/make_digits_csv.py demo_data/test.csv --rows 5000 --seed 1
.venv/bin/csv2h5 convert demo_data/train.csv -o demo_data/train.h5 --target label --sample-shape 28,28,1 --overwrite
.venv/bin/csv2h5 convert demo_data/test.csv -o demo_data/test.h5 --target label --sample-shape 28,28,1 --overwrite
.venv/bin/csv2h5 info demo_data/train.h5
# The seed's network (Dense 50 relu, Dense 10 softmax; --model auto picks it for image-shaped files), Adam, 10% held out.
RUN="demo_data/run_$(date -u +%Y%m%dT%H%M%S)"
.venv/bin/h5train fit demo_data/train.h5 --val-split 0.1 --epochs 5 --run-dir "$RUN" --progress epoch
.venv/bin/h5train predict "$RUN" demo_data/test.h5 -o "$RUN/test_predictions.csv"
.venv/bin/h5train evaluate "$RUN" demo_data/test.h5 --json \
    | .venv/bin/python -c 'import json, sys; print("test accuracy: %.3f" % json.load(sys.stdin)["accuracy"])'
