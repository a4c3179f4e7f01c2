"""Data that arrives in parts: each part converts, merge equals converting the whole, --like keeps codes.

The table is penguin-shaped and cut by island, as data arriving in parts is:
each part has its own island vocabulary, its own sex order, its own class set,
and the Torgersen part holds a single class.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import csv2h5.merge
from csv2h5 import ConvertOptions, HeaderMismatchError, SchemaError, convert
from csv2h5.cli import app

runner = CliRunner()
ISLANDS = ("Biscoe", "Dream", "Torgersen")
OPTIONS = ConvertOptions(target=("species",), categorical=("island", "sex"), chunk_rows=16)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> tuple[Path, pd.DataFrame, dict[str, Path]]:
    """(work directory, the whole table in part order, island -> part CSV); the whole CSV is the parts joined."""
    import make_penguins_csv

    work = tmp_path_factory.mktemp("parts")
    frame = make_penguins_csv.make_table(344, seed=1)
    csvs = dict(zip(ISLANDS, make_penguins_csv.write_parts(frame, work, by="island")))
    whole = pd.concat([frame[frame.island == island] for island in ISLANDS], ignore_index=True)
    make_penguins_csv.write_csv(whole, work / "whole.csv")
    return work, whole, csvs


def _read(path: Path) -> dict[str, object]:
    with h5py.File(path) as f:
        text = lambda values: [v.decode() if isinstance(v, bytes) else v for v in values]  # noqa: E731
        return {
            "x": f["features"][()].astype(np.float64),
            "columns": text(f["features"].attrs["columns"]),
            "dtype": f["features"].dtype,
            "codes": f["target"][()] if "target" in f else None,
            "classes": text(f["target"].attrs["classes"]) if "target" in f else [],
            "categories": {name: text(values[()]) for name, values in f["categories"].items()},
            "counts": {name: values[()] for name, values in f.get("category_counts", {}).items()},
            "stats": {name: values[()] for name, values in f["stats"].items()},
        }


def _decoded(stored: dict[str, object]) -> pd.DataFrame:
    """The stored rows back as the CSV's values: codes through the vocabularies and classes."""
    frame = pd.DataFrame(stored["x"], columns=stored["columns"])
    for name, values in stored["categories"].items():
        codes = frame[name].to_numpy()
        frame[name] = [values[int(c)] if not np.isnan(c) else None for c in codes]
    frame["species"] = [stored["classes"][c] for c in stored["codes"]]
    return frame


def _expected(frame: pd.DataFrame) -> pd.DataFrame:
    """The CSV's values as converted: every measurement a float, missing text as None."""
    out = frame.drop(columns="species").astype({c: np.float64 for c in frame.columns if c not in ("species", "island", "sex")})
    out["sex"] = [v if isinstance(v, str) else None for v in out["sex"]]
    out["species"] = frame["species"].to_numpy()
    return out


def test_each_part_converts_and_a_single_class_part_warns_in_one_line(table, tmp_path):
    work, whole, csvs = table
    for island, csv in csvs.items():
        out = tmp_path / f"{island}.h5"
        result = runner.invoke(
            app, ["convert", str(csv), "-o", str(out), "--target", "species", "--categorical", "island,sex", "--quiet"]
        )
        assert result.exit_code == 0, result.stderr
        warnings = result.stderr.strip().splitlines()
        stored = _read(out)
        rows = whole[whole.island == island]
        assert stored["categories"]["island"] == [island] and stored["classes"] == sorted(set(rows.species))
        if island == "Torgersen":
            assert len(warnings) == 1 and warnings[0].startswith("warning: ")
            assert "single class ('Adelie')" in warnings[0] and "csv2h5 merge" in warnings[0]
            assert stored["stats"]["class_counts"].tolist() == [len(rows)]
        else:
            assert warnings == []


