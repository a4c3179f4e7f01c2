"""evaluate and predict refuse data whose columns or classes mean other things than in training,
and recode its categorical columns by their values.

A file converted on its own codes its text columns and its classes in the order
it first saw them, so the same CSV rows in another order give other codes, and
a model fed them as they are would answer without complaint, wrongly. The oracles here are
pandas' first-seen order of the CSV text and the model's own predictions on the
same rows as the training file coded them.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from csv2h5 import ConvertOptions, convert

COLUMNS = ["x1", "x2", "color", "label"]
OPTIONS = ConvertOptions(target=("label",), categorical=("color",))


def _table(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=(2, rows)).round(4)
    color = rng.choice(["red", "green", "blue"], rows)
    label = np.where(x1 + (color == "red") - 0.5 * (color == "blue") > 0.2, "cat", "dog")
    return pd.DataFrame({"x1": x1, "x2": x2, "color": color, "label": label})


def _write(frame: pd.DataFrame, path, options: ConvertOptions = OPTIONS):
    frame.to_csv(path.with_suffix(".csv"), index=False)
    convert([path.with_suffix(".csv")], path, options=options)
    return path


def _h5train(*args: object):
    from csv2h5.trainer.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run trained on the table, and the same rows reordered so their first-seen orders differ."""
    work = tmp_path_factory.mktemp("like_training")
    frame = _table()
    train = _write(frame, work / "train.h5")
    run = work / "run"
    result = _h5train(
        "fit", train, "--run-dir", run, "--epochs", "2", "--hidden", "8", "--batch-size", "32", "--progress", "none"
    )
    assert result.exit_code == 0, result.stderr
    reversed_rows = frame.iloc[::-1].reset_index(drop=True)
    assert list(pd.unique(reversed_rows["color"])) != list(pd.unique(frame["color"]))  # the premise
    # Rows of the second class only, one of each colour first in training's order: converted
    # alone, the colours get training's codes and the one class gets code 0.
    second = frame[frame["label"] == sorted(set(frame["label"]))[1]]
    leaders = [second.index[second["color"] == c][0] for c in pd.unique(frame["color"])]
    second = pd.concat([second.loc[leaders], second.drop(index=leaders)])
    assert list(pd.unique(second["color"])) == list(pd.unique(frame["color"]))
    return {
        "work": work,
        "frame": frame,
        "train": train,
        "run": run,
        "reversed": reversed_rows,
        "second": second,
    }  # keeps the training rows' index


def _predicted(path) -> list[str]:
    with open(path, newline="") as fh:
        return [row["label"] for row in csv.DictReader(fh)]


def _one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_rows_coded_otherwise_are_recoded_by_label_as_like_codes_them(trained, tmp_path):
    alone = _write(trained["reversed"], tmp_path / "alone.h5")
    like = _write(trained["reversed"], tmp_path / "like.h5", ConvertOptions(like=str(trained["train"])))
    for name, data in (("train", trained["train"]), ("like", like), ("alone", alone)):
        result = _h5train("predict", trained["run"], data, "-o", tmp_path / f"predicted_{name}.csv")
        assert result.exit_code == 0 and "warning" not in result.stderr, result.stderr
    # The same rows get the same answers (in reverse row order), coded by --like or recoded on read.
    assert _predicted(tmp_path / "predicted_like.csv") == _predicted(tmp_path / "predicted_train.csv")[::-1]
    assert _predicted(tmp_path / "predicted_alone.csv") == _predicted(tmp_path / "predicted_like.csv")
    metrics = {}
    for name, data in (("like", like), ("alone", alone)):
        result = _h5train("evaluate", trained["run"], data, "--json")
        assert result.exit_code == 0, result.stderr
        metrics[name] = json.loads(result.stdout)
    assert metrics["alone"] == pytest.approx(metrics["like"])


