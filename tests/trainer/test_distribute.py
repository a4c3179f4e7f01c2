"""h5train fit --strategy: TensorFlow's MirroredStrategy trains the same model as the default."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from typer.testing import CliRunner

from csv2h5.trainer.cli import app


def test_mirrored_matches_the_default_on_one_device(tmp_path, make_data):
    path, _, _ = make_data(tmp_path, rows=200, chunk_rows=16)
    runner = CliRunner()
    weights, lines = [], []
    for strategy in ("default", "mirrored"):
        run = tmp_path / strategy
        result = runner.invoke(app, ["fit", str(path), "--strategy", strategy, "--run-dir", str(run), "--epochs", "2",
                                     "--batch-size", "16", "--hidden", "8", "--verbose", "0"])
        assert result.exit_code == 0, result.stderr
        lines.append(result.stdout.strip().splitlines()[-1])
        weights.append(keras.models.load_model(run / "model.keras").get_weights())
        assert json.loads((run / "config.json").read_text())["options"]["strategy"] == strategy
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # one CPU replica: the same training


@pytest.mark.parametrize("strategy,words", [("multi-worker", "not supported yet"), ("tpu", "not one of")])
def test_unsupported_strategies_are_refused(tmp_path, make_data, strategy, words):
    path, _, _ = make_data(tmp_path)
    result = CliRunner().invoke(app, ["fit", str(path), "--strategy", strategy, "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2 and words in result.stderr and not (tmp_path / "r").exists()
