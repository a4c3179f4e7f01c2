"""Every JSON h5train writes parses strictly, also when a model's numbers are NaN (null, never a bare NaN)."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from backends import h5train
from csv2h5.trainer.rundir import write_json

from csv2h5 import ConvertOptions, convert


def strict_loads(text: str) -> object:
    """json.loads as strict parsers (jq, JSON.parse) read it: NaN, Infinity and -Infinity are errors."""

    def refuse(word: str) -> object:
        raise ValueError(f"not JSON: {word}")

    return json.loads(text, parse_constant=refuse)


def test_write_json_writes_null_for_nan_and_infinity(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"best_value": float("nan"), "final": {"loss": np.float32("nan"), "val_loss": float("inf")}, "epochs": 2})
    assert strict_loads(path.read_text()) == {"best_value": None, "final": {"loss": None, "val_loss": None}, "epochs": 2}


def test_evaluate_json_of_a_model_that_outputs_nan_is_strict(make_data, tmp_path):
    path, x, _ = make_data(tmp_path, rows=40)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.set_weights([np.full(w.shape, np.nan, dtype=np.float32) for w in model.get_weights()])
    model.save(tmp_path / "nan.keras")
    code, out, err = h5train("evaluate", tmp_path / "nan.keras", path, "--json")
    assert code == 0, err
    metrics = strict_loads(out)
    assert metrics["loss"] is None


def test_evaluate_json_spells_an_infinite_metric_apart_from_nan(tmp_path):
    """A model that overflows gives an infinite loss: "inf", a string, where NaN gives null."""
    (tmp_path / "x.csv").write_text("x,y\n1,0\n3e38,0\n")
    convert([tmp_path / "x.csv"], tmp_path / "x.h5", options=ConvertOptions(target=("y",), dtype="float32"))
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.set_weights([np.full((1, 1), 10.0, np.float32), np.zeros(1, np.float32)])  # 10 * 3e38 overflows
    model.save(tmp_path / "ten.keras")
    data = tmp_path / "x.h5"
    code, out, err = h5train("evaluate", tmp_path / "ten.keras", data, "--json")
    assert code == 0, err
    assert strict_loads(out) == {"loss": "inf"}


@pytest.mark.slow
def test_a_diverging_run_writes_only_strict_json(make_data, tmp_path):
    path, _, _ = make_data(tmp_path, rows=200)
    run = tmp_path / "run"
    h5train(
        "fit",
        path,
        "--run-dir",
        run,
        "--epochs",
        "2",
        "--learning-rate",
        "1e30",
        "--hidden",
        "8",
        "--batch-size",
        "32",
        "--val-split",
        "0.25",
        "--progress",
        "none",
    )  # NaN loss: refused or not, files stay JSON
    written = sorted(Path(run).rglob("*.json"))
    assert written
    for file in written:
        strict_loads(file.read_text())
