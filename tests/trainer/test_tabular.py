"""Real tables train right: empty cells, categories, booleans and dates reach the model as something it can use."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from backends import on_backend
from csv2h5.trainer import HDF5Sequence
from csv2h5.trainer.errors import DataOptionError
from csv2h5.trainer.fileinfo import open_info
from csv2h5.trainer.models import OutputSpec, build_model
from csv2h5.trainer.preprocess import ONE_HOT_MAX, TabularEncoding

from csv2h5 import ConvertOptions, convert

CITIES = 7  # a small vocabulary: one-hot
SHOPS = 45  # more than ONE_HOT_MAX: embedded


def _table(rows: int, seed: int) -> pd.DataFrame:
    """A learnable table: numbers with empty cells, two text categories, a boolean, a date; label yes/no."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 12, rows)
    income = rng.lognormal(10, 0.5, rows)
    city = rng.integers(0, CITIES, rows)
    shop = rng.integers(0, SHOPS, rows)
    member = rng.random(rows) < 0.4
    day = rng.integers(0, 1000, rows)
    effect = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, -1.5, 1.5])[city]
    logit = 0.1 * (age - 40) + effect + 1.5 * member + 0.002 * (day - 500)
    label = np.where(rng.random(rows) < 1 / (1 + np.exp(-2 * logit)), "yes", "no")
    frame = pd.DataFrame(
        {
            "age": age.round(1),
            "income": income.round(2),
            "city": [f"city{c}" for c in city],
            "shop": [f"shop{s}" for s in shop],
            "member": member,
            "since": (pd.Timestamp("2021-01-01") + pd.to_timedelta(day, unit="D")).strftime("%Y-%m-%d"),
            "label": label,
        }
    )
    for column in ("age", "income", "city"):
        frame[column] = frame[column].astype(object)
        frame.loc[rng.random(rows) < 0.15, column] = np.nan
    frame.loc[0, "shop"] = "shop0"  # every shop appears in the training part
    return frame


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> dict[str, object]:
    work = tmp_path_factory.mktemp("tabular")
    frame = _table(1200, 3)
    train, test = frame.iloc[:900], frame.iloc[900:]
    train.to_csv(work / "train.csv", index=False)
    test.to_csv(work / "test.csv", index=False)
    convert(
        [work / "train.csv"],
        work / "train.h5",
        options=ConvertOptions(target=("label",), categorical=("auto",), datetime=("since",)),
    )
    convert([work / "test.csv"], work / "test.h5", options=ConvertOptions(like=str(work / "train.h5")))
    return {
        "work": work,
        "train": work / "train.h5",
        "test": work / "test.h5",
        "frame": frame,
        "train_frame": train,
        "test_frame": test,
    }


def _h5train(*args: object) -> tuple[int, str, str]:
    return on_backend("jax", "backends:h5train", *map(str, args))


def _history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_table_with_empty_cells_trains_to_a_finite_loss_and_beats_the_majority(table, tmp_path):
    run = tmp_path / "run"
    code, out, err = _h5train("fit", table["train"], "--run-dir", run, "--epochs", "15", "--progress", "none")
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith("trained ")
    assert all(np.isfinite(float(r["loss"])) for r in _history(run))
    code, out, err = _h5train("evaluate", run, table["test"], "--json")
    assert code == 0, err
    scored = json.loads(out)
    labels = table["test_frame"]["label"]
    majority = float((labels == table["train_frame"]["label"].value_counts().idxmax()).mean())
    assert np.isfinite(scored["loss"])
    assert scored["accuracy"] >= majority + 0.10, (scored, majority)
    # predict takes the raw converted rows (empty cells, a code new to nothing) and answers every row
    code, out, err = _h5train("predict", run, table["test"], "-o", tmp_path / "p.csv")
    assert code == 0, err
    predicted = pd.read_csv(tmp_path / "p.csv")
    assert len(predicted) == len(labels) and set(predicted["label"]) <= {"yes", "no"}
    assert predicted["label"].nunique() == 2  # not one class for every row


def test_a_nan_loss_stops_fit_with_exit_2_and_names_the_columns(table, tmp_path):
    # --normalize none leaves the empty cells NaN: the loss is NaN from the first step
    code, out, err = _h5train(
        "fit", table["train"], "--run-dir", tmp_path / "run", "--normalize", "none", "--epochs", "3", "--progress", "none"
    )
    assert code == 2, (out, err)
    assert "trained" not in out
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "loss became NaN" in lines[0]
    counts = table["train_frame"].isna().sum()  # the oracle: pandas' count of empty cells per column
    for column in ("age", "income", "city"):
        assert f"{column} ({counts[column]:,} NaN)" in lines[0]
    assert "member" not in lines[0] and "shop" not in lines[0]


