"""FitOptions checks every setting itself: a Python caller meets the same refusals as ``h5train fit``."""

from __future__ import annotations

import pytest
from csv2h5.trainer.errors import DataOptionError
from csv2h5.trainer.options import FitOptions


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("class_weight", "inverse", "--class-weight takes 'balanced', got 'inverse'"),
        ("class_weight", "", "--class-weight takes 'balanced', got ''"),
        ("strategy", "parallel", "--strategy 'parallel' is not one of default, mirrored, multi-worker"),
        ("strategy", "Mirrored", "--strategy 'Mirrored' is not one of default, mirrored, multi-worker"),
    ],
)
def test_unknown_class_weight_and_strategy_are_refused_from_python(field, value, message):
    with pytest.raises(DataOptionError) as caught:
        FitOptions(data="train.h5", **{field: value})
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "field,value",
    [
        ("class_weight", None),
        ("class_weight", "balanced"),
        ("strategy", "default"),
        ("strategy", "mirrored"),
        ("strategy", "multi-worker"),
    ],
)
def test_the_documented_values_are_accepted(field, value):
    assert getattr(FitOptions(data="train.h5", **{field: value}), field) == value


def test_a_saved_run_with_a_bad_strategy_is_refused_when_read_back():
    with pytest.raises(DataOptionError, match="--strategy 'parallel'"):
        FitOptions.from_json({"data": "train.h5", "missing": "mean", "strategy": "parallel"})


def test_loader_threads_are_loaders_and_a_run_saved_as_workers_reads_back():
    """``loaders`` are batch-loading threads; runs written when they were called ``workers`` resume with them."""
    assert FitOptions.from_json({"data": "train.h5", "missing": "mean", "workers": 3}).loaders == 3
    assert FitOptions.from_json({"data": "train.h5", "missing": "mean", "loaders": 2}).loaders == 2
    with pytest.raises(DataOptionError, match="--loaders must be at least 1, got 0"):
        FitOptions(data="train.h5", loaders=0)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("seed", -1, "--seed takes an integer in 0..4294967295, got -1"),
        ("seed", 2**32, "--seed takes an integer in 0..4294967295, got 4294967296"),
        ("learning_rate", 0.0, "--learning-rate must be a positive number, got 0.0"),
        ("learning_rate", -0.001, "--learning-rate must be a positive number, got -0.001"),
        ("learning_rate", float("nan"), "--learning-rate must be a positive number, got nan"),
        ("hidden", (64, 0), "--hidden takes layer widths of at least 1, got 64, 0"),
        ("steps_per_epoch", 0, "--steps-per-epoch must be at least 1, got 0"),
    ],
)
def test_settings_no_training_can_use_are_refused(field, value, message):
    """A negative learning rate would train uphill without a word; the others failed deep inside numpy or Keras."""
    with pytest.raises(DataOptionError) as caught:
        FitOptions(data="train.h5", **{field: value})
    assert str(caught.value) == message


def test_the_edges_of_those_settings_are_accepted():
    options = FitOptions(data="train.h5", seed=2**32 - 1, learning_rate=1e-6, hidden=(1,), steps_per_epoch=1)
    assert (options.seed, options.learning_rate, options.hidden, options.steps_per_epoch) == (2**32 - 1, 1e-6, (1,), 1)


def test_early_stopping_without_validation_is_refused_rather_than_left_unused(tmp_path):
    """It waits for a better validation metric; with --val-split 0 there is none, and it would never act."""
    from csv2h5.trainer.cli import app
    from typer.testing import CliRunner

    line = (
        "--early-stopping 3 waits for a better validation metric, but --val-split 0 holds no rows out for one;"
        " give --val FILE or a --val-split above 0, or leave --early-stopping out"
    )
    with pytest.raises(DataOptionError) as caught:
        FitOptions(data="train.h5", val_split=0.0, early_stopping=3)
    assert str(caught.value) == line
    (tmp_path / "train.h5").write_bytes(b"")  # refused before the file is read
    run = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["fit", str(tmp_path / "train.h5"), "--val-split", "0", "--early-stopping", "3", "--run-dir", str(run)]
    )
    assert result.exit_code == 2 and result.stderr == f"error: {line}\n" and not run.exists()
    for given in ({"val_split": 0.0, "early_stopping": 0}, {"early_stopping": 3}, {"val": "val.h5", "early_stopping": 3}):
        assert FitOptions(data="train.h5", **given).early_stopping == given["early_stopping"]
    # A run recorded before the refusal trained without early stopping, and resumes so.
    saved = FitOptions.from_json({"data": "train.h5", "missing": "mean", "val_split": 0.0, "early_stopping": 3})
    assert saved.early_stopping == 0