def test_values_new_to_training_are_recoded_after_the_known_ones_with_a_warning(trained, tmp_path):
    frame = trained["reversed"].copy()
    frame.loc[::50, "color"] = "purple"
    frame.loc[1, "color"] = "teal"
    alone = _write(frame, tmp_path / "alone.h5")
    like = _write(frame, tmp_path / "like.h5", ConvertOptions(like=str(trained["train"])))
    for name, data in (("like", like), ("alone", alone)):
        result = _h5train("predict", trained["run"], data, "-o", tmp_path / f"predicted_{name}.csv", "--probabilities")
        assert result.exit_code == 0, result.stderr
        warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
        unseen = ", ".join(map(repr, pd.unique(frame["color"][~frame["color"].isin(["red", "green", "blue"])])))
        assert warning == [
            f"warning: {data} holds 2 categorical values the training data did not ('color': {unseen});"
            " the model knows nothing of them"
        ]
    alone_p, like_p = (pd.read_csv(tmp_path / f"predicted_{name}.csv") for name in ("alone", "like"))
    pd.testing.assert_frame_equal(alone_p, like_p)


def test_classes_coded_otherwise_are_refused_for_evaluation_only(trained, tmp_path):
    second = _write(trained["second"], tmp_path / "second.h5")
    line = _one_line_error(_h5train("evaluate", trained["run"], second))
    assert "codes its classes otherwise than the training data (class 0 is 'dog' here, 'cat' in training)" in line
    # predict answers with the training run's classes and never reads the file's target.
    for name, data in (("train", trained["train"]), ("second", second)):
        assert _h5train("predict", trained["run"], data, "-o", tmp_path / f"predicted_{name}.csv").exit_code == 0
    rows = trained["second"].index  # the training rows they are
    assert _predicted(tmp_path / "predicted_second.csv") == [_predicted(tmp_path / "predicted_train.csv")[i] for i in rows]
    like = _write(trained["second"], tmp_path / "like.h5", ConvertOptions(like=str(trained["train"])))
    result = _h5train("evaluate", trained["run"], like, "--json")
    assert result.exit_code == 0, result.stderr


def test_other_columns_and_unknown_classes_are_refused(trained, tmp_path):
    swapped = trained["frame"][["x2", "x1", "color", "label"]]
    line = _one_line_error(
        _h5train("predict", trained["run"], _write(swapped, tmp_path / "swapped.h5"), "-o", tmp_path / "p.csv")
    )
    assert "other feature columns" in line and "column 1 is 'x2', in training 'x1'" in line

    numbers = trained["frame"].assign(color=trained["frame"]["color"].map({"red": 1, "green": 2, "blue": 3}))
    line = _one_line_error(
        _h5train("evaluate", trained["run"], _write(numbers, tmp_path / "numbers.h5", ConvertOptions(target=("label",))))
    )
    assert "holds column 'color' as numbers, unlike the training data" in line

    bird = trained["frame"].copy()
    bird.loc[:9, "label"] = "bird"
    line = _one_line_error(
        _h5train("evaluate", trained["run"], _write(bird, tmp_path / "bird.h5", ConvertOptions(like=str(trained["train"]))))
    )
    assert "has classes the model was not trained on ('bird')" in line
    assert "--like" not in line and "leave their rows out" in line  # converted --like already: no use saying it


def test_a_value_new_to_training_gets_a_code_after_the_known_ones(trained, tmp_path):
    frame = trained["frame"].copy()
    frame.loc[::7, "color"] = "purple"
    data = _write(frame, tmp_path / "purple.h5", ConvertOptions(like=str(trained["train"])))
    result = _h5train("predict", trained["run"], data, "-o", tmp_path / "p.csv")
    assert result.exit_code == 0, result.stderr
    assert len(_predicted(tmp_path / "p.csv")) == len(frame)