def test_missing_error_refuses_a_table_with_empty_cells(table, tmp_path):
    code, out, err = _h5train("fit", table["train"], "--run-dir", tmp_path / "run", "--missing", "error", "--progress", "none")
    assert code == 2 and "age" in err and "--missing mean" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("normalize", ["standard", "none"])
def test_infinite_values_are_refused_before_training(tmp_path, normalize):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200).round(3), "b": rng.normal(size=200).round(3)})
    frame["label"] = np.where(frame.a + frame.b > 0, "yes", "no")
    frame[["a", "b"]] = frame[["a", "b"]].astype(object)
    frame.loc[17, "a"] = "inf"  # float() and pandas read it as infinity; so does csv2h5
    frame.loc[30, "b"] = "-1e400"
    frame.to_csv(tmp_path / "inf.csv", index=False)
    convert([tmp_path / "inf.csv"], tmp_path / "inf.h5", options=ConvertOptions(target=("label",)))
    run = tmp_path / "run"
    code, out, err = _h5train("fit", tmp_path / "inf.h5", "--run-dir", run, "--normalize", normalize, "--progress", "none")
    assert code == 2, (out, err)
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "columns a (max inf), b (min -inf) hold infinite values" in lines[0], err
    assert "trained" not in out and not run.exists()


def test_an_infinite_regression_target_is_refused_before_training(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=200).round(3), "b": rng.normal(size=200).round(3)})
    frame["y"] = (frame.a - frame.b).round(3).astype(object)
    frame.loc[42, "y"] = "-inf"  # float() and pandas read it as minus infinity; the file stores it so
    frame.to_csv(tmp_path / "y.csv", index=False)
    convert([tmp_path / "y.csv"], tmp_path / "y.h5", options=ConvertOptions(target=("y",)))
    run = tmp_path / "run"
    code, out, err = _h5train("fit", tmp_path / "y.h5", "--run-dir", run, "--val-split", "0", "--progress", "none")
    assert code == 2, (out, err)
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "target 'y' is -inf in row 42 of the file" in lines[0], err
    assert "trained" not in out and not run.exists()
    with pytest.raises(DataOptionError, match=r"target 'y' is -inf in row 42"):
        HDF5Sequence(tmp_path / "y.h5", training=True)
    HDF5Sequence(tmp_path / "y.h5", indices=np.delete(np.arange(200), 42), training=True)  # the other rows train


def test_val_split_0_trains_without_validation(table, tmp_path):
    run = tmp_path / "run"
    code, out, err = _h5train("fit", table["train"], "--run-dir", run, "--val-split", "0", "--epochs", "2", "--progress", "none")
    assert code == 0, err
    assert all(not key.startswith("val_") for key in _history(run)[0])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["monitor"] == "loss"  # the training loss: nothing held out
    config = json.loads((run / "config.json").read_text())
    assert config["options"]["val_split"] == 0.0 and config["options"]["early_stopping"] == 0


def test_categorical_columns_give_k_inputs_or_an_embedding_of_k_rows(table):
    info = open_info(table["train"])
    model = build_model("auto", info, OutputSpec.for_file(info))
    encoding = next(layer for layer in model.layers if isinstance(layer, TabularEncoding))
    frame = table["train_frame"]
    cities, shops = frame["city"].nunique(), frame["shop"].nunique()  # the oracle: pandas' distinct values
    assert cities == CITIES <= ONE_HOT_MAX < shops == SHOPS
    assert encoding.one_hot == [[info.columns.index("city"), cities]]
    assert [(c, k) for c, k, _ in encoding.embed] == [(info.columns.index("shop"), shops)]
    assert encoding.tables[0].shape[0] == shops + 1  # the last row: a value unknown to training
    numbers = ["age", "income", "member", "since"]
    with_nan = [c for c in frame.columns if c != "label" and frame[c].isna().any()]
    assert encoding.output_width == len(numbers) + len(with_nan) + cities + encoding.embed[0][2]
    # the one-hot columns are pandas' dummies of the city, in vocabulary order; an empty cell is all zeros
    raw = HDF5Sequence(table["train"], batch_size=900, shuffle=False, scale=None, missing=None)[0][0]
    encoded = np.asarray(encoding(raw))
    start = len(numbers) + len(with_nan)
    vocabulary = info.vocabularies["city"]
    dummies = pd.get_dummies(frame["city"]).reindex(columns=vocabulary).to_numpy(dtype=np.float32)
    assert np.array_equal(encoded[:, start : start + cities], dummies)


