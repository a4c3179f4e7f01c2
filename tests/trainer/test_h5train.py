"""h5train fit / evaluate / predict end to end through the CLI, on small generated files."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from typer.testing import CliRunner

from csv2h5 import ConvertOptions, convert
from csv2h5.trainer import HDF5Sequence
from csv2h5.trainer.cli import app

runner = CliRunner()
FAST = ["--hidden", "16", "--batch-size", "64", "--verbose", "0"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Learnable digits (train, a labelled holdout, an unlabelled copy) and a text-label file."""
    import make_digits_csv

    work = tmp_path_factory.mktemp("h5train")
    out: dict[str, Path] = {}
    for name, rows, seed, label in (("train", 1500, 1, True), ("holdout", 400, 2, True), ("unlabelled", 300, 2, False)):
        src = work / f"{name}.csv"
        make_digits_csv.write_csv(src, rows=rows, seed=seed, label=label)
        out[name] = work / f"{name}.h5"
        convert([src], out[name], options=ConvertOptions(target=("label",) if label else ()))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 2))
    words = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    text = work / "words.csv"
    text.write_text("a,b,answer\n" + "".join(f"{a:.4f},{b:.4f},{w}\n" for (a, b), w in zip(x, words)))
    out["words"] = work / "words.h5"
    convert([text], out["words"], options=ConvertOptions(target=("answer",)))
    return out


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _fit(files, run: Path, *extra: str) -> None:
    code, out, err = _run("fit", files["train"], "--run-dir", run, *FAST, *extra)
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("trained ")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _weights(path: Path) -> list[np.ndarray]:
    return keras.models.load_model(path).get_weights()