def test_a_validation_file_coded_otherwise_is_refused_by_fit(trained, tmp_path):
    alone = _write(trained["reversed"], tmp_path / "alone.h5")  # its colours coded in another order
    run = tmp_path / "run"
    args = ["--run-dir", run, "--epochs", "1", "--hidden", "8", "--batch-size", "32", "--progress", "none"]
    line = _one_line_error(_h5train("fit", trained["train"], "--val", alone, *args))
    assert "codes column 'color' otherwise than the training data" in line
    assert f"--like {trained['train'].resolve()}" in line and not run.exists()

    like = _write(trained["reversed"], tmp_path / "like.h5", ConvertOptions(like=str(trained["train"])))
    result = _h5train("fit", trained["train"], "--val", like, *args)  # the advice, followed
    assert result.exit_code == 0, result.stderr


def test_a_validation_file_whose_class_codes_mean_other_classes_is_refused_by_fit_with_the_cure(trained, tmp_path):
    second = _write(trained["second"], tmp_path / "second.h5")  # the second class only, coded 0 on its own
    run = tmp_path / "run"
    args = ["--run-dir", run, "--epochs", "1", "--hidden", "8", "--batch-size", "32", "--progress", "none"]
    line = _one_line_error(_h5train("fit", trained["train"], "--val", second, *args))
    assert line.startswith(f"error: --val {second} codes its classes otherwise than the training data")
    assert "(class 0 is 'dog' here, 'cat' in training)" in line and line.endswith(f"--like {trained['train'].resolve()}")
    assert not run.exists()
    like = _write(trained["second"], tmp_path / "like.h5", ConvertOptions(like=str(trained["train"])))
    bird = trained["frame"].copy()
    bird.loc[:9, "label"] = "bird"
    bird = _write(bird, tmp_path / "bird.h5", ConvertOptions(like=str(trained["train"])))
    line = _one_line_error(_h5train("fit", trained["train"], "--val", bird, *args))
    assert "has classes the model was not trained on ('bird')" in line
    assert "--like" not in line and "leave their rows out" in line  # converted --like already: no use saying it
    result = _h5train("fit", trained["train"], "--val", like, *args)  # the advice, followed
    assert result.exit_code == 0, result.stderr


def test_a_validation_file_of_the_first_classes_only_is_taken_by_fit_as_by_evaluate(trained, tmp_path):
    """Its class codes mean what they meant in training, so it scores as the same rows converted --like it."""
    frame = trained["frame"]
    first = frame[frame["label"] == sorted(set(frame["label"]))[0]]  # the first class only: code 0 either way
    leaders = [first.index[first["color"] == c][0] for c in pd.unique(frame["color"])]  # colours coded as in training
    first = pd.concat([first.loc[leaders], first.drop(index=leaders)])
    alone = _write(first, tmp_path / "alone.h5")
    like = _write(first, tmp_path / "like.h5", ConvertOptions(like=str(trained["train"])))
    args = ["--epochs", "1", "--hidden", "8", "--batch-size", "32", "--progress", "none"]
    for flags in ([], ["--one-hot"]):  # one-hot targets are as wide as the training data's classes
        scores = {}
        for name, val in (("alone", alone), ("like", like)):
            run = tmp_path / f"run_{name}_{len(flags)}"
            result = _h5train("fit", trained["train"], "--val", val, "--run-dir", run, *flags, *args)
            assert result.exit_code == 0, result.stderr
            with open(run / "history.csv", newline="") as fh:
                history = [(row["val_loss"], row["val_accuracy"]) for row in csv.DictReader(fh)]
            evaluated = _h5train("evaluate", run, val, "--json")
            assert evaluated.exit_code == 0, evaluated.stderr
            scores[name] = history, json.loads(evaluated.stdout)
        assert scores["alone"] == scores["like"]


