"""--fill is recorded in the file, and --append, --like and merge keep one value for empty cells."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from csv2h5 import ConvertOptions, HeaderMismatchError, convert
from csv2h5.cli import app
from csv2h5.errors import OptionError
from csv2h5.info import describe
from csv2h5.merge import merge

runner = CliRunner()
DAY1 = "a,b,y\n1,,0\n,2.5,1\n3,4,0\n"
DAY2 = "a,b,y\n,5,1\n6,,0\n7,8,1\n"


@pytest.fixture
def days(tmp_path):
    (tmp_path / "day1.csv").write_text(DAY1)
    (tmp_path / "day2.csv").write_text(DAY2)
    return tmp_path


def _features(path) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return f["features"][()].astype(np.float64)


def _expected(days, *names: str, fill: float | None) -> np.ndarray:
    frame = pd.concat([pd.read_csv(days / name) for name in names], ignore_index=True)[["a", "b"]]
    return (frame if fill is None else frame.fillna(fill)).to_numpy(dtype=np.float64)


def _cli(*args: str):
    return runner.invoke(app, [*map(str, args), "--quiet"])


def test_fill_is_recorded_only_when_given(days):
    convert(days / "day1.csv", days / "filled.h5", options=ConvertOptions(target=("y",), fill=-1))
    convert(days / "day1.csv", days / "plain.h5", options=ConvertOptions(target=("y",)))
    with h5py.File(days / "filled.h5", "r") as filled, h5py.File(days / "plain.h5", "r") as plain:
        assert filled["features"].attrs["fill"] == -1
        assert "fill" not in plain["features"].attrs


def test_append_without_fill_takes_the_files(days):
    out = days / "all.h5"
    assert _cli("convert", days / "day1.csv", "-o", out, "--target", "y", "--fill", "0").exit_code == 0
    result = _cli("convert", days / "day2.csv", "-o", out, "--target", "y", "--append")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(_features(out), _expected(days, "day1.csv", "day2.csv", fill=0))
    with h5py.File(out, "r") as f:
        assert f["features"].attrs["fill"] == 0


def test_append_with_the_same_fill(days):
    out = days / "all.h5"
    convert(days / "day1.csv", out, options=ConvertOptions(target=("y",), fill=9))
    convert(days / "day2.csv", out, options=ConvertOptions(target=("y",), fill=9, append=True))
    np.testing.assert_array_equal(_features(out), _expected(days, "day1.csv", "day2.csv", fill=9))


@pytest.mark.parametrize(
    ("made", "asked", "said"),
    [
        (["--fill", "0"], "1", ["--fill 0", "--fill 1", "drop --fill 1"]),
        ([], "0", ["NaN (no --fill)", "drop --fill 0", "convert all the data again with --fill 0"]),
    ],
)
def test_append_with_another_fill_is_refused_and_leaves_the_file(days, made, asked, said):
    out = days / "all.h5"
    assert _cli("convert", days / "day1.csv", "-o", out, "--target", "y", *made).exit_code == 0
    before = out.read_bytes()
    result = _cli("convert", days / "day2.csv", "-o", out, "--target", "y", "--append", "--fill", asked)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(out) in lines[0]
    for words in said:
        assert words in lines[0]
    assert out.read_bytes() == before


def test_like_takes_the_templates_fill(days):
    train, test = days / "train.h5", days / "test.h5"
    convert(days / "day1.csv", train, options=ConvertOptions(target=("y",), fill=0))
    convert(days / "day2.csv", test, options=ConvertOptions(like=str(train)))
    np.testing.assert_array_equal(_features(test), _expected(days, "day2.csv", fill=0))
    with h5py.File(test, "r") as f:
        assert f["features"].attrs["fill"] == 0
    convert(days / "day2.csv", days / "same.h5", options=ConvertOptions(like=str(train), fill=0))  # the same value: fine
    np.testing.assert_array_equal(_features(days / "same.h5"), _expected(days, "day2.csv", fill=0))


@pytest.mark.parametrize(("made", "asked"), [(0.0, 1.0), (None, 0.0)])
def test_like_with_another_fill_is_refused(days, made, asked):
    train, test = days / "train.h5", days / "test.h5"
    convert(days / "day1.csv", train, options=ConvertOptions(target=("y",), fill=made))
    with pytest.raises(OptionError, match=r"--like keeps that; drop --fill"):
        convert(days / "day2.csv", test, options=ConvertOptions(like=str(train), fill=asked))
    assert not test.exists()


def test_like_without_fill_keeps_nan(days):
    train, test = days / "train.h5", days / "test.h5"
    convert(days / "day1.csv", train, options=ConvertOptions(target=("y",)))
    convert(days / "day2.csv", test, options=ConvertOptions(like=str(train)))
    np.testing.assert_array_equal(_features(test), _expected(days, "day2.csv", fill=None))


def test_info_shows_the_fill(days):
    convert(days / "day1.csv", days / "filled.h5", options=ConvertOptions(target=("y",), fill=2.5))
    convert(days / "day1.csv", days / "plain.h5", options=ConvertOptions(target=("y",)))
    assert describe(days / "filled.h5")["fill"] == 2.5
    assert describe(days / "plain.h5")["fill"] is None
    shown = runner.invoke(app, ["info", str(days / "filled.h5")]).output
    assert "fill      2.5 " in shown
    assert "fill " not in runner.invoke(app, ["info", str(days / "plain.h5")]).output


def test_merge_of_parts_with_other_fills_is_refused(days):
    convert(days / "day1.csv", days / "one.h5", options=ConvertOptions(target=("y",), fill=0))
    convert(days / "day2.csv", days / "two.h5", options=ConvertOptions(target=("y",)))
    with pytest.raises(HeaderMismatchError, match=r"NaN \(no --fill\) but .*one\.h5 as --fill 0; .*the same --fill"):
        merge([days / "one.h5", days / "two.h5"], days / "merged.h5")
    assert not (days / "merged.h5").exists()
    result = runner.invoke(app, ["merge", str(days / "one.h5"), str(days / "two.h5"), "-o", str(days / "merged.h5")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


def test_merge_keeps_an_equal_fill(days):
    convert(days / "day1.csv", days / "one.h5", options=ConvertOptions(target=("y",), fill=0))
    convert(days / "day2.csv", days / "two.h5", options=ConvertOptions(target=("y",), fill=0))
    merge([days / "one.h5", days / "two.h5"], days / "merged.h5")
    np.testing.assert_array_equal(_features(days / "merged.h5"), _expected(days, "day1.csv", "day2.csv", fill=0))
    with h5py.File(days / "merged.h5", "r") as f:
        assert f["features"].attrs["fill"] == 0


@pytest.mark.parametrize("how", ["--append", "--like"])
def test_a_recorded_fill_an_explicit_dtype_cannot_hold_names_the_file_not_a_fill_option(days, how):
    made = days / "made.h5"
    assert _cli("convert", days / "day1.csv", "-o", made, "--target", "y", "--fill", "-1").exit_code == 0
    before = made.read_bytes()
    out = made if how == "--append" else days / "new.h5"
    args = ["--append"] if how == "--append" else ["--like", made]
    result = _cli("convert", days / "day2.csv", "-o", out, *args, "--dtype", "uint8")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {made} stores empty cells as -1")
    for words in ("converted with --fill -1", f"{how} keeps that", "--dtype uint8 cannot hold -1", "--dtype auto"):
        assert words in lines[0]
    assert "does not fit" not in lines[0] and "pass a --fill" not in lines[0]  # no --fill was typed
    assert made.read_bytes() == before and not (days / "new.h5").exists()


@pytest.mark.parametrize(("template_fill", "appended_fill"), [("0", "1"), ("0", None), (None, "0")])
def test_like_and_append_of_files_that_differ_in_fill_are_refused_naming_both(days, template_fill, appended_fill):
    template, out = days / "template.h5", days / "all.h5"
    for path, fill in ((template, template_fill), (out, appended_fill)):
        fills = ["--fill", fill] if fill is not None else []
        assert _cli("convert", days / "day1.csv", "-o", path, "--target", "y", *fills).exit_code == 0
    before = out.read_bytes()
    result = _cli("convert", days / "day2.csv", "-o", out, "--like", template, "--append")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    shown = {None: "NaN (no --fill)", "0": "--fill 0", "1": "--fill 1"}
    assert len(lines) == 1
    assert f"{out} stores empty cells as {shown[appended_fill]} and {template} (--like) as {shown[template_fill]}" in lines[0]
    assert "drop --fill" not in lines[0]  # no --fill was typed
    assert out.read_bytes() == before


@pytest.mark.parametrize("text_column", [False, True], ids=["numbers", "beside text"])  # the typed and the text path
def test_a_negative_fill_of_small_integers_is_told_as_the_fills_and_stores_int8(tmp_path, text_column):
    text = "a,b,c\n1,2,x\n3,,y\n5,6,x\n" if text_column else "a,b\n1,2\n3,\n5,6\n"
    src = tmp_path / "f.csv"
    src.write_text(text)
    report = convert([src], tmp_path / "f.h5", options=ConvertOptions(fill=-3, categorical=("c",) if text_column else ()))
    assert report.widened == ["uint8 -> int8 for --fill -3"]  # the fill's doing, not a cell's at row 0
    expected = pd.read_csv(src).fillna(-3)[["a", "b"]].to_numpy()
    with h5py.File(tmp_path / "f.h5", "r") as f:
        x = f["features"][()]
    assert x.dtype == np.int8 and x[:, :2].tolist() == expected.tolist()  # the smallest dtype that holds 1..6 and -3


@pytest.mark.parametrize("cell, why", [("", " for --fill -1"), ("-1", "")], ids=["an empty cell", "a cell of -1"])
def test_a_later_block_widened_for_the_fill_says_so_and_one_widened_for_a_cell_does_not(tmp_path, cell, why):
    src = tmp_path / "f.csv"
    src.write_text("a,b\n" + "1,2\n" * 3000 + f"3,{cell}\n" + "100,2\n" * 3000)
    report = convert([src], tmp_path / "f.h5", options=ConvertOptions(fill=-1, block_bytes=4096))
    assert len(report.widened) == 1 and re.fullmatch(rf"uint8 -> int8 at row [1-9][\d,]*{why}", report.widened[0])
    with h5py.File(tmp_path / "f.h5", "r") as f:
        x = f["features"][()]
    assert x.dtype == np.int8 and x[3000].tolist() == [3, -1]  # int8 holds -1..100: no int16, and no second note
