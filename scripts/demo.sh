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
# Train the seed's network (Dense 50 relu, Dense 10 softmax, SGD) through HDF5Sequence.
TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python - <<'PY'
import keras
from trainer import HDF5Sequence

data = HDF5Sequence("demo_data/train.h5", batch_size=256, shuffle="global", seed=0,
                    scale="unit", sample_shape=(784,))
train, val = data.split(0.1, seed=0)
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(50, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(train, validation_data=val, epochs=5, shuffle=False, verbose=2)
loss, accuracy = model.evaluate(val, verbose=0)
print(f"validation accuracy: {accuracy:.3f}")
PY