def test_predict_to_a_directory_names_a_file_to_write_and_overwrite_is_no_cure(trained, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    for extra in ([], ["--overwrite"]):
        line = _one_line_error(_h5train("predict", trained["run"], trained["train"], "-o", folder, *extra))
        assert line == f"error: {folder} is a directory; name the file to write, e.g. -o {folder / 'predictions.csv'}"
    result = _h5train("predict", trained["run"], trained["train"], "-o", folder / "predictions.csv")  # the advice, followed
    assert result.exit_code == 0, result.stderr
    assert len(_predicted(folder / "predictions.csv")) == len(trained["frame"])


def test_probabilities_of_a_regression_model_are_refused_not_ignored(trained, tmp_path):
    frame = trained["frame"].assign(label=trained["frame"]["x1"] * 2.0 + 1.0)  # a number to predict
    data = _write(frame, tmp_path / "level.h5")
    run = tmp_path / "run"
    args = ["--run-dir", run, "--epochs", "1", "--hidden", "8", "--progress", "none"]
    assert _h5train("fit", data, *args).exit_code == 0
    out = tmp_path / "p.csv"
    line = _one_line_error(_h5train("predict", run, data, "-o", out, "--probabilities"))
    assert "--probabilities is for classification" in line and "regression" in line and not out.exists()
    assert _h5train("predict", run, data, "-o", out).exit_code == 0  # without it: the numbers
    with open(out, newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(frame)


@pytest.mark.parametrize("fraction, side, advice", [("0.999", "training", "a smaller"), ("0.001", "validation", "a larger")])
def test_a_val_split_that_empties_a_side_is_named_as_the_option_and_which_side(trained, tmp_path, fraction, side, advice):
    run = tmp_path / "run"
    line = _one_line_error(_h5train("fit", trained["train"], "--val-split", fraction, "--run-dir", run, "--epochs", "1"))
    rows = len(trained["frame"])
    assert (
        line == f"error: --val-split {fraction} of {rows} rows leaves no row for {side}; pass {advice} fraction, or use more data"
    )
    assert not run.exists()


@pytest.mark.parametrize("flags", [["--one-hot"], ["--class-weight", "balanced"]])
def test_classification_options_on_a_regression_file_are_named_as_given(trained, tmp_path, flags):
    data = _write(trained["frame"].assign(label=trained["frame"]["x1"] * 2.0), tmp_path / "level.h5")
    run = tmp_path / "run"
    line = _one_line_error(_h5train("fit", data, *flags, "--run-dir", run, "--epochs", "1"))
    assert line == f"error: {' '.join(flags)} needs a classification target; {data} has regression"
    assert not run.exists()


@pytest.mark.parametrize(
    "units, activation, loss",
    [
        (2, "softmax", "categorical_crossentropy"),  # one-hot targets of 3 classes would not fit its output
        (2, "softmax", "sparse_categorical_crossentropy"),  # code 2 would be scored without a word
        (1, "sigmoid", "binary_crossentropy"),
    ],
)
def test_a_bare_model_file_refuses_data_of_more_classes_than_its_output_in_one_line(trained, tmp_path, units, activation, loss):
    """Without its run directory nothing records the model's classes: its output's width still bounds them."""
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, activation=activation)])
    model.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
    bare = tmp_path / "bare.keras"
    model.save(bare)
    frame = trained["frame"]
    bird = frame.copy()
    bird.loc[:9, "label"] = "bird"
    bird = _write(bird, tmp_path / "bird.h5", ConvertOptions(like=str(trained["train"])))  # cat, dog, then bird
    line = _one_line_error(_h5train("evaluate", bare, bird))
    assert line == (
        f"error: {bird} has 3 classes, but the model scores only 2: those past the first 2 ('bird') are not the"
        " model's; leave their rows out of the data, or evaluate a model trained on data that holds them"
    )
    first = frame[frame["label"] == sorted(set(frame["label"]))[0]]  # one class: fewer than the model scores
    for data in (trained["train"], _write(first, tmp_path / "first.h5", ConvertOptions(like=str(trained["train"])))):
        result = _h5train("evaluate", bare, data, "--json")
        assert result.exit_code == 0, result.stderr
        assert 0 <= json.loads(result.stdout)["accuracy"] <= 1


