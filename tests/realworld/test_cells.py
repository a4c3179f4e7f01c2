"""Each kind of cell real tables hold, converted and compared cell by cell with pandas.read_csv.

Booleans in every spelling, pandas' missing-value spellings, quoted text holding
delimiters, quotes, tabs, CRLF, lone CR and Unicode (kept byte for byte), a
byte-order mark, ISO dates with and without UTC offsets, and text beside
numbers. pandas is the oracle throughout: numbers equal, booleans as 1/0, codes
decoded through the vocabulary back to pandas' text, dates against
``pandas.to_datetime(utc=True)``.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas_missing import PANDAS_DEFAULT_NA

from csv2h5 import BadValueError, ConvertOptions, convert
from csv2h5.info import describe, render

# (block_bytes, infer_bytes): many blocks (a row or two each) or one, all deciding the columns' kinds;
# or kinds decided on the first 256 bytes, the blocks after them read as their kinds say.
SIZES = [(48, 4 << 20), (1 << 20, 4 << 20), (48, 256)]


def _convert(src: Path, out: Path, **options) -> object:
    return convert([src], out, options=ConvertOptions(workers=0, **options))


def _truth(cell: object) -> float:
    """pandas' reading of a boolean cell as 1/0/NaN: True/False, or the text of a spelling it does not know."""
    if isinstance(cell, (bool, np.bool_)):
        return float(cell)
    if isinstance(cell, str):
        return {"true": 1.0, "false": 0.0}[cell.strip().lower()]
    return float("nan")


@pytest.mark.parametrize("block_bytes, infer_bytes", SIZES)
def test_booleans_in_every_spelling_become_1_and_0(tmp_path, stored, block_bytes, infer_bytes):
    spellings = ["true", "True", "TRUE", "tRuE", "false", "False", "FALSE", "fAlSe", " true", "", "NA", "null"]
    rng = random.Random(7)
    rows = [(i, rng.choice(spellings), rng.choice(["True", "False"]), rng.random() < 0.5) for i in range(300)]
    src = tmp_path / "flags.csv"
    src.write_text("id,flag,answered,plain\n" + "".join(f"{i},{a},{b},{str(c).lower()}\n" for i, a, b, c in rows))
    out = tmp_path / "flags.h5"
    report = _convert(src, out, block_bytes=block_bytes, infer_bytes=infer_bytes)
    expected = pd.read_csv(src)
    got = stored(out)
    for name in ("flag", "answered", "plain"):
        assert not got.mismatches(name, [_truth(c) for c in expected[name]]), name
    assert not got.mismatches("id", expected["id"].astype(float).tolist())
    assert got.names_attr("boolean_columns") == ["flag", "answered", "plain"]
    assert report.boolean_columns == ("flag", "answered", "plain")
    info = describe(out)
    assert info["booleans"] == ["flag", "answered", "plain"] and info["datetimes"] == []
    assert "booleans  3 (1 = true, 0 = false): flag, answered, plain" in render(info)


def test_boolean_columns_without_empty_cells_are_stored_as_small_integers(tmp_path, stored):
    src = tmp_path / "flags.csv"
    src.write_text("a,flag\n3,True\n4,false\n5,TRUE\n")
    _convert(src, tmp_path / "flags.h5")
    got = stored(tmp_path / "flags.h5")
    assert got.dtype == np.uint8 and got.values.tolist() == [[3, 1], [4, 0], [5, 1]]


@pytest.mark.parametrize("block_bytes, infer_bytes", SIZES)
def test_missing_value_spellings_are_empty_cells(tmp_path, stored, block_bytes, infer_bytes):
    spellings = PANDAS_DEFAULT_NA
    lines = [
        f"{i}.5,{spellings[i % len(spellings)] if i % 2 else i},{spellings[i % len(spellings)] if i % 3 else 'true'}"
        for i in range(4 * len(spellings))
    ]
    src = tmp_path / "na.csv"
    src.write_text("x,y,flag\n" + "\n".join(lines) + "\n")
    _convert(src, tmp_path / "na.h5", block_bytes=block_bytes, infer_bytes=infer_bytes)
    expected = pd.read_csv(src)
    got = stored(tmp_path / "na.h5")
    assert expected["y"].isna().sum() == 2 * len(spellings)  # the oracle reads every spelling as missing
    assert not got.mismatches("x", expected["x"].tolist())
    assert not got.mismatches("y", expected["y"].tolist())
    assert not got.mismatches("flag", [_truth(c) for c in expected["flag"]])


