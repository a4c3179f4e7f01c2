"""Ties of the validation value: within --tie-tolerance of the best, the latest epoch is kept.

The expected epochs are worked out by hand from made-up histories; the rule in
words: the kept epoch is the last one whose value is within the tolerance (a
fraction of the best value) of the best value of the whole run.
"""

from __future__ import annotations

import csv
import json

import pytest
from backends import on_backend
from csv2h5.trainer.callbacks import RunRecorder, keeps
from csv2h5.trainer.errors import DataOptionError
from csv2h5.trainer.options import FitOptions
from csv2h5.trainer.rundir import FRESH_STATE, RunDir


def _kept(values: list[float], *, tolerance: float, mode: str = "min", state: dict | None = None) -> dict:
    """The state a run ends with after epochs scoring ``values`` (nothing written: ``write=False``)."""
    state = dict(state or FRESH_STATE)
    recorder = RunRecorder(RunDir("unused"), "val_loss", mode, state, write=False, tolerance=tolerance)
    for epoch, value in enumerate(values, start=state["epochs_done"]):
        recorder.on_epoch_end(epoch, {"val_loss": value, "loss": 1.0})
    return state


@pytest.mark.parametrize(
    "values,tolerance,epoch",
    [
        ([0.350, 0.3505, 0.351, 0.352], 0.0, 1),  # no tolerance: the first best, as before
        ([0.350, 0.3505, 0.351, 0.352], 0.01, 4),  # a flat loss (all within 0.0035 of 0.350): the last
        ([0.350, 0.3505, 0.351, 0.360], 0.01, 3),  # 0.360 is 2.9% above the best: not a tie
        ([0.350, 0.350], 0.0, 1),  # an equal value is not better
        ([0.350, 0.350], 0.01, 2),  # but it is a tie
        ([1.0, 1.009, 1.018, 1.027], 0.01, 2),  # each within 1% of the one before, only 1.009 within 1% of the best
        ([1.0, 1.005, 0.9, 0.905, 0.95], 0.01, 4),  # a new best moves the reference: 0.905 <= 0.909, 0.95 is not
        ([0.5, 0.7, 0.504, 0.6], 0.01, 3),  # a tie after a worse epoch still counts
    ],
)
def test_the_latest_epoch_within_the_tolerance_of_the_best_is_kept(values, tolerance, epoch):
    state = _kept(values, tolerance=tolerance)
    assert state["best_epoch"] == epoch
    assert state["best_value"] == values[epoch - 1]  # the kept epoch's own value, what best.keras scores
    assert state["record_value"] == min(values)
    assert state["epochs_done"] == len(values)


def test_a_metric_to_maximise_ties_below_the_best():
    accuracies = [0.90, 0.90, 0.895, 0.80]
    assert _kept(accuracies, tolerance=0.0, mode="max")["best_epoch"] == 1
    assert _kept(accuracies, tolerance=0.01, mode="max")["best_epoch"] == 3  # 0.895 >= 0.891
    assert not keeps(0.80, 0.90, mode="max", tolerance=0.01)
    assert keeps(0.95, 0.90, mode="max", tolerance=0.0)


def test_a_state_from_before_ties_takes_its_best_value_as_the_record():
    """A run saved without ``record_value`` resumes with its best value as the reference."""
    old = {"epochs_done": 3, "best_value": 0.5, "best_epoch": 3, "random_state": []}
    state = _kept([0.504, 0.52], tolerance=0.01, state=old)
    assert state["best_epoch"] == 4 and state["record_value"] == 0.5


def test_the_tolerance_is_checked_and_runs_saved_before_it_read_back_without_ties():
    with pytest.raises(DataOptionError, match="--tie-tolerance takes a fraction"):
        FitOptions(data="train.h5", tie_tolerance=-0.1)
    with pytest.raises(DataOptionError, match="--tie-tolerance takes a fraction"):
        FitOptions(data="train.h5", tie_tolerance=1.0)
    assert FitOptions.from_json({"data": "train.h5", "missing": "mean"}).tie_tolerance == 0.0


def test_h5train_keeps_and_restores_the_latest_tied_epoch(make_data, tmp_path):
    """The kept epoch (metrics.json, model.keras) is the last within the tolerance of history.csv's best."""
    data, _, _ = make_data(tmp_path, rows=400)
    run = tmp_path / "run"
    tolerance = 0.5
    code, out, err = on_backend(
        "jax",
        "backends:h5train",
        *map(str, ("fit", data, "--run-dir", run, "--epochs", "8", "--tie-tolerance", tolerance, "--progress", "none")),
    )
    assert code == 0, err
    with open(run / "history.csv", newline="") as handle:
        losses = [float(row["val_loss"]) for row in csv.DictReader(handle)]
    best = min(losses)
    expected = max(i + 1 for i, v in enumerate(losses) if v <= best * (1 + tolerance))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["best_epoch"] == expected
    assert expected > losses.index(best) + 1  # these random labels' validation loss rises slowly: ties decide
    assert metrics["best_value"] == pytest.approx(losses[expected - 1])
    assert metrics["model_epoch"] == expected
    assert json.loads((run / "config.json").read_text())["options"]["tie_tolerance"] == tolerance
