"""A Ctrl-C that a library swallows still ends h5train with 130 and one line, and nothing claimed as done.

JAX registers a garbage-collection callback; a KeyboardInterrupt raised inside it
is printed by Python as "Exception ignored" and dropped. Here the same happens
on purpose, at a chosen point: a gc callback sends SIGINT to the process, and
the handler's KeyboardInterrupt is raised inside the callback.
"""

from __future__ import annotations

import gc
import signal

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from csv2h5 import ConvertOptions, convert


def _swallowed_ctrl_c() -> None:
    """Ctrl-C arriving inside a garbage-collection callback, which Python's gc swallows."""

    def callback(phase: str, info: dict) -> None:
        gc.callbacks.remove(callback)
        signal.raise_signal(signal.SIGINT)  # its handler runs here, and raises here

    gc.callbacks.append(callback)
    gc.collect()


def _swallowing(function):
    def wrapped(*args, **kwargs):
        _swallowed_ctrl_c()
        return function(*args, **kwargs)

    return wrapped


def _h5train(*args: object):
    from csv2h5.trainer.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    work = tmp_path_factory.mktemp("interrupts")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2)).round(4)
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": np.where(x[:, 0] > 0, "yes", "no")})
    frame.to_csv(work / "t.csv", index=False)
    convert([work / "t.csv"], work / "t.h5", options=ConvertOptions(target=("label",)))
    return work / "t.h5"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_gc_swallows_the_interrupt_the_tests_send():
    """The premise: without a record of it, the interruption would be lost."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _swallowed_ctrl_c()  # no KeyboardInterrupt comes out
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_swallowed_before_training_stops_the_run_before_anything_is_written(table, tmp_path, monkeypatch):
    import csv2h5.trainer.fit as fit_module

    monkeypatch.setattr(fit_module, "seed_everything", _swallowing(fit_module.seed_everything))
    run = tmp_path / "run"
    result = _h5train("fit", table, "--run-dir", run, "--epochs", "2", "--hidden", "4", "--progress", "none")
    assert result.exit_code == 130, result.stderr
    assert result.stderr.strip().splitlines() == ["error: interrupted before training started; nothing to resume"]
    assert not run.exists()


def test_ctrl_c_swallowed_after_training_reports_no_finished_run(table, tmp_path, monkeypatch):
    import csv2h5.trainer.fit as fit_module

    monkeypatch.setattr(fit_module, "plot_curves", _swallowing(fit_module.plot_curves))  # the last file written
    run = tmp_path / "run"
    result = _h5train("fit", table, "--run-dir", run, "--epochs", "2", "--hidden", "4", "--progress", "none")
    assert result.exit_code == 130, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: interrupted; checkpoints/last.keras holds epoch 2; continue with: h5train fit --resume {run}"
    )
    assert "trained" not in result.stdout and "Exception ignored" not in result.stderr


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_ctrl_c_swallowed_while_predicting_or_evaluating_writes_and_reports_nothing(table, tmp_path, monkeypatch, command):
    import csv2h5.trainer.predict as predict_module
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(tmp_path / "m.keras")

    monkeypatch.setattr(predict_module, "open_info", _swallowing(predict_module.open_info))  # then every batch goes
    out = tmp_path / "p.csv"
    args = ["-o", out] if command == "predict" else []
    result = _h5train(command, tmp_path / "m.keras", table, *args, "--batch-size", "100")
    assert result.exit_code == 130, result.stderr
    said = "nothing was written" if command == "predict" else "nothing was evaluated"
    assert result.stderr.strip().splitlines() == [f"error: interrupted; {said}"] and result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]