# Quoted cells as real exports write them: delimiters, doubled quotes, tabs, CRLF, LF and lone CR
# inside quotes, Unicode, spaces kept; the file itself has CRLF line ends and a byte-order mark.
TEXTS = [
    '"Fine, thanks"',
    '"line one\r\nline two"',
    '"tab\there"',
    '"lone\rcarriage"',
    '"say ""hi"""',
    "Zürich",
    '"São Paulo"',
    "東京",
    "naïve café ☕",
    " padded ",
    '"two\nlines"',
    "plain",
]


@pytest.mark.parametrize("block_bytes, infer_bytes", SIZES)
def test_quoted_text_comes_back_byte_for_byte(tmp_path, stored, block_bytes, infer_bytes):
    rng = random.Random(3)
    rows = [f"{i},{rng.choice(TEXTS)},{i / 4},{rng.choice(TEXTS)}" for i in range(120)]
    src = tmp_path / "text.csv"
    src.write_bytes(b"\xef\xbb\xbf" + ("id,comment,score,label\r\n" + "\r\n".join(rows) + "\r\n").encode())
    out = tmp_path / "text.h5"
    _convert(src, out, block_bytes=block_bytes, infer_bytes=infer_bytes, categorical=("comment",), target=("label",))
    expected = pd.read_csv(src)
    got = stored(out)
    assert got.names == ["id", "comment", "score"]  # the byte-order mark is not part of the first name
    assert got.column("comment") == expected["comment"].tolist()
    assert any("\r\n" in text for text in got.vocabularies["comment"])  # the point: CRLF kept inside quotes
    assert got.labels() == expected["label"].tolist()
    assert not got.mismatches("score", expected["score"].tolist())


def test_a_quoted_crlf_in_a_header_less_file_of_numbers_and_text(tmp_path, stored):
    """CRLF line ends with a quote in the block: pyarrow, not a replacement, takes \\r\\n as the line end."""
    src = tmp_path / "t.csv"
    src.write_bytes(b'1,"a\r\nb"\r\n2,c\r\n3,"d"\r\n')
    _convert(src, tmp_path / "t.h5", header=False, categorical=("1",))
    got = stored(tmp_path / "t.h5")
    assert got.column("c0") == [1.0, 2.0, 3.0] and got.column("c1") == ["a\r\nb", "c", "d"]


def _seconds(texts: pd.Series) -> list[float]:
    """pandas' reading of ISO-8601 cells as seconds since 1970 UTC (naive ones as UTC)."""
    stamps = pd.to_datetime(texts, utc=True, format="ISO8601")
    return ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).tolist()


DATES = [
    "2024-05-31",
    "1969-07-20",
    "2024-05-31T14:30:00",
    "2024-05-31 14:30",
    "2024-05-31T14:30:00Z",
    "2024-05-31T14:30:00+02:00",
    "2024-05-31T14:30:00-0530",
    "2024-05-31T23:59:59.250+05",
    "2000-02-29T12:00:00.123456",
    "2038-01-19T03:14:08",
    "",
    "NA",
]


@pytest.mark.parametrize("block_bytes", [48, 1 << 20])
def test_dates_become_seconds_since_the_epoch_in_utc(tmp_path, stored, block_bytes):
    rng = random.Random(5)
    src = tmp_path / "dates.csv"
    src.write_text("when,x\n" + "".join(f"{rng.choice(DATES)},{i}\n" for i in range(200)))
    out = tmp_path / "dates.h5"
    report = _convert(src, out, block_bytes=block_bytes, datetime=("wh*",))
    expected = _seconds(pd.read_csv(src, dtype={"when": str})["when"])
    got = stored(out).column("when")
    whole = [e for e in expected if not np.isnan(e) and e == int(e)]
    assert len(whole) > 100
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)  # fractions: to a microsecond
    assert [g for g, e in zip(got, expected) if e in whole] == whole  # whole seconds: exactly
    assert stored(out).names_attr("datetime_columns") == ["when"] and report.datetime_columns == ("when",)
    assert describe(out)["datetimes"] == ["when"]


def test_whole_dates_are_stored_as_integers(tmp_path, stored):
    src = tmp_path / "days.csv"
    src.write_text("day,n\n2024-05-31,1\n1970-01-02,2\n2038-01-19,3\n")
    _convert(src, tmp_path / "days.h5", datetime=("day",))
    got = stored(tmp_path / "days.h5")
    assert got.dtype == np.int32  # seconds until 2038-01-19 fit int32 exactly
    assert got.column("day") == _seconds(pd.Series(["2024-05-31", "1970-01-02", "2038-01-19"]))


