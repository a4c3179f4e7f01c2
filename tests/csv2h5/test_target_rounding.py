"""A regression target float32 rounds is stored with a warning: how many values, the first with its line."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import csv2h5.target
from csv2h5 import ConvertOptions, convert
from csv2h5.cli import app
from csv2h5.regression import rounded_in


def _rounded(v: float) -> bool:
    """The oracle: the value is neither its float32 nor a decimal of at most 6 significant digits (as features)."""
    return not np.isnan(v) and float(np.float32(v)) != v and float(f"{v:.6g}") != v


def _expected(csv, column: str, *, offset: int = 0) -> tuple[int, int, str, str]:
    """Pandas' reading: how many values float32 rounds, the first one's CSV line, as read and as stored."""
    values = pd.read_csv(csv)[column].to_numpy(dtype=np.float64)
    rows = [i for i, v in enumerate(values) if _rounded(v)]
    first = values[rows[0]] if rows else np.nan
    return (
        len(rows),
        rows[0] + 2 + offset if rows else 0,
        repr(float(first)),
        repr(float(np.float32(first))),  # the value float32 holds, every digit of it
    )


def _prices(path, n: int = 2000, seed: int = 0, *, text: bool = False) -> None:
    """Prices with cents around 5e6 (float32 rounds most), whole prices first and every 7th row."""
    r = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": r.normal(size=n).round(3), "price": (5e6 + 3e5 * r.normal(size=n)).round(2)})
    frame.loc[::7, "price"] = np.round(frame["price"][::7])  # whole numbers below 2**24: kept
    frame.loc[: n // 7, "price"] = frame.loc[: n // 7, "price"].round()  # the first rounded value is in a later block
    if text:
        frame["city"] = r.choice(["a", "b", "c"], size=n)  # a text column: read by the text path
    frame.to_csv(path, index=False)


def _rounding_warnings(report) -> list[str]:
    return [w for w in report.warnings if "float32 rounded" in w]


@pytest.mark.parametrize("workers", [0, 1, 2])
@pytest.mark.parametrize("block_bytes", [4 << 20, 2000])
@pytest.mark.parametrize("text", [False, True])
def test_the_count_and_first_example_match_pandas(tmp_path, workers, block_bytes, text) -> None:
    csv = tmp_path / "reg.csv"
    _prices(csv, text=text)
    count, line, written, stored = _expected(csv, "price")
    assert count > 1000 and line > 280
    categorical = ("city",) if text else ()
    options = ConvertOptions(target=("price",), workers=workers, block_bytes=block_bytes, categorical=categorical)
    report = convert(csv, tmp_path / "reg.h5", options=options)
    (warning,) = _rounding_warnings(report)
    assert warning == (
        f"target 'price': float32 rounded {count:,} of 2,000 values, the first at {csv}:{line}: {written} stored as"
        f" {stored}; a regression target is stored as float32, which keeps about 7 significant digits"
    )
    with h5py.File(tmp_path / "reg.h5") as f:
        assert f["target"].dtype == np.float32


def test_values_parser_processes_copy_are_counted_there(tmp_path, monkeypatch) -> None:
    csv = tmp_path / "big.csv"
    _prices(csv, n=40_000)
    count, line, written, stored = _expected(csv, "price")
    copied = []
    collector = csv2h5.target.TargetCollector
    monkeypatch.setattr(collector, "_copied", lambda self, *a, _c=collector._copied: copied.append(_c(self, *a)) or copied[-1])
    options = ConvertOptions(target=("price",), workers=2, block_bytes=1 << 16, infer_bytes=1 << 16)
    (warning,) = _rounding_warnings(convert(csv, tmp_path / "big.h5", options=options))
    assert any(copied)  # the values of those blocks never came to the main process
    assert f"rounded {count:,} of 40,000 values, the first at {csv}:{line}: {written} stored as {stored};" in warning


@pytest.mark.parametrize("workers", [0, 2])
def test_exact_targets_give_no_warning(tmp_path, workers) -> None:
    csv = tmp_path / "exact.csv"
    r = np.random.default_rng(1)
    n = 3000
    y = r.choice([0.5, 12.0, 1e6, 0.1, 3.14, 1.23456, -2.75, 16777216.0, 123456.0, 1.5e-7], size=n)
    pd.DataFrame({"x": r.normal(size=n).round(2), "y": y}).to_csv(csv, index=False)
    assert _expected(csv, "y")[0] == 0
    report = convert(csv, tmp_path / "exact.h5", options=ConvertOptions(target=("y",), workers=workers, block_bytes=3000))
    assert _rounding_warnings(report) == []


def test_classification_targets_give_no_warning(tmp_path) -> None:
    csv = tmp_path / "ids.csv"
    pd.DataFrame({"x": [1, 2, 3, 4], "y": [16777217, 16777219, 16777217, 16777219]}).to_csv(csv, index=False)
    report = convert(csv, tmp_path / "ids.h5", options=ConvertOptions(target=("y",)))
    assert report.task == "classification" and _rounding_warnings(report) == []


def test_one_warning_per_target_column(tmp_path) -> None:
    csv = tmp_path / "two.csv"
    pd.DataFrame({"x": [1, 2, 3], "a": [0.5, 123456.789, 2.0], "b": [1.5, 2.5, 3.5], "c": [1.0, 2.0, 16777217.0]}).to_csv(
        csv, index=False
    )
    report = convert(csv, tmp_path / "two.h5", options=ConvertOptions(target=("a", "b", "c"), workers=0))
    found = _rounding_warnings(report)
    assert [re.match(r"target '(\w)': float32 rounded 1 of 3 values", w).group(1) for w in found] == ["a", "c"]
    assert f"{csv}:3: 123456.789 stored as 123456.7890625" in found[0]  # 123456 + 101/128
    assert f"{csv}:4: 16777217.0 stored as 16777216.0" in found[1]


@pytest.mark.parametrize("workers", [0, 2])
def test_parts_and_append_count_their_rows(tmp_path, workers) -> None:
    exact, part = tmp_path / "a.csv", tmp_path / "b.csv"
    pd.DataFrame({"x": [1.0, 2.0], "price": [1.5, 2.25]}).to_csv(exact, index=False)
    _prices(part, n=500, seed=3)
    count, line, written, stored = _expected(part, "price")
    options = ConvertOptions(target=("price",), workers=workers, block_bytes=1000)
    (warning,) = _rounding_warnings(convert([exact, part], tmp_path / "parts.h5", options=options))
    assert f"rounded {count:,} of 502 values, the first at {part}:{line}: {written} stored as {stored};" in warning
    convert(exact, tmp_path / "grow.h5", options=options)
    appended = ConvertOptions(target=("price",), workers=workers, block_bytes=1000, append=True)
    (warning,) = _rounding_warnings(convert(part, tmp_path / "grow.h5", options=appended))
    assert f"rounded {count:,} of 502 values, the first at {part}:{line}:" in warning  # of the file's values


def test_rounded_in_matches_the_oracle_value_by_value() -> None:
    r = np.random.default_rng(2)
    values = np.concatenate(
        [
            (5e6 + 3e5 * r.normal(size=300)).round(2),
            [round(v, int(d)) for v, d in zip(r.normal(size=300), r.integers(0, 10, size=300))],
            r.integers(-(2**26), 2**26, size=200).astype(np.float64),
            [np.nan, np.inf, -0.0, 1.234567, 1.2345678, 0.1],
        ]
    )
    r.shuffle(values)
    table = values.reshape(-1, 2)
    expected = []
    for column in range(2):
        rows = [i for i, v in enumerate(table[:, column]) if _rounded(v)]
        expected.append((column, len(rows), rows[0], float(table[rows[0], column])))
    assert rounded_in(table) == tuple(expected)
    assert rounded_in(np.array([0.5, 12.0, 1e6, np.nan])) == ()
    assert rounded_in(np.empty(0)) == rounded_in(np.empty((0, 2))) == ()  # a block of blank lines


def test_the_command_prints_the_warning_once(tmp_path) -> None:
    csv = tmp_path / "reg.csv"
    _prices(csv)
    count, line, written, stored = _expected(csv, "price")
    result = CliRunner().invoke(app, ["convert", str(csv), "-o", str(tmp_path / "reg.h5"), "--target", "price", "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"warning: target 'price': float32 rounded {count:,} of 2,000 values, the first at {csv}:{line}: {written}"
        f" stored as {stored}; a regression target is stored as float32, which keeps about 7 significant digits"
    ]
