"""h5train fit / evaluate / predict end to end through the CLI, on both Keras backends.

Every feature runs under JAX and TensorFlow (``backend`` fixture; the backend the
test process does not run goes through a helper process, see backends.py). The
oracles do not come from the code under test: expected predictions, accuracies
and losses are computed here with numpy from the CSV text and ``model.predict``
on the loaded model, which is loaded in this process, so half the cases also
check that a model saved under one backend loads under the other.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from backends import on_backend
from csv2h5.trainer.fileinfo import open_info
from csv2h5.trainer.modelfile import load  # safe mode; either backend's models

from csv2h5 import ConvertOptions, convert

FAST = ["--hidden", "16", "--batch-size", "64", "--progress", "none"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Learnable digits (train, a labelled holdout, an unlabelled copy), a text-label file, a regression file."""
    import make_digits_csv

    work = tmp_path_factory.mktemp("h5train")
    out: dict[str, Path] = {}
    for name, rows, seed, label in (("train", 1500, 1, True), ("holdout", 400, 2, True), ("unlabelled", 300, 2, False)):
        src = work / f"{name}.csv"
        make_digits_csv.write_csv(src, rows=rows, seed=seed, label=label)
        out[name] = work / f"{name}.h5"
        convert([src], out[name], options=ConvertOptions(target=("label",) if label else ()))
    out["holdout_numbers"] = work / "holdout_numbers.h5"  # the digits' labels as a regression target
    convert([work / "holdout.csv"], out["holdout_numbers"], options=ConvertOptions(target=("label",), task="regression"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 2))
    words = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    text = work / "words.csv"
    text.write_text("a,b,answer\n" + "".join(f"{a:.4f},{b:.4f},{w}\n" for (a, b), w in zip(x, words)))
    out["words"] = work / "words.h5"
    convert([text], out["words"], options=ConvertOptions(target=("answer",)))
    z = rng.normal(size=(500, 3))
    level = 2.0 * z[:, 0] - z[:, 1] + 0.5
    numbers = work / "level.csv"
    numbers.write_text("u,v,w,level\n" + "".join(f"{a:.4f},{b:.4f},{c:.4f},{t:.4f}\n" for (a, b, c), t in zip(z, level)))
    out["level"] = work / "level.h5"
    convert([numbers], out["level"], options=ConvertOptions(target=("level",), task="regression"))
    return out