def test_the_tabular_model_holds_logistic_regression_on_the_encoded_columns(table):
    info = open_info(table["train"])
    model = build_model("auto", info, OutputSpec.for_file(info))
    encoding = next(layer for layer in model.layers if isinstance(layer, TabularEncoding))
    body = model.layers[-1]
    raw = HDF5Sequence(table["train"], batch_size=64, shuffle=False, scale=None, missing=None)[0][0]
    encoded = np.asarray(encoding(raw), dtype=np.float64)
    # the MLP's logits silenced: what remains must be softmax(z @ W + b), computed here by numpy
    deep = body.get_layer("deep_logits")
    deep.set_weights([np.zeros_like(w) for w in deep.get_weights()])
    rng = np.random.default_rng(0)
    weights = rng.normal(0, 0.5, (encoded.shape[1], len(info.classes)))
    bias = rng.normal(0, 0.5, len(info.classes))
    body.get_layer("wide_logits").set_weights([weights.astype(np.float32), bias.astype(np.float32)])
    logits = encoded @ weights + bias
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(model(raw)), expected, rtol=1e-4, atol=1e-5)


def test_hdf5sequence_standardises_and_fills_by_default_as_h5train_does(table):
    info = open_info(table["train"])
    x = HDF5Sequence(table["train"], batch_size=900, shuffle=False)[0][0]
    frame = table["train_frame"]
    for name in ("age", "income"):
        values = frame[name].astype(float).to_numpy()
        expected = (values - np.nanmean(values)) / np.nanstd(values)  # NaN left out, as /stats does
        expected[np.isnan(values)] = 0.0  # the training mean, once standardised
        np.testing.assert_allclose(x[:, info.columns.index(name)], expected, rtol=1e-4, atol=1e-4)
    assert np.array_equal(x[:, info.columns.index("member")], frame["member"].to_numpy(dtype=np.float32))
    codes = x[:, info.columns.index("city")]
    vocabulary = info.vocabularies["city"]
    expected_codes = frame["city"].map({v: i for i, v in enumerate(vocabulary)}).fillna(len(vocabulary))
    assert np.array_equal(codes, expected_codes.to_numpy(dtype=np.float32))  # codes, never standardised
    # the model's first layer, kept to the row's width, computes the same numbers from raw rows
    raw = HDF5Sequence(table["train"], batch_size=900, shuffle=False, scale=None, missing=None)[0][0]
    assert np.isnan(raw).any()
    same_width = build_model("mlp", info, OutputSpec.for_file(info))
    encoding = next(layer for layer in same_width.layers if isinstance(layer, TabularEncoding))
    np.testing.assert_allclose(np.asarray(encoding(raw)), x, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="age"):
        HDF5Sequence(table["train"], missing="error")


def test_digits_keep_their_accuracy_with_the_defaults(tmp_path):
    import make_digits_csv

    for name, rows, seed in (("train", 1500, 1), ("holdout", 400, 2)):
        make_digits_csv.write_csv(tmp_path / f"{name}.csv", rows=rows, seed=seed, label=True)
        convert(
            [tmp_path / f"{name}.csv"],
            tmp_path / f"{name}.h5",
            options=ConvertOptions(target=("label",), sample_shape=(28, 28, 1)),
        )
    run = tmp_path / "run"
    code, out, err = _h5train("fit", tmp_path / "train.h5", "--run-dir", run, "--epochs", "5", "--progress", "none")
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["kind"] == "mlp"  # image-shaped: the seed's network
    code, out, err = _h5train("evaluate", run, tmp_path / "holdout.h5", "--json")
    assert code == 0, err
    assert json.loads(out)["accuracy"] >= 0.9


@pytest.mark.parametrize("empty, verb", [("b", "holds"), ("a,b", "hold")])
def test_missing_error_names_one_column_or_several_in_agreeing_words(tmp_path, empty, verb):
    src = tmp_path / "m.csv"
    cells = {"a": "1" if "a" not in empty else "", "b": "2" if "b" not in empty else ""}
    src.write_text("a,b,y\n" + f"{cells['a']},{cells['b']},0\n" + "3,4,1\n")
    convert([src], tmp_path / "m.h5", options=ConvertOptions(target=("y",)))
    with pytest.raises(DataOptionError) as caught:
        HDF5Sequence(tmp_path / "m.h5", missing="error")
    assert f"(1 NaN) {verb} missing values (NaN)" in str(caught.value)