@pytest.mark.parametrize("copy_bytes", [None, 200])  # default blocks; blocks of a few rows
def test_merge_equals_converting_the_whole_csv(table, tmp_path, monkeypatch, copy_bytes):
    import csv2h5.merge

    if copy_bytes:
        monkeypatch.setattr(csv2h5.merge, "_COPY_BYTES", copy_bytes)
    work, whole, csvs = table
    parts = [tmp_path / f"{island}.h5" for island in ISLANDS]
    for csv, part in zip(csvs.values(), parts):
        convert([csv], part, options=OPTIONS)
    convert([work / "whole.csv"], tmp_path / "whole.h5", options=OPTIONS)
    result = runner.invoke(app, ["merge", *map(str, parts), "-o", str(tmp_path / "merged.h5")])
    assert result.exit_code == 0, result.stderr
    merged, one = _read(tmp_path / "merged.h5"), _read(tmp_path / "whole.h5")
    # Decoded, the merged rows are the CSV's rows (oracle: pandas reading the table).
    pd.testing.assert_frame_equal(_decoded(merged), _expected(whole), check_dtype=False)
    pd.testing.assert_frame_equal(_decoded(merged), _decoded(one))
    # Vocabularies are first seen over the parts, which is first seen over the joined CSV: the same codes.
    assert merged["categories"] == one["categories"]
    np.testing.assert_array_equal(merged["x"], one["x"])
    assert merged["classes"] == ["Adelie", "Gentoo", "Chinstrap"]  # Biscoe's, then Dream's new one
    # Stats are exact: of the values, and of the codes for the categorical columns (oracle: numpy).
    codes = {name: pd.factorize(whole[name], use_na_sentinel=True)[0].astype(np.float64) for name in ("island", "sex")}
    for j, name in enumerate(merged["columns"]):
        values = codes[name] if name in codes else whole[name].to_numpy(dtype=np.float64, na_value=np.nan)
        if name in codes:
            values[values < 0] = np.nan
        present = values[~np.isnan(values)]
        expected = {
            "mean": present.mean(),
            "std": present.std(),
            "min": present.min(),
            "max": present.max(),
            "nan_count": np.isnan(values).sum(),
        }
        for stat, value in expected.items():
            np.testing.assert_allclose(merged["stats"][stat][j], value, rtol=1e-12, err_msg=f"{stat} of {name}")
            np.testing.assert_allclose(one["stats"][stat][j], value, rtol=1e-12, err_msg=f"{stat} of {name}")
    for name in ("island", "sex"):
        counts = whole[name].value_counts()
        assert merged["counts"][name].tolist() == [counts[v] for v in merged["categories"][name]]
    assert merged["stats"]["class_counts"].tolist() == [int((whole.species == c).sum()) for c in merged["classes"]]


def test_merge_refuses_a_column_coded_in_one_part_only(tmp_path):
    coded, numbers = tmp_path / "coded.h5", tmp_path / "numbers.h5"
    (tmp_path / "words.csv").write_text("island,sex,species\nDream,male,Adelie\nBiscoe,female,Gentoo\n")
    (tmp_path / "codes.csv").write_text("island,sex,species\n1,male,Adelie\n2,female,Gentoo\n")
    convert([tmp_path / "words.csv"], coded, options=ConvertOptions(target=("species",), categorical=("island", "sex")))
    convert([tmp_path / "codes.csv"], numbers, options=ConvertOptions(target=("species",), categorical=("sex",)))
    result = runner.invoke(app, ["merge", str(coded), str(numbers), "-o", str(tmp_path / "m.h5")])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "'island' as text codes" in lines[0] and "--like" in lines[0]
    assert not (tmp_path / "m.h5").exists()