def _csv_table(h5: Path) -> tuple[np.ndarray, list[str]]:
    """The CSV a file was converted from, as float64 cells and its header (the oracle's input)."""
    with open(h5.with_suffix(".csv"), newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _digits(h5: Path) -> tuple[np.ndarray, np.ndarray | None]:
    header, rows = _csv_table(h5)
    table = np.array(rows, dtype=np.float64)
    if header[0] == "label":
        return table[:, 1:].astype(np.float32), table[:, 0].astype(np.int64)
    return table.astype(np.float32), None


def _run(backend: str, *args: object) -> tuple[int, str, str]:
    return on_backend(backend, "backends:h5train", *args)


def _fit(backend: str, files, run: Path, *extra: object, data: str = "train") -> None:
    code, out, err = _run(backend, "fit", files[data], "--run-dir", run, "--backend", backend, *FAST, *extra)
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("trained ")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _weights(path: Path) -> list[np.ndarray]:
    return load(path).get_weights()


def _scores(model_file: Path, x: np.ndarray) -> np.ndarray:
    return np.asarray(load(model_file).predict(x, verbose=0), dtype=np.float64)


def test_fit_learns_and_writes_every_artifact(backend, files, tmp_path):
    run = tmp_path / "run"
    _fit(backend, files, run, "--val", files["holdout"], "--epochs", "4", "--learning-rate", "0.05")
    x_val, y_val = _digits(files["holdout"])
    history = _rows(run / "history.csv")
    assert [int(r["epoch"]) for r in history] == [1, 2, 3, 4]
    val_accuracy = [float(r["val_accuracy"]) for r in history]
    val_loss = [float(r["val_loss"]) for r in history]
    # best.keras and model.keras (early stopping restores the best weights) are the epoch with the lowest
    # validation loss, last.keras the final one: their accuracy, computed here from the CSV, is what
    # history.csv recorded for those epochs.
    best = int(np.argmin(val_loss))
    for name, epoch in (("checkpoints/best.keras", best), ("checkpoints/last.keras", 3), ("model.keras", best)):
        accuracy = np.mean(_scores(run / name, x_val).argmax(axis=1) == y_val)
        assert accuracy == pytest.approx(val_accuracy[epoch], abs=1e-6), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["monitor"] == "val_loss" and metrics["best_epoch"] == best + 1
    assert metrics["best_value"] == pytest.approx(min(val_loss)) and val_accuracy[best] >= 0.9  # it learns
    assert metrics["epochs"] == 4 and metrics["final"]["val_accuracy"] == pytest.approx(val_accuracy[-1])
    assert metrics["model_epoch"] == best + 1
    config = json.loads((run / "config.json").read_text())
    assert config["backend"] == backend and config["versions"]["keras_backend"] == backend
    assert {"jax": "jaxlib", "tensorflow": "tensorflow"}[backend] in config["versions"]
    assert config["data"]["fingerprint"].startswith("sha256:") and config["data"]["rows"] == 1500
    assert config["options"]["epochs"] == 4 and config["versions"]["keras"] == keras.__version__
    import matplotlib.image

    assert matplotlib.image.imread(run / "curves.png").ndim == 3
    assert list((run / "logs").rglob("events.out.tfevents.*"))


def test_same_seed_same_weights_and_resume_is_exact(backend, files, tmp_path):
    """Dropout and Adam: the random layer's stream and the optimizer's moments carry over a resume, bit for bit."""
    same = ["--seed", "7", "--val-split", "0.2", "--dropout", "0.3", "--optimizer", "adam"]
    _fit(backend, files, tmp_path / "a", "--epochs", "3", *same)
    _fit(backend, files, tmp_path / "b", "--epochs", "3", *same)
    _fit(backend, files, tmp_path / "c", "--epochs", "1", *same)
    code, _, err = _run(backend, "fit", "--resume", tmp_path / "c", "--epochs", "3", "--progress", "none")
    assert code == 0, err
    a, b, c = (_weights(tmp_path / r / "model.keras") for r in "abc")
    for wa, wb, wc in zip(a, b, c, strict=True):
        assert np.array_equal(wa, wb)  # same seed: identical
        assert np.array_equal(wa, wc)  # interrupted after epoch 1 and resumed: identical
    assert _rows(tmp_path / "a" / "history.csv") == _rows(tmp_path / "c" / "history.csv")
    _fit(backend, files, tmp_path / "d", "--epochs", "3", *same[:1], "8", *same[2:])
    assert not np.array_equal(_weights(tmp_path / "d" / "model.keras")[0], a[0])  # the seed matters


def test_resuming_a_finished_run_keeps_its_best_epoch(tmp_path):
    """Every epoch done (a run stopped while its last epoch's files were written): resume finishes it, no traceback."""
    rng = np.random.default_rng(3)
    noise = tmp_path / "noise.csv"  # labels unrelated to the columns: validation is best early, then overfits
    noise.write_text(
        "a,b,c,label\n"
        + "".join(f"{a:.4f},{b:.4f},{c:.4f},{y}\n" for (a, b, c), y in zip(rng.normal(size=(300, 3)), rng.integers(0, 2, 300)))
    )
    convert([noise], tmp_path / "noise.h5", options=ConvertOptions(target=("label",)))
    run = tmp_path / "run"
    args = ["--batch-size", "64", "--epochs", "8", "--learning-rate", "0.01", "--val-split", "0.3", "--progress", "none"]
    code, _, err = _run("jax", "fit", tmp_path / "noise.h5", "--run-dir", run, "--backend", "jax", *args)
    assert code == 0, err
    before = json.loads((run / "metrics.json").read_text())
    assert before["model_epoch"] < 8  # the best epoch is not the last: its weights come from best.keras
    code, out, err = _run("jax", "fit", "--resume", run, "--progress", "none")
    assert code == 0, err
    assert f"model.keras holds epoch {before['model_epoch']}'s weights" in out
    for kept, best in zip(_weights(run / "model.keras"), _weights(run / "checkpoints" / "best.keras"), strict=True):
        assert np.array_equal(kept, best)


def test_resume_with_no_more_epochs_than_done_trains_nothing_and_says_so(files, tmp_path):
    """--epochs counts the whole run: fewer than done is refused, as many as done is said to be nothing to train."""
    run = tmp_path / "run"
    _fit("jax", files, run, "--epochs", "2")
    weights, history = _weights(run / "model.keras"), (run / "history.csv").read_text()
    code, _, err = _run("jax", "fit", "--resume", run, "--epochs", "1", "--progress", "none")
    assert code == 2 and err.count("\n") == 1
    assert "has trained 2 epochs, more than --epochs 1 asks for" in err and "--epochs 3 or more" in err
    code, out, err = _run("jax", "fit", "--resume", run, "--epochs", "2", "--progress", "none")
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("nothing to train: the run has done the 2 epochs")
    assert len(_rows(run / "history.csv")) == 2 and (run / "history.csv").read_text() == history
    for after, before in zip(_weights(run / "model.keras"), weights, strict=True):
        assert np.array_equal(after, before)


def test_a_resume_says_the_epochs_it_added_and_the_run_s_total(files, tmp_path):
    """The summary and metrics.json ("epochs" stays the run's total) tell this fit's epochs from the run's."""
    run = tmp_path / "run"
    _fit("jax", files, run, "--epochs", "1")
    first = json.loads((run / "metrics.json").read_text())
    assert (first["epochs"], first["epochs_this_fit"]) == (1, 1)
    code, out, err = _run("jax", "fit", "--resume", run, "--epochs", "3", "--progress", "none")
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("trained 2 more epochs (3 in all) in ")
    metrics = json.loads((run / "metrics.json").read_text())
    assert (metrics["epochs"], metrics["epochs_this_fit"]) == (3, 2) and len(_rows(run / "history.csv")) == 3
    code, out, err = _run("jax", "fit", "--resume", run, "--epochs", "4", "--progress", "none")
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("trained 1 more epoch (4 in all) in ")


def test_a_resume_that_trained_longer_is_resumed_again_without_epochs(files, tmp_path):
    """--epochs on --resume becomes the run's: 'h5train fit --resume RUN', as a stopped run says to go on, is not refused."""
    run = tmp_path / "run"
    _fit("jax", files, run, "--epochs", "1")
    code, _, err = _run("jax", "fit", "--resume", run, "--epochs", "2", "--progress", "none")
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["options"]["epochs"] == 2
    code, out, err = _run("jax", "fit", "--resume", run, "--progress", "none")
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("nothing to train: the run has done the 2 epochs")
    assert len(_rows(run / "history.csv")) == 2


def test_resume_refuses_changed_settings_and_takes_the_moved_data_file(files, tmp_path):
    run, moved = tmp_path / "run", tmp_path / "moved.h5"
    _fit("jax", files, run, "--epochs", "1")
    config = (run / "config.json").read_text()
    code, _, err = _run("jax", "fit", "--resume", run, "--epochs", "2", "--learning-rate", "0.5", "--batch-size", "7")
    assert code == 2 and err.count("\n") == 1, err
    assert "--batch-size and --learning-rate cannot change on --resume" in err, err
    assert (run / "config.json").read_text() == config  # refused before anything was written
    code, _, err = _run("jax", "fit", files["words"], "--resume", run, "--epochs", "2", "--progress", "none")
    assert code == 2 and f"is not the data {run} started with" in err, err
    moved.write_bytes(Path(files["train"]).read_bytes())  # the run's data, moved
    code, out, err = _run("jax", "fit", moved, "--resume", run, "--epochs", "2", "--progress", "none", "--loaders", "2")
    assert code == 0 and out.strip().splitlines()[-1].startswith("trained 1 more epoch (2 in all)"), err
    moved.unlink()  # gone: the message says how to go on
    code, _, err = _run("jax", "fit", "--resume", run, "--epochs", "3", "--progress", "none")
    assert code == 2 and err.strip() == (
        f"error: {moved}, the file {run} trained on, is not there; if it moved, pass where it is now:"
        f" h5train fit NEW.h5 --resume {run}"
    ), err


def test_resuming_a_run_that_stopped_early_trains_nothing_and_says_why(tmp_path):
    rng = np.random.default_rng(5)
    noise = tmp_path / "noise.csv"  # labels unrelated to the columns: validation stops improving early
    noise.write_text(
        "a,b,label\n" + "".join(f"{a:.4f},{b:.4f},{y}\n" for (a, b), y in zip(rng.normal(size=(300, 2)), rng.integers(0, 2, 300)))
    )
    convert([noise], tmp_path / "noise.h5", options=ConvertOptions(target=("label",)))
    run = tmp_path / "run"
    args = ["--epochs", "60", "--early-stopping", "2", "--learning-rate", "0.05", "--val-split", "0.3", "--progress", "none"]
    code, out, err = _run("jax", "fit", tmp_path / "noise.h5", "--run-dir", run, *args)
    assert code == 0 and "(stopped early)" in out, err
    state = json.loads((run / "state.json").read_text())
    history = (run / "history.csv").read_text()
    code, out, err = _run("jax", "fit", "--resume", run, "--progress", "none")
    assert code == 0, err
    done, best = state["epochs_done"], state["best_epoch"]
    assert (
        out.strip()
        .splitlines()[-1]
        .startswith(f"nothing to train: the run stopped early: no better val_loss in the {done - best} epochs after epoch {best}")
    )
    assert (run / "history.csv").read_text() == history


def test_a_run_whose_data_file_moved_says_so_and_resumes_from_its_new_place(files, tmp_path):
    """A moved training file is named as moved (not 'convert your CSV first'), and DATA given with --resume is read."""
    data = tmp_path / "a" / "level.h5"
    data.parent.mkdir()
    shutil.copy(files["level"], data)
    run = tmp_path / "run"
    code, _, err = _run("jax", "fit", data, "--run-dir", run, *FAST, "--epochs", "1")
    assert code == 0, err
    moved = tmp_path / "b" / "level.h5"
    moved.parent.mkdir()
    data.rename(moved)
    code, _, err = _run("jax", "fit", "--resume", run, "--epochs", "2", "--progress", "none")
    assert code == 2 and err.count("\n") == 1, err
    assert f"{data}, the file {run} trained on, is not there" in err and f"h5train fit NEW.h5 --resume {run}" in err
    code, _, err = _run("jax", "fit", moved, "--resume", run, "--epochs", "2", "--progress", "none")
    assert code == 0, err
    assert len(_rows(run / "history.csv")) == 2
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["data"] == config["data"]["path"] == str(moved)  # the next --resume reads it there
    code, _, err = _run("jax", "fit", files["train"], "--resume", run, "--epochs", "3", "--progress", "none")
    assert code == 2 and "fingerprint differs" in err  # another file is not taken for the moved one


def test_more_steps_per_epoch_than_an_epoch_holds_is_said(files, tmp_path):
    code, _, err = _run(
        "jax", "fit", files["train"], "--run-dir", tmp_path / "r", *FAST, "--epochs", "1", "--steps-per-epoch", "100000"
    )
    assert code == 0, err
    found = re.search(
        r"note: --steps-per-epoch 100000 is more than the (\d+) batches of 64 training rows.*: each epoch trains (\d+) steps", err
    )
    assert found and found[1] == found[2], err
    rows = open_info(files["train"]).rows  # 90% of them train (the default validation split), in batches of 64
    assert 0.85 * rows <= int(found[1]) * 64 < 0.95 * rows + 64


def test_a_run_stopped_before_its_first_epoch_starts_again_in_its_directory(files, tmp_path):
    """Ctrl-C before epoch 1 ends says to start the run again; with --run-dir, the same command must be able to."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)  # what such a stop leaves: settings, no epoch, a start of logs
    (run / "config.json").write_text('{"options": {"data": "train.h5"}}')
    (run / "state.json").write_text('{"epochs_done": 0, "best_value": null, "best_epoch": null, "random_state": []}')
    (run / "logs" / "train").mkdir(parents=True)
    (run / "logs" / "train" / "events.out.tfevents.stale").write_bytes(b"")
    _fit("jax", files, run, "--epochs", "1", data="words")  # --resume refuses it: no finished epoch
    assert [r["epoch"] for r in _rows(run / "history.csv")] == ["1"]
    assert json.loads((run / "config.json").read_text())["options"]["data"] == str(files["words"])
    assert not (run / "logs" / "train" / "events.out.tfevents.stale").exists()
    code, _, err = _run("jax", "fit", files["words"], "--run-dir", run, "--epochs", "1")
    assert code == 2 and f"{run} already holds a run" in err  # one epoch done: a run to resume, kept


def test_evaluate_reports_the_models_loss_and_accuracy(backend, files, tmp_path):
    run = tmp_path / "run"
    _fit(backend, files, run, "--epochs", "2")
    code, out, err = _run(backend, "evaluate", run, files["holdout"], "--json")
    assert code == 0, err
    reported = json.loads(out)
    x, y = _digits(files["holdout"])
    p = _scores(run / "model.keras", x)
    assert set(reported) == {"loss", "accuracy"}
    assert reported["accuracy"] == pytest.approx(np.mean(p.argmax(axis=1) == y), abs=1e-6)
    assert reported["loss"] == pytest.approx(np.mean(-np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1))), rel=1e-4)


def test_predict_maps_labels_back_and_streams_every_row(backend, files, tmp_path):
    run = tmp_path / "run"
    code, _, err = _run(
        backend,
        "fit",
        files["words"],
        "--run-dir",
        run,
        "--epochs",
        "8",
        "--batch-size",
        "32",
        "--optimizer",
        "adam",
        "--learning-rate",
        "0.02",
        "--progress",
        "none",
    )
    assert code == 0, err
    header, rows = _csv_table(files["words"])
    x = np.array([r[:2] for r in rows], dtype=np.float32)
    truth = [r[2] for r in rows]
    scores = _scores(run / "model.keras", x)  # columns: class codes, i.e. sorted labels "no", "yes"
    out = tmp_path / "preds.csv"
    code, stdout, err = _run(backend, "predict", run, files["words"], "-o", out, "--batch-size", "100")
    assert code == 0, err
    predicted = _rows(out)
    assert [int(r["row"]) for r in predicted] == list(range(600)) and list(predicted[0]) == ["row", "answer"]
    assert [r["answer"] for r in predicted] == [["no", "yes"][k] for k in scores.argmax(axis=1)]
    assert np.mean([r["answer"] == t for r, t in zip(predicted, truth)]) > 0.9
    assert "600 predictions" in stdout
    probs = tmp_path / "probs.csv"
    code, _, err = _run(backend, "predict", run / "checkpoints" / "best.keras", files["words"], "-o", probs, "--probabilities")
    assert code == 0, err
    table = _rows(probs)
    assert list(table[0]) == ["row", "p_no", "p_yes"]
    best = _scores(run / "checkpoints" / "best.keras", x)
    np.testing.assert_allclose([[float(r["p_no"]), float(r["p_yes"])] for r in table], best, atol=1e-6)


def test_predict_on_a_file_without_target(backend, files, tmp_path):
    run = tmp_path / "run"
    _fit(backend, files, run, "--epochs", "1")
    out = tmp_path / "preds.csv"
    code, stdout, err = _run(backend, "predict", run, files["unlabelled"], "-o", out)
    assert code == 0, err
    x, _ = _digits(files["unlabelled"])
    expected = _scores(run / "model.keras", x).argmax(axis=1)
    assert [int(r["label"]) for r in _rows(out)] == expected.tolist()  # codes 0-9 are the labels 0-9
    assert len(set(expected.tolist())) > 1  # a model that learnt something, so the comparison means something


def test_regression_trains_a_linear_head_on_mse(backend, files, tmp_path):
    run = tmp_path / "run"
    _fit(
        backend, files, run, "--epochs", "30", "--optimizer", "adam", "--learning-rate", "0.05", "--val-split", "0", data="level"
    )
    model = load(run / "model.keras")
    assert model.loss == "mse" and model.layers[-2].layers[-1].activation.__name__ == "linear"
    assert model.layers[-1].name == "target_scale"  # the body's outputs put on the target's scale
    history = _rows(run / "history.csv")
    assert set(history[0]) == {"epoch", "loss", "mae"}
    header, rows = _csv_table(files["level"])
    table = np.array(rows, dtype=np.float64)
    expected = _scores(run / "model.keras", table[:, :3].astype(np.float32))[:, 0]
    assert np.mean((expected - table[:, 3]) ** 2) < 0.1 * np.var(table[:, 3])  # it fits the linear target
    out = tmp_path / "levels.csv"
    code, _, err = _run(backend, "predict", run, files["level"], "-o", out)
    assert code == 0, err
    np.testing.assert_allclose([float(r["level"]) for r in _rows(out)], expected, rtol=1e-5, atol=1e-6)
    code, out_text, err = _run(backend, "evaluate", run, files["level"], "--json")
    assert code == 0, err
    reported = json.loads(out_text)
    assert reported["loss"] == pytest.approx(np.mean((expected - table[:, 3]) ** 2), rel=1e-4)
    assert reported["mae"] == pytest.approx(np.mean(np.abs(expected - table[:, 3])), rel=1e-4)


def test_loader_threads_processes_and_steps_do_not_change_the_numbers(backend, files, tmp_path):
    """Threads, worker processes (Keras's PyDataset path) and the default input (tf.data on TensorFlow) agree."""
    same = ["--epochs", "2", "--steps-per-epoch", "7", "--shuffle", "global", "--dropout", "0.2"]
    _fit(backend, files, tmp_path / "plain", *same)
    _fit(backend, files, tmp_path / "threads", *same, "--loaders", "2")
    _fit(backend, files, tmp_path / "processes", *same, "--loaders", "2", "--processes")
    plain = _weights(tmp_path / "plain" / "model.keras")
    for other in ("threads", "processes"):
        for a, b in zip(plain, _weights(tmp_path / other / "model.keras"), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=other)
    _fit(backend, files, tmp_path / "more", *same[:3], "8", *same[4:])
    assert not np.array_equal(plain[0], _weights(tmp_path / "more" / "model.keras")[0])  # steps do count


def test_workers_still_sets_the_loader_threads_with_a_warning(files, tmp_path):
    """--workers, the old name of --loaders, keeps working for a while and says what to pass instead."""
    run = tmp_path / "run"
    code, out, err = _run(
        "tensorflow", "fit", files["train"], "--run-dir", run, "--backend", "tensorflow", *FAST, "--epochs", "1", "--workers", "2"
    )
    assert code == 0, err
    assert "warning: --workers is deprecated; it is now --loaders" in err
    options = json.loads((run / "config.json").read_text())["options"]
    assert options["loaders"] == 2 and "workers" not in options


def _factory_module(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "my_models.py").write_text(
        "import keras\n"
        "def tiny(sample_shape, output):\n"
        "    return keras.Sequential([keras.Input(sample_shape),\n"
        "                             keras.layers.Dense(output.units, activation=output.activation)])\n"
        "def wrong_size(sample_shape, output):\n"
        "    return keras.Sequential([keras.Input(sample_shape), keras.layers.Dense(output.units + 1)])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_user_model_factory(backend, files, tmp_path, monkeypatch):
    _factory_module(tmp_path, monkeypatch)
    run = tmp_path / "run"
    _fit(backend, files, run, "--model", "my_models:tiny", "--epochs", "1", "--normalize", "unit")
    model = load(run / "model.keras")
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Rescaling", "Sequential"]
    assert model.layers[1].name == "unit_scale"  # preprocessing is part of the saved model
    assert [type(layer).__name__ for layer in model.layers[2].layers] == ["Dense"]  # the body is the user's


@pytest.mark.parametrize(
    "args,message",
    [
        (["fit", "missing.h5"], "no such file"),
        (["fit", "{unlabelled}"], "no /target"),
        (["fit", "{train}", "--model", "nosuchmodule:build"], "cannot import nosuchmodule"),
        (["fit", "{train}", "--model", "my_models:absent"], "has no function absent"),
        (["fit", "{train}", "--model", "my_models:wrong_size"], "outputs 11 values per row"),
        (["fit", "{train}", "--model", "cnn"], "needs rows shaped (height, width, channels)"),
        (
            ["fit", "{train}", "--model", "cnn", "--sample-shape", "1,784,1"],
            "4 or more, got (1, 784, 1); pass --sample-shape 28,28,1",
        ),
        (["fit", "{train}", "--sample-shape", "27,28,1", "--model", "cnn"], "holds 756 values"),
        (["fit", "{train}", "--val", "{words}"], "has 2 features"),
        (["fit", "{train}", "--normalize", "zscore"], "--normalize 'zscore'"),
        (["fit", "{train}", "--optimizer", "nadamx"], "--optimizer 'nadamx'"),
        (["fit", "{train}", "--activation", "rleu"], "--activation 'rleu' is not a Keras activation"),
        (["fit", "{train}", "--hidden", "0"], "--hidden takes layer widths of at least 1, got 0"),
        (["fit", "{train}", "--seed", "-1"], "--seed takes an integer in 0..4294967295, got -1"),
        (["fit", "{train}", "--learning-rate", "-0.01"], "--learning-rate must be a positive number, got -0.01"),
        (["fit", "{train}", "--steps-per-epoch", "0"], "--steps-per-epoch must be at least 1, got 0"),
        (["fit", "{train}", "--sample-shape", "27,28"], "holds 756 values"),  # a table's model would drop it unread
        (["fit", "{train}", "--backend", "torch"], "--backend 'torch' is not one of auto, jax, tensorflow"),
        (["fit", "{train}", "--progress", "loud"], "--progress takes auto, bar, epoch or none"),
        (["fit", "{train}", "--coordinator", "localhost:1234"], "need --strategy multi-worker"),
        (["fit", "{train}", "--loaders", "2", "--workers", "2"], "pass --loaders only"),
        (["fit", "{train}", "--loaders", "0"], "--loaders must be at least 1, got 0"),
        (["fit", "{train}", "--class-weight", "inverse"], "--class-weight takes 'balanced', got 'inverse'"),
        (["fit", "{train}", "--strategy", "parallel"], "--strategy 'parallel' is not one of default, mirrored, multi-worker"),
        (["fit", "--resume", "{tmp}/nothing"], "is not a run directory"),
        (["evaluate", "{tmp}/nothing.keras", "{train}"], "no such model file"),
        (["evaluate", "{run}", "{words}"], "takes rows of 784 features"),
        (["evaluate", "{run}", "{unlabelled}"], "has no /target to score the model against"),
        (["evaluate", "{run}", "{holdout_numbers}"], "has a regression target, but the model was trained for classification"),
        (["predict", "{run}", "{train}", "-o", "{tmp}/missing_dir/p.csv"], "cannot write"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(files, tmp_path, monkeypatch, args, message):
    _factory_module(tmp_path, monkeypatch)
    run = tmp_path / "run"
    backend = "tensorflow"  # the messages come before, or do not depend on, the backend; both run elsewhere
    if "{run}" in " ".join(args):
        _fit(backend, files, run, "--epochs", "1")
    names = {k: str(v) for k, v in files.items()} | {"tmp": str(tmp_path), "run": str(run)}
    argv = [a.format(**names) for a in args]
    if argv[0] == "fit" and "--resume" not in argv:
        argv += ["--run-dir", str(tmp_path / "r")]
    code, out, err = _run(backend, *argv)
    lines = err.strip().splitlines()
    assert code == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not (tmp_path / "missing_dir").exists() and not (tmp_path / "r").exists()  # nothing half-made


def test_a_run_resumes_only_on_its_own_backend(files, tmp_path):
    run = tmp_path / "run"
    _fit("jax", files, run, "--epochs", "1")
    code, _, err = _run("jax", "fit", "--resume", run, "--epochs", "2", "--backend", "tensorflow")
    assert code == 2 and err.startswith("error: this run was trained with the jax backend; resume it with --backend jax")
    assert len(_rows(run / "history.csv")) == 1


def _ctrl_c(backend: str, data: Path, run: Path, same: list[str]) -> int:
    """Start h5train in its own process, press Ctrl-C after an epoch; return the epochs it kept."""
    cmd = [
        sys.executable,
        "-m",
        "csv2h5.trainer",
        "fit",
        str(data),
        "--run-dir",
        str(run),
        "--epochs",
        "200",
        "--backend",
        backend,
        *same,
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # even if ignored here
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
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert lines == [f"run directory: {run}", lines[1], lines[-1]] and lines[-1].startswith("error: interrupted; ")
    assert lines[1].startswith("note: data order: shuffle=global (the 1.2 MB of rows fit in half the ")
    assert f"h5train fit --resume {run}" in lines[-1]
    assert (run / "checkpoints" / "last.keras").exists() and not list(run.rglob("*.tmp*"))
    return json.loads((run / "state.json").read_text())["epochs_done"]


@pytest.mark.slow
def test_ctrl_c_keeps_the_last_epoch_and_resumes_as_if_never_stopped(backend, files, tmp_path):
    same = ["--batch-size", "16", "--hidden", "16", "--dropout", "0.3", "--optimizer", "adam", "--progress", "none"]
    run = tmp_path / "run"
    done = _ctrl_c(backend, files["train"], run, same)
    code, _, err = _run(backend, "fit", "--resume", run, "--epochs", str(done + 1), "--progress", "none")
    assert code == 0, err
    assert len(_rows(run / "history.csv")) == done + 1
    straight = tmp_path / "straight"
    code, _, err = _run(
        backend, "fit", files["train"], "--run-dir", straight, "--epochs", str(done + 1), "--backend", backend, *same
    )
    assert code == 0, err
    for a, b in zip(_weights(run / "model.keras"), _weights(straight / "model.keras"), strict=True):
        assert np.array_equal(a, b)


def test_cnn_one_hot_class_weights_and_early_stopping(backend, tmp_path):
    import make_digits_csv

    src = tmp_path / "digits.csv"
    make_digits_csv.write_csv(src, rows=600, seed=5, label=True)
    data = tmp_path / "digits.h5"
    convert([src], data, options=ConvertOptions(target=("label",), sample_shape=(28, 28, 1)))
    run = tmp_path / "run"
    code, out, err = _run(
        backend,
        "fit",
        data,
        "--model",
        "cnn",
        "--one-hot",
        "--class-weight",
        "balanced",
        "--val-split",
        "0.2",
        "--early-stopping",
        "1",
        "--epochs",
        "30",
        "--optimizer",
        "adam",
        "--learning-rate",
        "0.1",
        "--run-dir",
        run,
        "--batch-size",
        "64",
        "--hidden",
        "8",
        "--progress",
        "none",
        "--backend",
        backend,
    )
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["model"] == "cnn" and config["options"]["class_weight"] == "balanced"
    history = [float(r["val_loss"]) for r in _rows(run / "history.csv")]
    # Patience 1: training stops at the first epoch that does not beat the lowest validation loss so far.
    assert len(history) < 30 and history[-1] >= min(history[:-1])
    assert all(later < best for best, later in zip(np.minimum.accumulate(history[:-2]), history[1:-1]))
    model = load(run / "model.keras")
    assert model.loss == "categorical_crossentropy"  # --one-hot: not the sparse loss
    assert any(
        isinstance(inner, keras.layers.Conv2D)
        for layer in model.layers
        if isinstance(layer, keras.Model)
        for inner in layer.layers
    )
    code, out, err = _run(backend, "evaluate", run, data, "--json")  # one-hot targets are chosen from the model's loss
    assert code == 0, err
    x, y = _digits(data)
    p = _scores(run / "model.keras", x)
    reported = json.loads(out)
    assert reported["accuracy"] == pytest.approx(np.mean(p.argmax(axis=1) == y), abs=1e-6)
    assert reported["loss"] == pytest.approx(np.mean(-np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1))), rel=1e-4)


def test_a_run_written_before_random_states_were_recorded_still_resumes(files, tmp_path):
    run = tmp_path / "run"
    _fit("tensorflow", files, run, "--epochs", "1", "--dropout", "0.2")
    state = json.loads((run / "state.json").read_text())
    assert len(state.pop("random_state")) == 1  # one dropout layer's stream
    (run / "state.json").write_text(json.dumps(state))  # as an older h5train wrote it
    code, _, err = _run("tensorflow", "fit", "--resume", run, "--epochs", "2", "--progress", "none")
    assert code == 0, err
    assert len(_rows(run / "history.csv")) == 2 and len(json.loads((run / "state.json").read_text())["random_state"]) == 1


@pytest.mark.slow
def test_data_larger_than_memory_trains_in_blocks_says_so_and_resumes_exactly(files, tmp_path):
    backend = "jax"
    same = ["--seed", "7", "--val-split", "0.2", "--memory-budget", "100kB", "--backend", backend, *FAST]
    code, _, err = _run(backend, "fit", files["train"], "--run-dir", tmp_path / "a", "--epochs", "3", *same)
    assert code == 0, err
    assert (
        "note: data order: shuffle=blocks (the 1.2 MB of rows do not fit in half the 100.0 kB of memory_budget); "
        "a pool of 2 blocks of"
    ) in err
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["data_order"]["shuffle"] == "blocks" and config["options"]["memory_budget"] == 100_000
    code, _, err = _run(backend, "fit", files["train"], "--run-dir", tmp_path / "c", "--epochs", "1", *same)
    assert code == 0, err
    # A run an older version planned with another pool: resuming says the order now differs from it.
    config = json.loads((tmp_path / "c" / "config.json").read_text())
    config["data_order"]["pool_blocks"] = 40
    (tmp_path / "c" / "config.json").write_text(json.dumps(config))
    code, _, err = _run(backend, "fit", "--resume", tmp_path / "c", "--epochs", "3", "--progress", "none")
    assert code == 0, err
    assert "note: the run started reading its data as shuffle=blocks, a pool of 40 blocks of " in err
    assert "this version plans shuffle=blocks, a pool of 2 blocks of " in err
    for wa, wc in zip(_weights(tmp_path / "a" / "model.keras"), _weights(tmp_path / "c" / "model.keras"), strict=True):
        assert np.array_equal(wa, wc)
    # Without a budget the memory found is recorded, less what Python, Keras and the model hold, and a file
    # this small is shuffled globally.
    code, _, err = _run(backend, "fit", files["train"], "--run-dir", tmp_path / "d", "--epochs", "1", *same[:4], *same[6:])
    assert code == 0, err
    config = json.loads((tmp_path / "d" / "config.json").read_text())
    assert config["data_order"]["shuffle"] == "global" and config["options"]["memory_budget"] > 100_000_000
    assert "note: data order: shuffle=global (the 1.2 MB of rows fit in half the " in err
    assert " left to the data of the " in err and " kept for Python, Keras and the model)" in err


def test_a_resume_finds_memory_again_for_runs_that_recorded_all_of_it_and_takes_its_reading_flags(files, tmp_path):
    backend = "jax"
    run = tmp_path / "run"
    _fit(backend, files, run, "--epochs", "1", "--seed", "3")
    config = json.loads((run / "config.json").read_text())
    assert config["data_order"]["budget_for"] == "data" and config["options"]["loaders"] == 1
    # As a run recorded before the memory kept for Python and Keras: its figure was all the process had.
    # Taken as the data's own it would plan a pool too large; the resume finds the memory again instead.
    del config["data_order"]["budget_for"]
    config["options"]["memory_budget"] = 100_000
    (run / "config.json").write_text(json.dumps(config))
    code, _, err = _run(backend, "fit", "--resume", run, "--epochs", "2", "--loaders", "2", "--progress", "none")
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert config["data_order"]["budget_for"] == "data" and config["options"]["memory_budget"] > 100_000_000
    assert config["options"]["loaders"] == 2  # given with --resume: read so, and recorded for the next resume
    code, _, err = _run(backend, "fit", "--resume", run, "--epochs", "2", "--hidden", "8")  # still refused
    assert code == 2 and "--hidden cannot change on --resume" in err