@pytest.mark.parametrize(
    "units, activation, loss", [(2, "softmax", "sparse_categorical_crossentropy"), (1, "sigmoid", "binary_crossentropy")]
)
def test_predict_with_a_bare_model_file_writes_class_codes_named_as_codes(trained, tmp_path, units, activation, loss):
    """A bare .keras file records no labels, and nothing says a data file's classes are the model's, in its order
    (a file converted on its own may hold others, or the same in another order): predict writes the class codes,
    under a column that says so, never a label that may be another class's."""
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, activation=activation)])
    model.compile(optimizer="sgd", loss=loss)
    kernel = np.zeros((3, units), dtype=np.float32)
    kernel[0] = [-5.0, 5.0] if units == 2 else [10.0]  # p(code 1) = sigmoid(10 * x1) either way
    model.layers[-1].set_weights([kernel, np.zeros(units, dtype=np.float32)])
    bare = tmp_path / "bare.keras"
    model.save(bare)
    frame = trained["frame"]
    x1 = frame["x1"].to_numpy(np.float32).astype(np.float64)
    bird = frame.copy()
    bird.loc[:9, "label"] = "bird"  # converted alone: bird, cat, dog, so code 1 is cat here, dog in training
    unlabelled = _write(frame.drop(columns="label"), tmp_path / "unlabelled.h5", ConvertOptions(categorical=("color",)))
    for data in (trained["train"], _write(bird, tmp_path / "bird.h5"), unlabelled):
        out = tmp_path / f"p_{data.stem}.csv"
        result = _h5train("predict", bare, data, "-o", out)
        assert result.exit_code == 0, result.stderr
        written = pd.read_csv(out)
        assert list(written) == ["row", "label_code" if data != unlabelled else "prediction_code"]
        assert written.iloc[:, 1].tolist() == (x1 > 0).astype(int).tolist()
    result = _h5train("predict", bare, trained["train"], "-o", tmp_path / "probs.csv", "--probabilities")
    assert result.exit_code == 0, result.stderr
    probs = pd.read_csv(tmp_path / "probs.csv")
    dog = 1 / (1 + np.exp(-10.0 * x1))
    assert list(probs) == ["row", "p_code_0", "p_code_1"]
    np.testing.assert_allclose(probs[["p_code_0", "p_code_1"]].to_numpy(), np.stack([1 - dog, dog], axis=1), atol=1e-5)
    labelled = tmp_path / "labelled.csv"  # the run directory records the labels
    assert _h5train("predict", trained["run"], trained["train"], "-o", labelled).exit_code == 0
    assert list(pd.read_csv(labelled)) == ["row", "label"]


def test_predict_with_a_bare_regression_model_writes_numbers_whatever_the_file_holds(trained, tmp_path):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])  # three numbers a row, on mse
    model.compile(optimizer="sgd", loss="mse")
    model.layers[-1].set_weights([np.eye(3, dtype=np.float32), np.zeros(3, dtype=np.float32)])
    model.save(tmp_path / "bare.keras")
    out = tmp_path / "p.csv"
    result = _h5train("predict", tmp_path / "bare.keras", trained["train"], "-o", out)  # a file of 2 classes
    assert result.exit_code == 0, result.stderr
    written = pd.read_csv(out)
    assert list(written) == ["row", "prediction_0", "prediction_1", "prediction_2"]
    assert len(written) == len(trained["frame"])


def test_predict_to_dash_writes_the_csv_alone_to_standard_output(trained, tmp_path, monkeypatch):
    """-o - is standard output, as csv2h5 reads - as standard input: the CSV there, h5train's own line on stderr."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "p.csv"
    assert _h5train("predict", trained["run"], trained["train"], "-o", out).exit_code == 0
    result = _h5train("predict", trained["run"], trained["train"], "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == out.read_text()  # the same CSV, byte for byte, and nothing else
    assert len(_predicted(out)) == len(trained["frame"])
    assert result.stderr == f"wrote {len(trained['frame'])} predictions to standard output\n"
    assert list(tmp_path.iterdir()) == [out]  # no file named -
