"""evaluate and predict load models in Keras's safe mode: code stored in a model file never runs.

A ``.keras`` file may hold a ``Lambda`` layer's Python bytecode; loading it
unsafely runs that code. The oracle is Keras itself: the file loads with
``safe_mode=False`` (so it is a valid model) and is refused with ``safe_mode=True``.
"""

from __future__ import annotations

import keras
import pytest
from typer.testing import CliRunner

CLASSES, FEATURES = 3, 12  # as in conftest.make_file


@pytest.fixture
def lambda_model(tmp_path):
    model = keras.Sequential(
        [keras.Input((FEATURES,)), keras.layers.Lambda(lambda t: t * 2.0), keras.layers.Dense(CLASSES, activation="softmax")]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    path = tmp_path / "lambda.keras"
    model.save(path)
    keras.models.load_model(path, safe_mode=False)  # a valid model when code may run
    with pytest.raises(ValueError, match="lambda"):
        keras.models.load_model(path, safe_mode=True)
    return path


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_a_model_holding_code_is_refused_in_one_line(data, lambda_model, tmp_path, command):
    from csv2h5.trainer.cli import app

    path, _, _ = data
    out = tmp_path / "predictions.csv"
    args = [command, str(lambda_model), str(path)] + (["-o", str(out)] if command == "predict" else [])
    result = CliRunner().invoke(app, args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {lambda_model} cannot be loaded as a Keras model") and "lambda" in lines[0]
    assert "Traceback" not in result.output + result.stderr
    assert not out.exists()
