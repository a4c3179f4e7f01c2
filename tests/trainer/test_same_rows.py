"""Files that hold the same rows: refused when read as one, and as --val of the rows trained on."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from csv2h5.trainer import DataFileError, HDF5Sequence
from csv2h5.trainer.cli import app as h5train_app
from typer.testing import CliRunner

from csv2h5 import ConvertOptions, convert
from csv2h5.merge import merge

OPTIONS = ConvertOptions(target=("y",), categorical=("colour",))
MERGE_ADVICE = "leave it out of the pattern, or write merges outside the parts' folder"


def _rows(csvs: list[Path]) -> int:
    """The oracle: the rows pandas reads from the CSVs."""
    return sum(len(pd.read_csv(p)) for p in csvs)


def _read_rows(spec: object) -> int:
    seq = HDF5Sequence(spec, batch_size=1, shuffle="none", scale=None, missing=None)
    return sum(len(seq[i][0]) for i in range(len(seq)))


@pytest.fixture
def parts(tmp_path):
    """Two CSVs converted as parts (text categories in another order, float32 and float64 values), and their CSVs."""
    (tmp_path / "parts").mkdir()
    texts = {
        "d1": "x,colour,y\n0.1,red,a\n0.2,blue,b\n0.3,red,a\n0.4,blue,b\n",
        "d2": "x,colour,y\n0.12345678901234567,green,c\n5.5,red,b\n6.25,green,a\n7.125,red,c\n",
    }
    csvs = []
    for name, text in texts.items():
        csvs.append(tmp_path / f"{name}.csv")
        csvs[-1].write_text(text)
        convert([csvs[-1]], tmp_path / "parts" / f"{name}.h5", options=OPTIONS)
    return tmp_path / "parts", csvs


def test_a_merged_file_beside_its_parts_is_refused_not_read_twice(parts, tmp_path):
    folder, csvs = parts
    pattern = str(folder / "*.h5")
    assert _read_rows(pattern) == _rows(csvs)
    merge(pattern, folder / "all.h5")
    line = (
        f"{folder / 'all.h5'} and {folder / 'd1.h5'} both hold the rows of the input d1.csv ({csvs[0].stat().st_size} bytes,"
        " 4 rows), which would be"
        f" read twice: leave one of them out (a merged file beside its parts: {MERGE_ADVICE})"
    )
    with pytest.raises(DataFileError, match="^" + re.escape(line) + "$"):
        HDF5Sequence(pattern)
    # the other part, whose codes the merge changed (green, red -> red, blue, green) and whose float64 widened nothing
    with pytest.raises(
        DataFileError, match=re.escape(f"{folder / 'd2.h5'} and {folder / 'all.h5'} both hold the rows of the input d2.csv")
    ):
        HDF5Sequence([folder / "d2.h5", folder / "all.h5"])
    result = CliRunner().invoke(h5train_app, ["fit", pattern, "--run-dir", str(tmp_path / "run"), "--progress", "none"])
    assert result.exit_code == 2 and result.stderr == f"error: {line}\n"
    assert not (tmp_path / "run").exists()
    shutil.move(folder / "all.h5", tmp_path / "all.h5")  # the merge written outside the parts' folder
    assert _read_rows(pattern) == _rows(csvs) == _read_rows(tmp_path / "all.h5")


def test_a_file_appended_to_holds_its_inputs_as_a_merge_does(parts, tmp_path):
    folder, csvs = parts
    convert(csvs, tmp_path / "both.h5", options=OPTIONS)  # one conversion of both CSVs
    with pytest.raises(DataFileError, match="both hold the rows of the input d2.csv"):
        HDF5Sequence([folder / "d2.h5", tmp_path / "both.h5"])


def test_two_copies_of_one_part_under_other_names_are_refused(parts, tmp_path):
    folder, csvs = parts
    twice = tmp_path / "twice"
    twice.mkdir()
    shutil.copy(folder / "d1.h5", twice / "a.h5")
    shutil.copy(folder / "d1.h5", twice / "b.h5")
    line = f"{twice / 'a.h5'} and {twice / 'b.h5'} hold the same content, whose rows would be read twice: leave one of them out"
    with pytest.raises(DataFileError, match="^" + re.escape(line) + "$"):
        HDF5Sequence(str(twice / "*.h5"))
    convert([csvs[0]], twice / "c.h5", options=OPTIONS)  # the CSV converted again: another file, the same rows
    # within the same second, even the same content: said either way
    pair = re.escape(f"{twice / 'a.h5'} and {twice / 'c.h5'} ")
    with pytest.raises(DataFileError, match=f"^{pair}(both hold the rows of the input d1\\.csv|hold the same content)"):
        HDF5Sequence([twice / "a.h5", twice / "c.h5"])


def test_other_csvs_of_one_name_size_and_row_count_are_read(tmp_path):
    """day-01/data.csv and day-02/data.csv of fixed-width lines: their rows differ, so both are read."""
    texts = {
        "day-01": "x,colour,y\n1.5,red,a\n2.5,blue,b\n3.5,red,a\n",
        "day-02": "x,colour,y\n1.5,red,a\n2.5,blue,b\n9.5,red,a\n",  # only the last row differs
        "day-03": "x,colour,y\n1.5,red,a\n2.5,blue,b\n3.5,red,b\n",  # only the last label differs
        "day-04": "x,colour,y\n1.5,red,a\n2.5,blue,b\n3.5,tan,a\n",  # only the last category differs
    }
    csvs = []
    for day, text in texts.items():
        (tmp_path / day).mkdir()
        csvs.append(tmp_path / day / "data.csv")
        csvs[-1].write_text(text)
        convert([csvs[-1]], tmp_path / f"{day}.h5", options=OPTIONS)
    assert len({p.stat().st_size for p in csvs}) == 1
    assert _read_rows(str(tmp_path / "day-*.h5")) == _rows(csvs) == 12


def test_csvs_of_other_names_and_equal_content_are_both_read(parts, tmp_path):
    """Nothing tells a file copied on purpose (to weigh its rows twice) from chance: they are other inputs."""
    folder, csvs = parts
    again = tmp_path / "again.csv"
    shutil.copy(csvs[0], again)
    convert([again], folder / "again.h5", options=OPTIONS)
    assert _read_rows(str(folder / "*.h5")) == _rows([*csvs, again]) == 12


def _fit(data: Path | str, val: Path, run: Path) -> object:
    return CliRunner().invoke(
        h5train_app,
        ["fit", str(data), "--val", str(val), "--run-dir", str(run), "--epochs", "1", "--hidden", "2", "--progress", "none"],
    )


def test_val_holding_rows_of_the_training_data_is_refused(parts, tmp_path):
    folder, csvs = parts
    d1, d2 = folder / "d1.h5", folder / "d2.h5"
    d1_csv, d2_csv = (f"{p.name} ({p.stat().st_size} bytes, 4 rows)" for p in csvs)
    merged = tmp_path / "all.h5"
    merge([d1, d2], merged)
    shutil.copy(d1, tmp_path / "copy.h5")
    advice = ": validate on other rows (--val-split, or a file converted from rows kept out of training)\n"
    cases = [
        (d1, d1, f"({d1} is the training data)"),
        (d1, tmp_path / "copy.h5", f"({tmp_path / 'copy.h5'} holds the same content as {d1})"),
        (d1, merged, f"({merged} and {d1} both hold the rows of the input {d1_csv})"),
        (merged, d2, f"({d2} and {merged} both hold the rows of the input {d2_csv})"),
        (str(folder / "d*.h5"), merged, f"({merged} and {d1} both hold the rows of the input {d1_csv})"),
    ]
    for k, (data, val, found) in enumerate(cases):
        result = _fit(data, val, tmp_path / f"run{k}")
        assert result.exit_code == 2, (data, val, result.output)
        assert result.stderr == f"error: --val {val} holds rows the model trains on {found}{advice}"
        assert not (tmp_path / f"run{k}").exists()
    other = tmp_path / "other.h5"  # d1.csv's rows, coded as d2.h5 codes them (the rows of d1.h5: not part of d2.h5)
    convert([csvs[0]], other, options=ConvertOptions(like=str(d2)))
    result = _fit(d2, other, tmp_path / "apart")  # other rows: trains
    assert result.exit_code == 0, result.stderr
    evaluated = CliRunner().invoke(h5train_app, ["evaluate", str(tmp_path / "apart"), str(d2), "--json"])
    assert evaluated.exit_code == 0, evaluated.stderr  # scoring the training file is a question users ask


def test_daily_csvs_that_differ_in_a_few_sparse_rows_are_read(tmp_path):
    """day-01/data.csv and day-02/data.csv: 1,440 fixed-width rows each, a target alike in both, counts mostly 0.

    The few busy minutes differ from day to day: the files hold other rows, to read as one and to validate on."""
    rng = np.random.default_rng(5)
    csvs, files = [], []
    for day in ("day-01", "day-02"):
        counts = np.zeros(1440, dtype=int)
        busy = rng.choice(1440, 60, replace=False)  # a different hour's worth of busy minutes each day
        counts[busy] = rng.integers(1, 10, 60)
        (tmp_path / day).mkdir()
        csvs.append(tmp_path / day / "data.csv")
        rows = "".join(f"{m:04d},{c},{int(540 <= m < 1020)}\n" for m, c in enumerate(counts))
        csvs[-1].write_text("minute,count,shift\n" + rows)
        files.append(tmp_path / day / "data.h5")
        convert([csvs[-1]], files[-1], options=ConvertOptions(target=("shift",)))
    first, second = (pd.read_csv(p) for p in csvs)
    assert csvs[0].stat().st_size == csvs[1].stat().st_size and len(first) == len(second) == 1440
    assert first["shift"].equals(second["shift"]) and 0 < (first["count"] != second["count"]).sum() < 200
    assert HDF5Sequence(files, batch_size=64, shuffle="none").info.rows == _rows(csvs) == 2880
    result = _fit(files[0], files[1], tmp_path / "run")
    assert result.exit_code == 0, result.stderr