def test_fit_learns_and_writes_every_artifact(files, tmp_path):
    run = tmp_path / "run"
    _fit(files, run, "--val", files["holdout"], "--epochs", "4", "--learning-rate", "0.05")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["monitor"] == "val_accuracy" and metrics["best_value"] >= 0.9  # learnable data is learnt
    assert metrics["epochs"] == 4 and metrics["final"]["val_accuracy"] == pytest.approx(
        float(_rows(run / "history.csv")[-1]["val_accuracy"]))
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["fingerprint"].startswith("sha256:") and config["data"]["rows"] == 1500
    assert config["options"]["epochs"] == 4 and config["versions"]["keras"] == keras.__version__
    rows = _rows(run / "history.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    for name in ("model.keras", "checkpoints/last.keras", "checkpoints/best.keras"):
        model = keras.models.load_model(run / name)
        assert model.predict(np.zeros((2, 784), np.float32), verbose=0).shape == (2, 10)
    import matplotlib.image

    assert matplotlib.image.imread(run / "curves.png").ndim == 3
    assert list((run / "logs").rglob("events.out.tfevents.*"))


def test_same_seed_same_weights_and_resume_equals_uninterrupted(files, tmp_path):
    _fit(files, tmp_path / "a", "--epochs", "3", "--seed", "7", "--val-split", "0.2")
    _fit(files, tmp_path / "b", "--epochs", "3", "--seed", "7", "--val-split", "0.2")
    _fit(files, tmp_path / "c", "--epochs", "1", "--seed", "7", "--val-split", "0.2")
    code, _, err = _run("fit", "--resume", tmp_path / "c", "--epochs", "3", "--verbose", "0")
    assert code == 0, err
    a, b, c = (_weights(tmp_path / r / "model.keras") for r in "abc")
    for wa, wb, wc in zip(a, b, c):
        assert np.array_equal(wa, wb)  # same seed: identical
        assert np.array_equal(wa, wc)  # interrupted after epoch 1 and resumed: identical
    assert len(_rows(tmp_path / "c" / "history.csv")) == 3
    _fit(files, tmp_path / "d", "--epochs", "3", "--seed", "8", "--val-split", "0.2")
    assert not np.array_equal(_weights(tmp_path / "d" / "model.keras")[0], a[0])  # the seed matters


def test_evaluate_matches_model_evaluate(files, tmp_path):
    run = tmp_path / "run"
    _fit(files, run, "--epochs", "2")
    code, out, err = _run("evaluate", run, files["holdout"], "--json")
    assert code == 0, err
    reported = json.loads(out)
    model = keras.models.load_model(run / "model.keras")
    expected = model.evaluate(HDF5Sequence(files["holdout"], shuffle=False, sample_shape=(784,)), verbose=0,
                              return_dict=True)
    assert reported.keys() == expected.keys()
    for name in expected:
        assert reported[name] == pytest.approx(float(expected[name]), rel=1e-6)


def test_predict_maps_labels_back_and_streams_every_row(files, tmp_path):
    run = tmp_path / "run"
    code, _, err = _run("fit", files["words"], "--run-dir", run, "--epochs", "8", "--batch-size", "32",
                        "--optimizer", "adam", "--learning-rate", "0.02", "--verbose", "0")
    assert code == 0, err
    out = tmp_path / "preds.csv"
    code, stdout, err = _run("predict", run, files["words"], "-o", out, "--batch-size", "100")
    assert code == 0, err
    rows = _rows(out)
    assert [int(r["row"]) for r in rows] == list(range(600)) and set(rows[0]) == {"row", "answer"}
    truth = [line.rsplit(",", 1)[1] for line in files["words"].with_suffix(".csv").read_text().splitlines()[1:]]
    assert {r["answer"] for r in rows} <= {"yes", "no"}
    assert np.mean([r["answer"] == t for r, t in zip(rows, truth)]) > 0.9
    probs = tmp_path / "probs.csv"
    code, _, err = _run("predict", run / "checkpoints" / "best.keras", files["words"], "-o", probs, "--probabilities")
    assert code == 0, err
    table = _rows(probs)
    assert list(table[0]) == ["row", "p_no", "p_yes"]
    assert np.allclose([float(r["p_no"]) + float(r["p_yes"]) for r in table], 1.0, atol=1e-5)


def test_predict_on_a_file_without_target(files, tmp_path):
    run = tmp_path / "run"
    _fit(files, run, "--epochs", "1")
    out = tmp_path / "preds.csv"
    code, stdout, err = _run("predict", run, files["unlabelled"], "-o", out)
    assert code == 0, err
    rows = _rows(out)
    assert len(rows) == 300 and {r["label"] for r in rows} <= {str(d) for d in range(10)}
    assert "300 predictions" in stdout


def _factory_module(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "my_models.py").write_text(
        "import keras\n"
        "def tiny(sample_shape, output):\n"
        "    return keras.Sequential([keras.Input(sample_shape), keras.layers.Dense(output.units, activation=output.activation)])\n"
        "def wrong_size(sample_shape, output):\n"
        "    return keras.Sequential([keras.Input(sample_shape), keras.layers.Dense(output.units + 1)])\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_user_model_factory(files, tmp_path, monkeypatch):
    _factory_module(tmp_path, monkeypatch)
    run = tmp_path / "run"
    _fit(files, run, "--model", "my_models:tiny", "--epochs", "1", "--normalize", "unit")
    names = [layer.name for layer in keras.models.load_model(run / "model.keras").layers]
    assert "unit_scale" in names  # preprocessing is part of the saved model


@pytest.mark.parametrize("args,message", [
    (["fit", "missing.h5"], "no such file"),
    (["fit", "{unlabelled}"], "no /target"),
    (["fit", "{train}", "--model", "nosuchmodule:build"], "cannot import nosuchmodule"),
    (["fit", "{train}", "--model", "my_models:absent"], "has no function absent"),
    (["fit", "{train}", "--model", "my_models:wrong_size"], "outputs 11 values per row"),
    (["fit", "{train}", "--model", "cnn"], "needs rows shaped (height, width, channels)"),
    (["fit", "{train}", "--sample-shape", "27,28,1", "--model", "cnn"], "holds 756 values"),
    (["fit", "{train}", "--val", "{words}"], "has 2 features"),
    (["fit", "{train}", "--normalize", "zscore"], "--normalize 'zscore'"),
    (["fit", "{train}", "--optimizer", "nadamx"], "--optimizer 'nadamx'"),
    (["fit", "--resume", "{tmp}/nothing"], "is not a run directory"),
    (["evaluate", "{tmp}/nothing.keras", "{train}"], "no such model file"),
    (["evaluate", "{run}", "{words}"], "takes rows of 784 features"),
    (["predict", "{run}", "{train}", "-o", "{tmp}/missing_dir/p.csv"], "cannot write"),
])
def test_user_errors_are_one_line_and_exit_2(files, tmp_path, monkeypatch, args, message):
    _factory_module(tmp_path, monkeypatch)
    run = tmp_path / "run"
    if "{run}" in " ".join(args):
        _fit(files, run, "--epochs", "1")
    names = {k: str(v) for k, v in files.items()} | {"tmp": str(tmp_path), "run": str(run)}
    argv = [a.format(**names) for a in args]
    if argv[0] == "fit" and "--resume" not in argv:
        argv += ["--run-dir", str(tmp_path / "r")]
    code, out, err = _run(*argv)
    lines = err.strip().splitlines()
    assert code == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not (tmp_path / "missing_dir").exists() and not (tmp_path / "r").exists()  # nothing half-made


@pytest.mark.slow
def test_ctrl_c_keeps_the_last_epoch_and_resumes(files, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "csv2h5.trainer", "fit", str(files["train"]), "--run-dir", str(run), "--epochs", "200",
           "--batch-size", "16", "--verbose", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even if ignored here
    deadline = time.monotonic() + 120
    while not (run / "state.json").exists() or json.loads((run / "state.json").read_text())["epochs_done"] < 1:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    done = json.loads((run / "state.json").read_text())["epochs_done"]
    assert f"h5train fit --resume {run}" in err.strip().splitlines()[-1]
    assert (run / "checkpoints" / "last.keras").exists() and not list(run.rglob("*.tmp*"))
    code, out, err = _run("fit", "--resume", run, "--epochs", str(done + 1), "--verbose", "0")
    assert code == 0, err
    assert len(_rows(run / "history.csv")) == done + 1


def test_cnn_one_hot_class_weights_and_early_stopping(tmp_path):
    import make_digits_csv

    src = tmp_path / "digits.csv"
    make_digits_csv.write_csv(src, rows=600, seed=5, label=True)
    data = tmp_path / "digits.h5"
    convert([src], data, options=ConvertOptions(target=("label",), sample_shape=(28, 28, 1)))
    run = tmp_path / "run"
    code, out, err = _run("fit", data, "--model", "cnn", "--one-hot", "--class-weight", "balanced", "--val-split",
                          "0.2", "--early-stopping", "1", "--epochs", "30", "--optimizer", "adam",
                          "--learning-rate", "0.1", "--run-dir", run, "--batch-size", "64", "--hidden", "8",
                          "--verbose", "0")
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["model"] == "cnn" and config["options"]["one_hot"] is True
    assert config["options"]["class_weight"] == "balanced"
    epochs = len(_rows(run / "history.csv"))
    assert epochs < 30  # a learning rate this high stops improving quickly: early stopping ends the run
    model = keras.models.load_model(run / "model.keras")
    assert model.loss == "categorical_crossentropy" or "categorical" in str(model.loss)
    assert any(isinstance(layer, keras.Model) and any(isinstance(inner, keras.layers.Conv2D) for inner in layer.layers)
               for layer in model.layers)
    code, out, err = _run("evaluate", run, data, "--json")  # one-hot targets are chosen from the model's loss
    assert code == 0, err
    assert 0.0 <= json.loads(out)["accuracy"] <= 1.0