@pytest.mark.parametrize(
    "features,advice",
    [
        (784, "pass --sample-shape 28,28,1"),
        (3072, "pass --sample-shape 48,64,1"),  # 48 * 64 = 3072: the sides nearest a square
        (673, "no such shape holds the 673 features: use --model tabular or mlp"),  # a prime
        (12, "no such shape holds the 12 features"),  # 3 x 4 has a side under 4, which two poolings by 2 would empty
    ],
)
def test_the_cnns_sample_shape_advice_works_when_pasted(features, advice):
    from csv2h5.trainer.models import CNN_MIN_SIDE, _cnn_shape_advice

    got = _cnn_shape_advice(features)
    assert advice in got
    if "pass" in got:  # the shape it gives holds the features, with sides the cnn takes
        shape = [int(d) for d in got.split()[2].split(",")]
        assert np.prod(shape) == features and min(shape[:2]) >= CNN_MIN_SIDE


@pytest.mark.parametrize("holes, fill_fixes", [({"city"}, False), ({"age", "city"}, False), ({"age"}, True)])
def test_nan_errors_advise_fill_only_when_it_fills_every_column_with_nan(tmp_path, holes, fill_fixes):
    # --fill fills number columns only: a missing category stays NaN, so it is no fix for one
    from csv2h5.trainer.callbacks import NanGuard
    from csv2h5.trainer.preprocess import plan_columns

    frame = pd.DataFrame({"age": [30, 41, 52, 63] * 10, "city": ["a", "b", "b", "c"] * 10, "label": ["x", "y"] * 20})
    frame = frame.astype(object)
    for column in holes:
        frame.loc[[1, 5, 9], column] = ""
    frame.to_csv(tmp_path / "holes.csv", index=False)
    options = ConvertOptions(target=("label",), categorical=("city",))
    convert([tmp_path / "holes.csv"], tmp_path / "holes.h5", options=options)
    info = open_info(tmp_path / "holes.h5")
    with pytest.raises(DataOptionError) as refused:
        plan_columns(info, missing="error")
    messages = [str(refused.value), NanGuard(info, None).message("epoch 1, batch 1"), NanGuard(info, "mean").message("x")]
    for column in holes:
        assert f"{column} (3 NaN)" in messages[0]  # the three cells emptied above
    for message in messages:
        assert ("--fill VALUE" in message) is fill_fixes, message


def test_a_regression_target_far_from_zero_trains_in_its_own_units(tmp_path):
    # Prices of millions: an output layer that starts near 0 would need millions of steps to reach them.
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=2000), rng.normal(size=2000)
    price = (5e6 + 3e5 * x1 - 1e5 * x2 + rng.normal(scale=2e4, size=2000)).round(2)
    pd.DataFrame({"x1": x1.round(4), "x2": x2.round(4), "price": price}).to_csv(tmp_path / "reg.csv", index=False)
    convert([tmp_path / "reg.csv"], tmp_path / "reg.h5", options=ConvertOptions(target=("price",)))
    run = tmp_path / "run"
    code, out, err = _h5train("fit", tmp_path / "reg.h5", "--run-dir", run, "--epochs", "5", "--progress", "none")
    assert code == 0, err
    stored = open_info(tmp_path / "reg.h5").target.astype(np.float64)  # the targets as float32 stores them
    with zipfile.ZipFile(run / "model.keras") as saved:  # the saved model's own config, read without Keras
        layers = json.loads(saved.read("config.json"))["config"]["layers"]
    scale = next(layer["config"] for layer in layers if layer["config"].get("name") == "target_scale")
    np.testing.assert_allclose(np.ravel(_values(scale["offset"])), stored.mean(), rtol=1e-6)
    np.testing.assert_allclose(np.ravel(_values(scale["scale"])), stored.std(), rtol=1e-5)
    best_mae = min(float(row["val_mae"]) for row in _history(run))
    assert best_mae < 0.2 * np.mean(np.abs(price - price.mean()))  # far better than predicting the mean (numpy)
    code, out, err = _h5train("predict", run, tmp_path / "reg.h5", "-o", tmp_path / "p.csv")
    assert code == 0, err
    predicted = pd.read_csv(tmp_path / "p.csv")["price"].to_numpy()
    assert np.mean(np.abs(predicted - price)) < 0.2 * np.mean(np.abs(price - price.mean()))  # in the target's units


def _values(saved: object) -> np.ndarray:
    """A number or array as a .keras config holds it: plain, or Keras's serialised numpy array."""
    if isinstance(saved, dict):
        saved = saved.get("config", {}).get("value", saved)
    return np.asarray(saved, dtype=np.float64)