@pytest.mark.parametrize("overwrite", [False, True])
def test_merge_into_a_directory_says_so_before_reading_the_parts(tmp_path, overwrite):
    parts = [tmp_path / "a.h5", tmp_path / "b.h5"]
    for part in parts:
        (tmp_path / "part.csv").write_text("island,sex,species\nDream,male,Adelie\nBiscoe,female,Gentoo\n")
        convert([tmp_path / "part.csv"], part, options=OPTIONS)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("keep me")
    result = runner.invoke(app, ["merge", *map(str, parts), "-o", str(out), *(["--overwrite"] if overwrite else [])])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [f"error: {out} is a directory; pass a file name such as {out / 'merged.h5'}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5", "b.h5", "out", "part.csv"]
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_like_keeps_the_old_codes_and_puts_new_values_after_them(table, tmp_path):
    work, whole, csvs = table
    old, new, last = tmp_path / "Biscoe.h5", tmp_path / "Dream.h5", tmp_path / "Torgersen.h5"
    convert([csvs["Biscoe"]], old, options=OPTIONS)
    result = runner.invoke(app, ["convert", str(csvs["Dream"]), "-o", str(new), "--like", str(old), "--quiet"])
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    convert([csvs["Torgersen"]], last, options=ConvertOptions(like=old.parent / "Dream.h5"))
    a, b, c = _read(old), _read(new), _read(last)
    assert b["columns"] == a["columns"] and b["dtype"] == a["dtype"]
    assert b["categories"]["island"] == ["Biscoe", "Dream"] and c["categories"]["island"] == list(ISLANDS)
    assert b["categories"]["sex"] == a["categories"]["sex"] == c["categories"]["sex"]
    assert a["classes"] == ["Adelie", "Gentoo"] and b["classes"] == c["classes"] == ["Adelie", "Gentoo", "Chinstrap"]
    for stored, island in ((b, "Dream"), (c, "Torgersen")):
        rows = whole[whole.island == island].reset_index(drop=True)
        pd.testing.assert_frame_equal(_decoded(stored), _expected(rows), check_dtype=False)
        assert set(stored["x"][:, 0]) == {stored["categories"]["island"].index(island)}
    assert b["counts"]["island"].tolist() == [0, len(whole[whole.island == "Dream"])]


