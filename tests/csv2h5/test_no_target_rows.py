"""Rows whose target is empty: refused by default, skipped as bad lines with --on-bad-lines skip or warn.

The oracle is pandas: ``read_csv`` then ``dropna(subset=[target])``.
"""

from __future__ import annotations

import dataclasses
import gzip
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadValueError


def _table(kind: str, rows: int, seed: int = 0) -> tuple[str, list[int]]:
    """CSV text of ``rows`` rows (x1, x2, [city,] y) with some targets empty, and the lines of those."""
    rng = np.random.default_rng(seed)
    empty = set(rng.choice(rows, size=max(rows // 7, 2), replace=False).tolist()) | {0, rows - 1}
    header = "x1,x2,city,y" if kind == "text" else "x1,x2,y"
    out, lines = [header], []
    for i in range(rows):
        if kind == "digits":
            cells = [str(rng.integers(0, 10)), str(rng.integers(0, 10)), str(rng.integers(0, 3))]
        elif kind == "typed":
            cells = [f"{rng.normal():.6f}", str(rng.integers(0, 1000)), f"{rng.normal() * 10:.3f}"]
        else:
            cells = [f"{rng.normal():.3f}", "" if i % 5 == 1 else str(i), ["paris", "rome", "oslo"][i % 3], ["cat", "dog"][i % 2]]
        if i in empty:
            cells[-1] = ""
            lines.append(i + 2)  # the header is line 1
        out.append(",".join(cells))
    return "\n".join(out) + "\n", sorted(lines)


def _oracle(path, **read) -> pd.DataFrame:
    return pd.read_csv(path, **read).dropna(subset=["y"]).reset_index(drop=True)


def _check_file(out, expected: pd.DataFrame, features: list[str], task: str) -> None:
    with h5py.File(out, "r") as f:
        assert f.attrs["rows"] == len(expected)
        stored = f["features"][:]
        names = list(f["features"].attrs["columns"])
        assert names == features
        numeric = [j for j, name in enumerate(names) if name != "city"]
        want = expected[[names[j] for j in numeric]].to_numpy(np.float64)
        np.testing.assert_allclose(stored[:, numeric].astype(np.float64), want, rtol=1e-6, equal_nan=True)
        if "city" in names:
            vocabulary = [v.decode() if isinstance(v, bytes) else v for v in f["categories/city"][:]]
            got = [vocabulary[int(c)] for c in stored[:, names.index("city")]]
            assert got == expected["city"].tolist()
        stats = f["stats"]
        for j in numeric:
            column = expected[names[j]]
            assert stats["nan_count"][j] == column.isna().sum()
            assert stats["mean"][j] == pytest.approx(column.mean(), rel=1e-6)
            assert stats["min"][j] == pytest.approx(column.min(), rel=1e-6)
            assert stats["max"][j] == pytest.approx(column.max(), rel=1e-6)
        target = f["target"][:]
        assert f["target"].attrs["task"] == task
        if task == "regression":
            np.testing.assert_allclose(target, expected["y"].to_numpy(np.float64), rtol=1e-6)
            return
        classes = [c.decode() if isinstance(c, bytes) else c for c in f["target"].attrs["classes"]]
        labels = expected["y"].astype(np.int64) if pd.api.types.is_numeric_dtype(expected["y"]) else expected["y"]
        assert [str(classes[c]) for c in target] == labels.astype(str).tolist()
        counts = labels.astype(str).value_counts()
        assert stats["class_counts"][:].tolist() == [counts.get(str(c), 0) for c in classes]


@pytest.mark.parametrize("kind", ["digits", "typed", "text"])
@pytest.mark.parametrize(("workers", "block_bytes"), [(0, 1 << 20), (0, 200), (2, 300)])
def test_rows_with_no_target_are_skipped_as_pandas_drops_them(tmp_path, kind, workers, block_bytes):
    text, lines = _table(kind, 400)
    src = tmp_path / "t.csv"
    src.write_text(text)
    out = tmp_path / "t.h5"
    categorical = ("city",) if kind == "text" else ()
    options = ConvertOptions(
        target=("y",), categorical=categorical, on_bad_lines="skip", workers=workers, block_bytes=block_bytes, infer_bytes=500
    )
    report = convert([src], out, options=options)
    expected = _oracle(src)
    assert report.rows == len(expected) == 400 - len(lines)
    assert report.bad_lines == len(lines) and report.bad_line_numbers == lines
    assert "no target" in report.bad_lines_skipped and "wrong number" not in report.bad_lines_skipped
    task = "regression" if kind == "typed" else "classification"
    _check_file(out, expected, ["x1", "x2", "city"] if kind == "text" else ["x1", "x2"], task)


def test_gzip_input_skips_them_too(tmp_path):
    text, lines = _table("typed", 300)
    src = tmp_path / "t.csv.gz"
    src.write_bytes(gzip.compress(text.encode()))
    report = convert([src], tmp_path / "t.h5", options=ConvertOptions(target=("y",), on_bad_lines="skip", block_bytes=500))
    assert report.bad_line_numbers == lines
    _check_file(tmp_path / "t.h5", _oracle(src), ["x1", "x2"], "regression")


def test_append_and_like_skip_them_too(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(_table("text", 200, seed=1)[0])
    second.write_text(_table("text", 150, seed=2)[0])
    options = ConvertOptions(target=("y",), categorical=("city",), on_bad_lines="skip", block_bytes=400)
    convert([first], tmp_path / "ab.h5", options=options)
    convert([second], tmp_path / "ab.h5", options=dataclasses.replace(options, append=True))
    both = pd.concat([_oracle(first), _oracle(second)], ignore_index=True)
    _check_file(tmp_path / "ab.h5", both, ["x1", "x2", "city"], "classification")
    like = ConvertOptions(like=str(tmp_path / "ab.h5"), on_bad_lines="skip", block_bytes=400)
    report = convert([second], tmp_path / "b.h5", options=like)
    assert report.rows == len(_oracle(second))
    _check_file(tmp_path / "b.h5", _oracle(second), ["x1", "x2", "city"], "classification")


def test_a_missing_number_label_by_na_values_is_skipped_too(tmp_path):
    src = tmp_path / "n.csv"
    src.write_text("x,y\n1,0.5\n2,-999\n3,\n4,1.5\n5,-999.0\n")
    report = convert([src], tmp_path / "n.h5", options=ConvertOptions(target=("y",), na_values=("-999",), on_bad_lines="skip"))
    assert report.bad_line_numbers == [3, 4, 6]
    _check_file(tmp_path / "n.h5", _oracle(src, na_values=["-999"]), ["x"], "regression")


def test_without_skip_the_refusal_names_the_option(tmp_path):
    src = tmp_path / "e.csv"
    src.write_text("x,price\n1,10.5\n2,\n3,30.25\n")
    with pytest.raises(BadValueError, match=r"e\.csv:3: target column 'price' is empty; .*--on-bad-lines skip.* leave"):
        convert([src], tmp_path / "e.h5", options=ConvertOptions(target=("price",)))


def test_warn_names_the_lines_on_stderr(tmp_path):
    src = tmp_path / "w.csv"
    src.write_text("x,price\n1,10.5\n2,\n3,30.25\n4,1,2\n")
    args = ["convert", str(src), "-o", str(tmp_path / "w.h5"), "--target", "price", "--on-bad-lines", "warn"]
    done = subprocess.run([sys.executable, "-m", "csv2h5", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "skipped 2 lines with the wrong number of fields or no target (first: 3, 5)" in done.stderr
    assert "wrote 2 rows" in done.stdout


@pytest.mark.parametrize("workers", [0, 2])
def test_errors_after_a_skipped_row_name_their_own_line(tmp_path, workers):
    """The lines of a block's rows are found again for an error: the row skipped is not among them."""
    src = tmp_path / "r.csv"
    src.write_text("x,y\n1,0.5\n2,\n3,1.5\n4,abc\n")
    options = ConvertOptions(target=("y",), task="regression", on_bad_lines="skip", workers=workers)
    with pytest.raises(BadValueError, match=r"r\.csv:5: target 'y' has 'abc'"):
        convert([src], tmp_path / "r.h5", options=options)
    src.write_text("x,y\n1,0.5\n2,\n300,1.5\n")
    with pytest.raises(BadValueError, match=r"r\.csv:4: column 'x' has '300'"):
        convert([src], tmp_path / "d.h5", options=ConvertOptions(target=("y",), dtype="uint8", on_bad_lines="skip"))
    src.write_text("c,y\na,1\nb,\nb,2\nc,3\n")
    auto = ConvertOptions(target=("y",), categorical=("auto",), max_categories=2, on_bad_lines="skip", workers=workers)
    with pytest.raises(BadValueError, match=r"r\.csv:5: column 'c' has more than 2 distinct values"):
        convert([src], tmp_path / "c.h5", options=auto)


@pytest.mark.parametrize("skipped", ["1,2,3\n", "3,\n"])
def test_a_block_of_only_skipped_rows_leaves_text_labels_as_they_are(tmp_path, skipped):
    """Such a block holds no label: it is neither numbers nor text, before the first labels or between them."""
    src = tmp_path / "k.csv"
    src.write_text("x,y\n" + skipped * 40 + "1,cat\n" + skipped * 40 + "2,dog\n")
    options = ConvertOptions(target=("y",), on_bad_lines="skip", block_bytes=64)
    report = convert([src], tmp_path / "k.h5", options=options)
    assert report.rows == 2 and report.bad_lines == 80
    with h5py.File(tmp_path / "k.h5", "r") as f:
        assert [c.decode() if isinstance(c, bytes) else c for c in f["target"].attrs["classes"]] == ["cat", "dog"]
        assert f["target"][:].tolist() == [0, 1]


@pytest.mark.parametrize("kind", ["digits", "typed"])
@pytest.mark.parametrize("quoted", [False, True])
def test_blocks_of_numbers_with_rows_without_target_stay_on_the_fast_paths(tmp_path, monkeypatch, kind, quoted):
    """The typed path leaves such rows out itself: the text path (several times slower) reads none of these blocks."""
    import csv2h5.reader.parse as parse

    def refused(*args):
        raise AssertionError("the text path read a block")

    monkeypatch.setattr(parse, "parse_text", refused)
    text, lines = _table(kind, 300, seed=3)
    if quoted:  # a quoted cell: the records are found as the csv module reads them
        rows = text.split("\n")
        cell, rest = rows[2].split(",", 1)
        rows[2] = f'"{cell}",{rest}'
        text = "\n".join(rows)
    src = tmp_path / "f.csv"
    src.write_text(text)
    options = ConvertOptions(target=("y",), on_bad_lines="skip", workers=0, block_bytes=700)
    report = convert([src], tmp_path / "f.h5", options=options)
    assert report.bad_line_numbers == lines
    _check_file(tmp_path / "f.h5", _oracle(src), ["x1", "x2"], "regression" if kind == "typed" else "classification")