@pytest.mark.parametrize("normalize", ["unit", "none"])
@pytest.mark.parametrize("missing", ["zero", "error", "mean"])
def test_missing_with_a_normalize_that_fills_nothing_is_refused_rather_than_left_unused(tmp_path, normalize, missing):
    """Only --normalize standard fills missing values: given beside unit or none, --missing would do nothing."""
    from csv2h5.trainer.cli import app
    from typer.testing import CliRunner

    line = (
        f"--missing {missing} does nothing with --normalize {normalize}, which fills no missing value (NaN);"
        " pass --normalize standard to fill them, or leave --missing out"
    )
    if missing != "mean":  # mean is the default: from Python, FitOptions cannot tell it was asked for
        with pytest.raises(DataOptionError) as caught:
            FitOptions(data="train.h5", normalize=normalize, missing=missing)
        assert str(caught.value) == line
    (tmp_path / "train.h5").write_bytes(b"")  # refused before the file is read
    run = tmp_path / "run"
    args = ["fit", str(tmp_path / "train.h5"), "--normalize", normalize, "--missing", missing, "--run-dir", str(run)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and result.stderr == f"error: {line}\n" and not run.exists()
    assert FitOptions(data="train.h5", normalize=normalize).missing == "mean"  # left at its default: fine
    assert FitOptions(data="train.h5", normalize="standard", missing=missing).missing == missing
    # A run recorded before the refusal trained without filling, and resumes so.
    saved = FitOptions.from_json({"data": "train.h5", "missing": missing, "normalize": normalize})
    assert saved.missing == "mean" and saved.normalize == normalize


@pytest.mark.parametrize(
    "done, before, nothing, start",
    [
        (1, 0, None, "trained 1 epoch in 2.0 s;"),
        (3, 0, None, "trained 3 epochs in 2.0 s;"),
        (2, 1, None, "trained 1 more epoch (2 in all) in 2.0 s;"),  # a resume: what it added, and the run's total
        (5, 2, None, "trained 3 more epochs (5 in all) in 2.0 s;"),
        (3, 3, "why", "nothing to train: why;"),
    ],
)
def test_the_summary_line_counts_epochs_in_words(done, before, nothing, start):
    from pathlib import Path

    from csv2h5.trainer.fit import FitResult

    result = FitResult(Path("run"), done, 1, 0.5, "val_loss", 2.0, False, "abc", nothing=nothing, epochs_before=before)
    assert result.summary().startswith(start)
    assert result.summary().endswith("best val_loss 0.5000 at epoch 1; weights abc; run directory run")


@pytest.mark.parametrize(
    "done, best, epochs, patience, why",
    [
        (3, 1, 3, 10, "the run has done the 3 epochs --epochs asks for (pass --epochs 4 or more to train on)"),
        (7, 4, 50, 3, "the run stopped early: no better val_loss in the 3 epochs after epoch 4 (--early-stopping 3)"),
        (6, 4, 50, 3, None),  # one more epoch may still beat epoch 4
        (7, 4, 50, 0, None),  # no early stopping
        (7, None, 50, 3, None),  # no validation metric recorded
    ],
)
def test_a_resume_trains_nothing_only_when_it_is_done_or_stopped_early(done, best, epochs, patience, why):
    from csv2h5.trainer.fit import _nothing_to_train

    options = FitOptions(data="d.h5", epochs=epochs, early_stopping=patience)
    said = _nothing_to_train({"epochs_done": done, "best_epoch": best}, options, "val_loss")
    assert said == why if why is None else said.startswith(why)