def test_like_with_append_keeps_the_rows_already_there(table, tmp_path):
    work, whole, csvs = table
    out = tmp_path / "all.h5"
    convert([csvs["Biscoe"]], out, options=OPTIONS)
    before = _read(out)
    convert([csvs["Dream"]], out, options=ConvertOptions(like=str(out), append=True))
    after = _read(out)
    n = len(before["codes"])
    np.testing.assert_array_equal(after["x"][:n], before["x"])  # old rows keep their codes
    np.testing.assert_array_equal(after["codes"][:n], before["codes"])
    rows = whole[whole.island.isin(["Biscoe", "Dream"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(_decoded(after), _expected(rows), check_dtype=False)
    assert after["counts"]["island"].tolist() == [n, len(rows) - n]


def test_like_with_other_columns(table, tmp_path):
    work, whole, csvs = table
    old = tmp_path / "old.h5"
    convert([csvs["Biscoe"]], old, options=OPTIONS)
    frame = pd.read_csv(csvs["Dream"])
    # A column less: an error naming it, nothing written.
    frame.drop(columns="bill_depth_mm").to_csv(tmp_path / "less.csv", index=False)
    result = runner.invoke(app, ["convert", str(tmp_path / "less.csv"), "-o", str(tmp_path / "less.h5"), "--like", str(old)])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "no column 'bill_depth_mm'" in lines[0]
    assert not (tmp_path / "less.h5").exists()
    # An extra column, columns in another order: left out with a warning; features in the old order.
    shuffled = frame.assign(note="x")[["note", "sex", "species", *reversed(frame.columns[1:6]), "year"]]
    shuffled.to_csv(tmp_path / "more.csv", index=False)
    result = runner.invoke(
        app, ["convert", str(tmp_path / "more.csv"), "-o", str(tmp_path / "more.h5"), "--like", str(old), "--quiet"]
    )
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 0 and len(lines) == 1 and "left out: 'note'" in lines[0], result.stderr
    more = _read(tmp_path / "more.h5")
    assert more["columns"] == _read(old)["columns"]
    pd.testing.assert_frame_equal(
        _decoded(more), _expected(whole[whole.island == "Dream"].reset_index(drop=True)), check_dtype=False
    )
    # No target column: converted without /target (for predict), with a warning.
    frame.drop(columns="species").to_csv(tmp_path / "unlabelled.csv", index=False)
    result = runner.invoke(
        app, ["convert", str(tmp_path / "unlabelled.csv"), "-o", str(tmp_path / "u.h5"), "--like", str(old), "--quiet"]
    )
    assert result.exit_code == 0 and "no target column 'species'" in result.stderr
    with h5py.File(tmp_path / "u.h5") as f:
        assert "target" not in f and [v.decode() for v in f["categories/island"][()]] == ["Biscoe", "Dream"]


def test_like_takes_the_dtype_and_the_kind_of_labels(tmp_path):
    (tmp_path / "old.csv").write_text("a,b,label\n1.5,2,x\n3,4,y\n")
    (tmp_path / "ints.csv").write_text("a,b,label\n1,2,y\n3,4,z\n")
    (tmp_path / "wide.csv").write_text("a,b,label\n1,70000,y\n")
    (tmp_path / "numbers.csv").write_text("a,b,label\n1,2,1\n3,4,2\n")
    convert([tmp_path / "old.csv"], tmp_path / "old.h5", options=ConvertOptions(target=("label",)))
    like = ConvertOptions(like=str(tmp_path / "old.h5"))
    convert([tmp_path / "ints.csv"], tmp_path / "ints.h5", options=like)
    with h5py.File(tmp_path / "ints.h5") as f:
        assert f["features"].dtype == np.float32  # as old.h5, though the new values alone fit uint8
        assert list(f["target"].attrs["classes"]) == ["x", "y", "z"] and f["target"][()].tolist() == [1, 2]
    uint8 = tmp_path / "u8.h5"
    convert([tmp_path / "ints.csv"], uint8, options=ConvertOptions(target=("label",)))
    report = convert([tmp_path / "wide.csv"], tmp_path / "wide.h5", options=ConvertOptions(like=str(uint8)))
    with h5py.File(tmp_path / "wide.h5") as f:
        assert f["features"].dtype == np.int32 and f["features"][()].tolist() == [[1, 70000]]
    assert report.dtype == "int32"
    with pytest.raises(SchemaError, match="holds numbers here but .*old.h5 has text classes"):
        convert([tmp_path / "numbers.csv"], tmp_path / "n.h5", options=like)
    assert not (tmp_path / "n.h5").exists()
    with pytest.raises(HeaderMismatchError, match="old.h5 stores as a feature"):
        (tmp_path / "other.csv").write_text("a,c,label\n1,2,x\n")
        convert([tmp_path / "other.csv"], tmp_path / "o.h5", options=like)


def test_a_part_whose_text_column_is_blank_in_every_row(tmp_path):
    from csv2h5.trainer.fileinfo import open_info

    (tmp_path / "blank.csv").write_text("a,sex,label\n1,,x\n2,,y\n")
    (tmp_path / "full.csv").write_text("a,sex,label\n3,m,x\n4,f,y\n")
    options = ConvertOptions(target=("label",), categorical=("sex",))
    for name in ("blank", "full"):
        convert([tmp_path / f"{name}.csv"], tmp_path / f"{name}.h5", options=options)
    assert _read(tmp_path / "blank.h5")["categories"]["sex"] == []
    merge_result = runner.invoke(
        app, ["merge", str(tmp_path / "blank.h5"), str(tmp_path / "full.h5"), "-o", str(tmp_path / "m.h5")]
    )
    assert merge_result.exit_code == 0, merge_result.stderr
    merged = _read(tmp_path / "m.h5")
    assert merged["categories"]["sex"] == ["m", "f"] and merged["counts"]["sex"].tolist() == [1, 1]
    np.testing.assert_array_equal(merged["x"], [[1, np.nan], [2, np.nan], [3, 0], [4, 1]])
    united = open_info([str(tmp_path / "blank.h5"), str(tmp_path / "full.h5")])
    for name in ("mean", "std", "min", "max", "nan_count"):
        np.testing.assert_array_equal(united.stats[name], merged["stats"][name], err_msg=name)


def test_merge_says_when_an_input_is_in_two_parts(tmp_path):
    """``merge a b -o ab; merge ab a`` stores a.csv's rows twice: said (two CSVs may agree on name, size, rows), not refused."""
    (tmp_path / "a.csv").write_text("x,y\n1,2\n3,4\n")
    (tmp_path / "b.csv").write_text("x,y\n5,6\n7,8\n9,0\n")
    for name in ("a", "b"):
        convert([tmp_path / f"{name}.csv"], tmp_path / f"{name}.h5")
    ab, a, b, aba = (str(tmp_path / f"{n}.h5") for n in ("ab", "a", "b", "aba"))
    assert runner.invoke(app, ["merge", a, b, "-o", ab]).stderr == ""
    result = runner.invoke(app, ["merge", ab, a, "-o", aba, "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"note: {ab} and {a} both hold the input a.csv (12 bytes, 2 rows): its rows will be in the output twice,"
        " unless these are different CSVs that share a name, size and row count"
    ]
    with h5py.File(aba) as f:
        assert f["features"][()].tolist() == [[1, 2], [3, 4], [5, 6], [7, 8], [9, 0], [1, 2], [3, 4]]
    notices: list[str] = []  # the Python API says it through on_notice
    csv2h5.merge.merge([aba, ab, b], tmp_path / "all.h5", on_notice=notices.append)
    assert notices == [
        f"{aba} and {ab} both hold the input a.csv (12 bytes, 2 rows): its rows will be in the output 3 times,"
        " unless these are different CSVs that share a name, size and row count",
        f"{aba}, {ab} and {b} all hold the input b.csv (16 bytes, 3 rows): its rows will be in the output 3 times,"
        " unless these are different CSVs that share a name, size and row count",
    ]


def test_merge_is_quiet_about_inputs_of_one_name_but_another_size_or_from_standard_input(tmp_path):
    """``sources`` records base names: day-01/data.csv and day-02/data.csv are told apart by size and rows."""
    for day, text in (("day-01", "x,y\n1,2\n3,4\n"), ("day-02", "x,y\n1,2\n3,4\n5,6\n"), ("day-03", "x,y\n5,6\n7,8\n")):
        (tmp_path / day).mkdir()
        (tmp_path / day / "data.csv").write_text(text)
        convert([tmp_path / day / "data.csv"], tmp_path / f"{day}.h5")
    # two pipes of as many rows cannot be told apart (standard input's size is not recorded): no notice
    for name in ("piped-1", "piped-2"):
        command = [sys.executable, "-m", "csv2h5", "convert", "-", "-o", str(tmp_path / f"{name}.h5"), "-q"]
        done = subprocess.run(command, input="x,y\n7,8\n", capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    notices: list[str] = []
    parts = [tmp_path / f"{n}.h5" for n in ("day-01", "day-02", "piped-1", "piped-2")]
    csv2h5.merge.merge(parts, tmp_path / "all.h5", on_notice=notices.append)
    assert notices == []
    # the same name, size and rows: said, though these two CSVs differ (nothing else tells them apart)
    csv2h5.merge.merge([tmp_path / "day-01.h5", tmp_path / "day-03.h5"], tmp_path / "other.h5", on_notice=notices.append)
    assert len(notices) == 1 and "both hold the input data.csv (12 bytes, 2 rows)" in notices[0]


def test_merge_of_parts_with_other_columns_counts_them_from_1_as_every_message_does(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x,y\n1,2\n")
    b.write_text("x,z\n3,4\n")  # the second column differs: column 2, as convert and h5train count
    for src in (a, b):
        convert([src], src.with_suffix(".h5"))
    with pytest.raises(Exception, match=r"b\.h5 has other feature columns: column 2 is 'z' there but 'y' in"):
        csv2h5.merge.merge([a.with_suffix(".h5"), b.with_suffix(".h5")], tmp_path / "all.h5")
