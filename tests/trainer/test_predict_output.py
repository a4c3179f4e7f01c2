"""What ``predict`` and ``evaluate`` write, and what they refuse to write over.

Oracles: the bytes of the files predict must not touch, pandas' read of the CSV,
hand-made values and models whose weights are set by hand.
"""

from __future__ import annotations

import os
import shlex

import keras
import numpy as np
import pandas as pd
import pytest
from backends import h5train

from csv2h5 import ConvertOptions, convert
from csv2h5.cli import app as csv2h5_app


def _convert(frame: pd.DataFrame, path, **options):
    frame.to_csv(path.with_suffix(".csv"), index=False)
    convert([path.with_suffix(".csv")], path, options=ConvertOptions(**options))
    return path


def _one_line_error(code: int, err: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def _fit(data, run, *more) -> None:
    args = ["--run-dir", run, "--epochs", "1", "--hidden", "4", "--batch-size", "8", "--val-split", "0", "--progress", "none"]
    code, _, err = h5train("fit", data, *args, *more)
    assert code == 0, err


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    """A regression run on columns a, b, c."""
    work = tmp_path_factory.mktemp("predict_output")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(40, 3)).round(3), columns=["a", "b", "c"]).assign(y=lambda f: f["a"] + 2 * f["c"])
    train = _convert(frame, work / "train.h5", target=("y",))
    run = work / "run"
    _fit(train, run)
    return {"work": work, "frame": frame, "train": train, "run": run}