@pytest.mark.parametrize("cell", ["31/05/2024", "2024-02-30", "yesterday", "2024-05-31T25:00", "20240531"])
def test_a_cell_that_is_not_a_date_is_an_error_with_its_line(tmp_path, cell):
    src = tmp_path / "dates.csv"
    src.write_text("when,x\n" + "2024-01-01,1\n" * 30 + f"{cell},2\n")
    with pytest.raises(BadValueError, match=rf"dates\.csv:32: column 'when' has '{cell}', which is not an ISO-8601 date"):
        _convert(src, tmp_path / "dates.h5", datetime=("when",), block_bytes=64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dates.csv"]


@pytest.mark.parametrize("block_bytes", [48, 1 << 20])
def test_text_beside_numbers_with_categorical_auto(tmp_path, stored, block_bytes):
    rng = random.Random(11)
    cities = ["Paris", "Lyon", "Zürich", '"Bern, CH"', ""]
    rows = [
        f"{i},{rng.choice(cities)},{rng.choice(['0', '7', 'x12'])},{i * 0.5},0{rng.randrange(1000, 9999)},"
        f"{rng.choice(['2024-01-01', '2024-02-03'])}"
        for i in range(150)
    ]
    src = tmp_path / "mixed.csv"
    src.write_text("id,city,code,amount,zip,day\n" + "\n".join(rows) + "\n")
    out = tmp_path / "mixed.h5"
    # zip looks like numbers but is an identifier with leading zeros: named, it stays text as written.
    report = _convert(src, out, block_bytes=block_bytes, categorical=("auto", "zip"))
    expected = pd.read_csv(src, dtype={"zip": str, "code": str, "day": str}, keep_default_na=True)
    got = stored(out)
    assert sorted(got.vocabularies) == ["city", "code", "day", "zip"]
    for name in ("city", "code", "day", "zip"):
        assert got.column(name) == [None if pd.isna(v) else v for v in expected[name]], name
    assert not got.mismatches("id", expected["id"].astype(float).tolist())
    assert not got.mismatches("amount", expected["amount"].tolist())
    assert report.categorical_columns == ("city", "code", "zip", "day")
    # zip, named, is stored as asked; with a distinct value in almost every row it is warned about, as id
    # (numbers named like an identifier) is
    assert report.warnings == (
        "column 'day' looks like dates and is stored as categorical codes; pass --datetime day for seconds since 1970 instead",
        "column 'zip' looks like an identifier (a distinct value in almost every row) and is"
        " stored as categorical codes, which mean nothing to a model; --drop zip",
        "column 'id' is named like an identifier and stored as numbers, which a model reads as a quantity;"
        " --drop id if it is one",
    )


def test_a_boolean_target_is_two_classes_false_and_true(tmp_path, stored):
    src = tmp_path / "churn.csv"
    labels = ["True", "false", "TRUE", "False", "true", "true"]
    src.write_text("tenure,churned\n" + "".join(f"{i},{label}\n" for i, label in enumerate(labels)))
    report = _convert(src, tmp_path / "churn.h5", target=("churned",), block_bytes=16)
    got = stored(tmp_path / "churn.h5")
    expected = pd.read_csv(src)["churned"]
    assert expected.dtype == bool  # the oracle reads them as booleans
    assert report.task == "classification" and got.classes == ["false", "true"]
    assert got.target.tolist() == expected.astype(int).tolist()  # code 1 is true
    assert describe(tmp_path / "churn.h5")["target"]["class_counts"] == [2, 4]


def test_a_boolean_target_of_one_value_still_has_both_classes(tmp_path, stored):
    src = tmp_path / "day.csv"
    src.write_text("x,fraud\n1,false\n2,False\n")
    report = _convert(src, tmp_path / "day.h5", target=("fraud",))
    assert stored(tmp_path / "day.h5").classes == ["false", "true"]  # code 0 is false in every part
    assert report.warnings and "single class ('false')" in report.warnings[0]


def test_a_boolean_target_for_regression_is_1_and_0(tmp_path, stored):
    src = tmp_path / "y.csv"
    src.write_text("x,y\n1,True\n2,false\n")
    _convert(src, tmp_path / "y.h5", target=("y",), task="regression")
    assert stored(tmp_path / "y.h5").target.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("labels, line", [(["true", "false", "maybe"], 4), (["no", "False"], 2)])
def test_true_false_labels_beside_other_labels_are_an_error(tmp_path, labels, line):
    src = tmp_path / "y.csv"
    src.write_text("x,y\n" + "".join(f"{i},{label}\n" for i, label in enumerate(labels)))
    with pytest.raises(BadValueError, match=rf"y\.csv:{line}: target column 'y' has '\w+' among true/false labels"):
        _convert(src, tmp_path / "y.h5", target=("y",))