def _bare_linear(path, weight: float, features: int = 1):
    """A bare .keras model predicting ``weight * x`` (mean squared error): its answers are known by hand."""
    model = keras.Sequential([keras.Input((features,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.set_weights([np.full((features, 1), weight, np.float32), np.zeros(1, np.float32)])
    model.save(path)
    return path


# -- an output that is an input is refused (nothing is replaced) --------------------------------------------


def test_predict_refuses_to_write_over_what_it_reads(regression, tmp_path):
    run, train = regression["run"], regression["train"]
    kept = {p: p.read_bytes() for p in (train, run / "model.keras", run / "config.json")}
    (tmp_path / "data.csv").symlink_to(train)  # a CSV name that is the data file
    os.link(run / "model.keras", tmp_path / "model.csv")  # a hard link: another path, the same file
    for output, what in (
        (tmp_path / "data.csv", "the data"),
        (tmp_path / "model.csv", "the model"),
        (run / "config.json", "a file of the run"),
    ):
        line = _one_line_error(*h5train("predict", run, train, "-o", output, "--overwrite")[::2])
        assert line == f"error: {output} is also an input ({what}); write to another file"
    assert {p: p.read_bytes() for p in kept} == kept


def test_predict_refuses_to_write_over_a_part_of_a_glob(regression, tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    frame = regression["frame"]
    for k in range(2):
        _convert(frame.iloc[k * 20 : (k + 1) * 20], parts / f"p{k}.h5", target=("y",))
    kept = (parts / "p1.h5").read_bytes()
    (tmp_path / "out.csv").symlink_to(parts / "p1.h5")
    line = _one_line_error(*h5train("predict", regression["run"], parts / "*.h5", "-o", tmp_path / "out.csv", "--overwrite")[::2])
    assert "is also an input (the data)" in line
    assert (parts / "p1.h5").read_bytes() == kept


@pytest.mark.parametrize("name", ["preds.h5", "preds.hdf5", "preds.keras"])
def test_predict_refuses_an_output_named_as_no_csv(regression, tmp_path, name):
    line = _one_line_error(*h5train("predict", regression["run"], regression["train"], "-o", tmp_path / name)[::2])
    assert "predict writes CSV" in line and f"-o {tmp_path / 'preds.csv'}" in line
    assert not (tmp_path / name).exists()


# -- numbers as written ---------------------------------------------------------------------------------------


def test_float32_predictions_are_written_in_their_shortest_digits(tmp_path):
    values = [0.1, 1928.4039, -3.25, 1e-8, 1.2345e-20]
    data = _convert(pd.DataFrame({"x": values}), tmp_path / "x.h5")  # float64: the model's float32 rounds them
    model = _bare_linear(tmp_path / "identity.keras", 1.0)
    code, _, err = h5train("predict", model, data, "-o", tmp_path / "p.csv")
    assert code == 0, err
    text = (tmp_path / "p.csv").read_text().splitlines()
    assert text == ["row,prediction", "0,0.1", "1,1928.4039", "2,-3.25", "3,1e-08", "4,1.2345e-20"]
    read = pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy()
    assert np.array_equal(read.astype(np.float32), np.asarray(values, np.float32))  # each reads back to its float32


def test_probabilities_are_written_in_the_shortest_digits_that_read_back(tmp_path, make_data):
    path, _, _ = make_data(tmp_path, rows=30)
    run = tmp_path / "run"
    _fit(path, run)
    code, _, err = h5train("predict", run, path, "-o", tmp_path / "p.csv", "--probabilities")
    assert code == 0, err
    frame = pd.read_csv(tmp_path / "p.csv", dtype=str)
    cells = frame.drop(columns="row").to_numpy().ravel()
    for cell in cells:
        value = np.float32(cell)
        digits = cell.lower().split("e")[0].replace("-", "").replace(".", "").lstrip("0")
        assert len(digits) <= 9, cell  # a float32 never needs more than 9 significant digits
        assert np.float32(float(cell)) == value


def test_predictions_on_several_files_name_each_row_by_its_file_and_its_row_there(tmp_path):
    """Parts read as one: a ``file`` column and the row's number in that file, so each prediction leads back to
    its row (oracle: the parts' own CSVs, read by pandas, times the model's weight set by hand)."""
    parts = tmp_path / "parts"
    parts.mkdir()
    values = {"a.h5": [1.0, 2.0, 3.0], "b.h5": [4.0, 5.0], "c.h5": [6.0, 7.0, 8.0, 9.0]}
    for name, xs in values.items():
        _convert(pd.DataFrame({"x": xs}), parts / name, dtype="float32")
    model = _bare_linear(tmp_path / "double.keras", 2.0)
    code, _, err = h5train("predict", model, str(parts / "*.h5"), "-o", tmp_path / "p.csv", "--batch-size", "4")
    assert code == 0, err
    got = pd.read_csv(tmp_path / "p.csv")
    assert list(got.columns) == ["file", "row", "prediction"]
    for name in values:
        mine = got[got["file"].map(lambda f, name=name: os.path.basename(f) == name)]
        source = pd.read_csv((parts / name).with_suffix(".csv"))
        assert mine["row"].tolist() == list(range(len(source)))
        assert mine["prediction"].tolist() == (2 * source["x"]).tolist()

    one = _convert(pd.DataFrame({"x": [1.5]}), tmp_path / "one.h5", dtype="float32")
    code, _, err = h5train("predict", model, one, "-o", tmp_path / "q.csv")
    assert code == 0 and (tmp_path / "q.csv").read_text().splitlines() == ["row,prediction", "0,3.0"]


# -- predictions and metrics that are not finite --------------------------------------------------------------


def test_predict_warns_once_of_predictions_that_are_not_finite(tmp_path):
    data = _convert(pd.DataFrame({"x": [1.0, 3e38, 2.0, -3e38]}), tmp_path / "x.h5", dtype="float32")
    model = _bare_linear(tmp_path / "ten.keras", 10.0)
    code, out, err = h5train("predict", model, data, "-o", tmp_path / "p.csv")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: the predictions of 2 of 4 rows are not finite (inf or NaN), the first in row 1;"
        " their features may lie far outside the training data's"
    ]
    assert pd.read_csv(tmp_path / "p.csv")["prediction"].tolist() == [10.0, np.inf, 20.0, -np.inf]

    finite = _convert(pd.DataFrame({"x": [1.0, 2.0]}), tmp_path / "y.h5", dtype="float32")
    code, _, err = h5train("predict", model, finite, "-o", tmp_path / "q.csv")
    assert code == 0 and "warning" not in err, err


# -- a width that differs names the columns --------------------------------------------------------------------


def test_a_width_mismatch_names_the_columns_and_the_file_to_convert_like(regression, tmp_path):
    frame, run = regression["frame"], regression["run"]
    missing = _convert(frame.drop(columns="b"), tmp_path / "missing.h5", target=("y",))
    line = _one_line_error(*h5train("predict", run, missing, "-o", tmp_path / "p.csv")[::2])
    assert f"the model takes rows of 3 features but {missing} has 2 (missing 'b')" in line
    assert line.endswith(f"convert it with --like {regression['train'].resolve()}")

    extra = _convert(frame.assign(d=1.0, e=2.0), tmp_path / "extra.h5", target=("y",))
    line = _one_line_error(*h5train("evaluate", run, extra)[::2])
    assert f"{extra} has 5 (not in training 'd', 'e')" in line

    model = _bare_linear(tmp_path / "bare.keras", 1.0, features=3)  # no run: nothing names the columns
    line = _one_line_error(*h5train("predict", model, missing, "-o", tmp_path / "p.csv")[::2])
    assert line.endswith(f"{missing} has 2; use data converted like the training file")


# -- a run trained on parts read as one -------------------------------------------------------------------------


def _parts_run(tmp_path):
    """A run on three parts read as one; the third part codes its cities in another order and holds one class, b."""
    parts = tmp_path / "parts"
    parts.mkdir()
    cities = [["A", "B"] * 3, ["C", "C", "A", "C", "A", "C"], ["D", "B"] * 3]
    labels = ["abaabb", "ababab", "bbbbbb"]  # the united classes: a, b; the third part's own: b alone
    for k, (city, y) in enumerate(zip(cities, labels)):
        _convert(
            pd.DataFrame({"city": city, "x": range(6), "y": list(y)}),
            parts / f"p{k + 1}.h5",
            target=("y",),
            categorical=("city",),
        )
    run = tmp_path / "run"
    _fit(parts / "*.h5", run)
    assert h5train("predict", run, parts / "*.h5", "-o", tmp_path / "all.csv", "--probabilities")[0] == 0
    return parts, run, pd.read_csv(tmp_path / "all.csv").drop(columns=["file", "row"])  # rows 12.. are p3's


def test_a_part_of_the_training_files_is_recoded_to_the_codes_united_over_them(tmp_path):
    """The third part codes D as 0, the parts read as one as 3: predict recodes it by label."""
    parts, run, together = _parts_run(tmp_path)
    code, _, err = h5train("predict", run, parts / "p3.h5", "-o", tmp_path / "p3.csv", "--probabilities")
    assert code == 0 and "warning" not in err, err
    alone = pd.read_csv(tmp_path / "p3.csv").drop(columns="row")
    pd.testing.assert_frame_equal(alone, together.iloc[12:].reset_index(drop=True))  # the same rows, the same answers


def test_the_advice_for_a_run_trained_on_parts_is_followed_to_the_end(tmp_path, monkeypatch):
    """The first part does not hold the codes united over the parts: the advice is their merge, and it works."""
    parts, run, together = _parts_run(tmp_path)
    monkeypatch.chdir(tmp_path)  # the advice names merged.h5 in the working directory
    line = _one_line_error(*h5train("evaluate", run, parts / "p3.h5")[::2])
    assert "codes its classes otherwise than the training data (class 0 is 'b' here, 'a' in training)" in line
    merge = line.split("(csv2h5 merge ")[1].split(")")[0]
    assert merge.endswith("-o merged.h5") and "--like merged.h5" in line
    result = _invoke_csv2h5(["merge", *shlex.split(merge), "--quiet"])
    assert result.exit_code == 0, result.output
    like = tmp_path / "p3_like.h5"
    convert([parts / "p3.csv"], like, options=ConvertOptions(like=str(tmp_path / "merged.h5")))
    code, out, err = h5train("evaluate", run, like, "--json")
    assert code == 0, err
    assert h5train("predict", run, like, "-o", tmp_path / "p3.csv", "--probabilities")[0] == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "p3.csv").drop(columns="row"), together.iloc[12:].reset_index(drop=True))


def _invoke_csv2h5(args):
    from typer.testing import CliRunner

    return CliRunner().invoke(csv2h5_app, [str(a) for a in args])


def test_the_advice_names_the_merge_only_when_the_parts_hold_codes():
    from csv2h5.trainer.predict import like_advice

    parts = {"path": "/d/p1.h5", "parts": ["/d/p1.h5", "/d/p2.h5"]}
    assert like_advice({**parts, "vocabularies": {}, "classes": []}) == "convert it with --like /d/p1.h5"
    coded = like_advice({**parts, "vocabularies": {"city": ["A"]}, "classes": []})
    assert "csv2h5 merge /d/p1.h5 /d/p2.h5 -o merged.h5" in coded and coded.endswith("--like merged.h5")
    assert like_advice({"path": "/d/t.h5", "parts": [], "vocabularies": {"city": ["A"]}}) == "convert it with --like /d/t.h5"
