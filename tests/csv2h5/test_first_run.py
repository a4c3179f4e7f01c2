"""A new user's first conversions: European CSVs, tab-separated files, standard input, and advice that leads somewhere good."""

from __future__ import annotations

import gzip
import shlex
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadValueError, OptionError, SchemaError
from csv2h5.kinds import counted_like_identifier, named_like_identifier


def _convert(src: Path | str, out: Path, *options: str, **kwargs) -> subprocess.CompletedProcess:
    """``csv2h5 convert SRC -o OUT -q OPTIONS...`` in its own process, as a user types it."""
    command = [sys.executable, "-m", "csv2h5", "convert", str(src), "-o", str(out), "-q", *options]
    return subprocess.run(command, capture_output=True, timeout=120, **kwargs)


def _features(path: Path) -> pd.DataFrame:
    with h5py.File(path, "r") as f:
        columns = [c.decode() if isinstance(c, bytes) else str(c) for c in f["features"].attrs["columns"]]
        return pd.DataFrame(f["features"][()].astype(np.float64), columns=columns)


def _target(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return f["target"][()]


# -- European CSVs: decimal commas ------------------------------------------------------------------------------

EUROPEAN = (
    "weight;height;score;y\n"
    "70,5;1,62;-0,25;1,5\n"
    "81;1,80;2,5e3;2\n"
    ";1,75;,5;0,125\n"  # an empty cell, a fraction without its zero
    " 64,25 ;1,5;7;-3,75\n"
)  # spaces around a number, as pandas reads them


@pytest.fixture
def european_csv(tmp_path: Path) -> Path:
    src = tmp_path / "eu.csv"
    src.write_text(EUROPEAN)
    return src


def test_decimal_comma_reads_as_pandas_decimal(tmp_path, european_csv):
    src, out = european_csv, tmp_path / "eu.h5"
    done = _convert(src, out, "--target", "y", "--decimal", ",")  # ';' goes with ','
    assert done.returncode == 0, done.stderr
    expected = pd.read_csv(src, sep=";", decimal=",")
    got = _features(out)
    # short decimals are stored as float32 (as csv2h5 stores 70.5 written with a point)
    np.testing.assert_array_equal(got.to_numpy(np.float32), expected[["weight", "height", "score"]].to_numpy(np.float32))
    np.testing.assert_array_equal(_target(out), expected["y"].to_numpy(np.float32))
    assert got.loc[0, "weight"] == float("70.5")


@pytest.mark.parametrize("block_bytes", [24, 1 << 20])
@pytest.mark.parametrize("categorical", [(), ("name",)])
def test_decimal_comma_on_every_parse_path_and_block_size(tmp_path, block_bytes, categorical):
    """The typed path (pyarrow's decimal_point) and the text path (a text column beside) read the same numbers."""
    rng = np.random.default_rng(3)
    values = rng.normal(size=(200, 2)).round(3)
    names = rng.choice(["Köln", "Lyon", "Gent"], 200)
    lines = [f"{n};{a};{b}".replace(".", ",") for n, a, b in zip(names, values[:, 0], values[:, 1])]
    src = tmp_path / "eu.tsv"
    src.write_text("name\ta\tb\n".replace("\t", ";") + "\n".join(lines) + "\n")
    options = ConvertOptions(
        decimal=",",
        delimiter=";",
        categorical=categorical,
        drop=() if categorical else ("name",),
        block_bytes=block_bytes,
        infer_bytes=block_bytes,
        workers=0,
    )
    convert(src, tmp_path / "eu.h5", options=options)
    expected = pd.read_csv(src, sep=";", decimal=",")
    got = _features(tmp_path / "eu.h5")
    np.testing.assert_array_equal(got[["a", "b"]].to_numpy(np.float32), expected[["a", "b"]].to_numpy(np.float32))


def test_a_decimal_point_is_text_where_the_decimal_mark_is_a_comma(tmp_path):
    src = tmp_path / "eu.csv"
    src.write_text("a;b;y\n1,5;2;0\n2;2.5;1\n")
    assert pd.read_csv(src, sep=";", decimal=",")["b"].dtype.kind not in "fi"  # pandas: text too
    done = _convert(src, tmp_path / "eu.h5", "--target", "y", "--decimal", ",")
    assert done.returncode == 2
    assert b"eu.csv:3: column 'b' has '2.5', which is not a number" in done.stderr


def test_decimal_commas_are_named_and_the_advice_converts(tmp_path, european_csv):
    src, out = european_csv, tmp_path / "eu.h5"
    done = _convert(src, out, "--target", "y", "--delimiter", ";")
    assert done.returncode == 2 and not out.exists()
    (line,) = done.stderr.decode().splitlines()
    assert line.startswith(
        f"error: {src}:2: column 'weight' has '70,5', which is not a number, and 2 more columns"
        " hold text (height, score); pass --decimal , ("
    ), line
    assert "weight, height, score: numbers written with a decimal comma, such as '70,5'" in line
    pasted = shlex.split(line.split("; pass ")[1].split(" (")[0])
    assert pasted == ["--decimal", ","]
    done = _convert(src, out, "--target", "y", "--delimiter", ";", *pasted)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(
        _features(out)["weight"].to_numpy(np.float32), pd.read_csv(src, sep=";", decimal=",")["weight"].to_numpy(np.float32)
    )


def test_quoted_decimal_commas_in_a_comma_separated_file_are_named_and_read_as_pandas_reads_them(tmp_path):
    """pandas reads ``"70,5"`` as 70.5 with decimal="," and sep=",": the advice says both, and they convert."""
    src, out = tmp_path / "quoted.csv", tmp_path / "quoted.h5"
    src.write_text('w,h,y\n"70,5","1,62",0\n81,"1,8",1\n"-0,25",,0\n')
    done = _convert(src, out, "--target", "y")
    assert done.returncode == 2 and not out.exists()
    (line,) = done.stderr.decode().splitlines()
    assert "w, h: numbers written with a decimal comma, such as '70,5'" in line, line
    pasted = shlex.split(line.split("; pass ")[1].split(" (")[0])
    assert pasted == ["--decimal", ",", "--delimiter", ","]
    done = _convert(src, out, "--target", "y", *pasted)
    assert done.returncode == 0, done.stderr
    expected = pd.read_csv(src, decimal=",")
    np.testing.assert_array_equal(_features(out).to_numpy(np.float32), expected[["w", "h"]].to_numpy(np.float32))


@pytest.mark.parametrize(
    "text, delimiter, advised",
    [
        ('x,y\n"1,234",0\n"56,789",1\n7,0\n', ",", False),  # US thousands separators: 1.234 would be wrong
        ('x,y\n"1,234",0\n"70,5",1\n', ",", True),  # 70,5 groups no thousands: decimal commas
        ("x;y\n1,234;0\n12,500;1\n", ";", True),  # ;-separated: the European reading
    ],
)
def test_digits_grouped_by_three_in_a_comma_separated_file_get_no_decimal_comma_advice(tmp_path, text, delimiter, advised):
    src = tmp_path / "n.csv"
    src.write_text(text)
    done = _convert(src, tmp_path / "n.h5", "--target", "y", "--delimiter", delimiter)
    assert done.returncode == 2
    assert ("--decimal ," in done.stderr.decode()) == advised, done.stderr


def test_an_unquoted_decimal_comma_in_a_comma_separated_file_is_named(tmp_path):
    src = tmp_path / "bare.csv"
    src.write_text('w,h,y\n"70,5",1,0\n3,5,2,1\n')
    done = _convert(src, tmp_path / "bare.h5", "--target", "y", "--decimal", ",", "--delimiter", ",")
    assert done.returncode == 2
    assert b"bare.csv:3: expected 3 fields as in the header, found 4 (a decimal comma outside quotes?" in done.stderr


def test_decimal_options_are_checked():
    assert ConvertOptions(decimal=",", delimiter=",").delimiter == ","  # quoted decimal commas, as pandas allows
    with pytest.raises(OptionError, match="--decimal must be"):
        ConvertOptions(decimal=";")


# -- tab-separated files, standard input --------------------------------------------------------------------------

TABLE = "a\tb\tcity\ty\n1.5\t2\tParis\t0\n3\t4\tBern, CH\t1\n-7.25\t\tLyon\t0\n"


@pytest.fixture
def table_txt(tmp_path: Path) -> Path:
    """TABLE in a file whose name does not say it is tab-separated."""
    src = tmp_path / "t.txt"
    src.write_text(TABLE)
    return src


def _same_as_pandas(out: Path, src: Path) -> None:
    expected = pd.read_csv(src, sep="\t")
    got = _features(out)
    assert list(got.columns) == ["a", "b"]
    np.testing.assert_array_equal(got.to_numpy(np.float32), expected[["a", "b"]].to_numpy(np.float32))
    np.testing.assert_array_equal(_target(out), expected["y"].to_numpy())


@pytest.mark.parametrize("spelling", ["tab", "\\t", "TAB"])
def test_delimiter_tab_by_name_or_escape(tmp_path, table_txt, spelling):
    done = _convert(table_txt, tmp_path / "t.h5", "--target", "y", "--drop", "city", "--delimiter", spelling)
    assert done.returncode == 0, done.stderr
    _same_as_pandas(tmp_path / "t.h5", table_txt)


@pytest.mark.parametrize("name", ["t.tsv", "t.tab", "t.TSV", "t.tsv.gz"])
def test_tsv_and_tab_files_are_tab_separated(tmp_path, name):
    src = tmp_path / name
    data = TABLE.encode()
    src.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    done = _convert(src, tmp_path / "t.h5", "--target", "y", "--drop", "city")
    assert done.returncode == 0, done.stderr
    plain = tmp_path / "plain.tsv"
    plain.write_bytes(data)
    _same_as_pandas(tmp_path / "t.h5", plain)


def test_a_comma_delimiter_asked_for_a_tsv_file_is_kept(tmp_path):
    src = tmp_path / "commas.tsv"
    src.write_text("a,b,y\n1,2,0\n3,4,1\n")
    done = _convert(src, tmp_path / "c.h5", "--target", "y", "--delimiter", ",")
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(_features(tmp_path / "c.h5").to_numpy(), [[1, 2], [3, 4]])


@pytest.mark.parametrize("how", ["pipe", "redirected file"])
def test_dash_reads_standard_input(tmp_path, table_txt, how):
    args = ("-", tmp_path / "t.h5", "--target", "y", "--drop", "city", "--delimiter", "tab")
    if how == "pipe":
        done = _convert(*args, input=table_txt.read_bytes())
    else:
        with open(table_txt, "rb") as stdin:
            done = _convert(*args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    _same_as_pandas(tmp_path / "t.h5", table_txt)
    with h5py.File(tmp_path / "t.h5", "r") as f:
        assert '"name": "<stdin>"' in f.attrs["sources"] and '"rows": 3' in f.attrs["sources"]


def test_errors_in_standard_input_name_it(tmp_path):
    done = _convert("-", tmp_path / "t.h5", input=b"a,b\n1,2\n3,x\n")
    assert done.returncode == 2
    assert done.stderr.decode().startswith("error: <stdin>:3: column 'b' has 'x', which is not a number")
    assert list(tmp_path.iterdir()) == []


def test_standard_input_given_twice_is_refused_not_read_as_empty(tmp_path):
    done = _convert("-", tmp_path / "t.h5", "-", input=b"a,b\n1,2\n")  # "csv2h5 convert - -o t.h5 -q -"
    assert done.returncode == 2
    assert done.stderr.decode().startswith("error: - (standard input) is given more than once"), done.stderr
    assert list(tmp_path.iterdir()) == []


# -- identifiers, dates: advice that leads somewhere good ---------------------------------------------------------


def _customers(rows: int = 300) -> pd.DataFrame:
    """Customers as public tables hold them: an identifier, a city, a signup date, an age, whether they left."""
    rng = np.random.default_rng(5)
    table = pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(rows)],
            "city": rng.choice(["Paris", "Lyon", "Nice", "Metz"], rows),
            "signup": [f"{2000 + i % 20}-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(rows)],
            "age": rng.integers(18, 90, rows),
            "churned": rng.integers(0, 2, rows),
        }
    )
    return table


@pytest.fixture
def customers_csv(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    _customers().to_csv(path, index=False)
    return path


def test_the_text_refusal_splits_categories_identifiers_and_dates_and_pasted_it_converts(tmp_path, customers_csv):
    src, table, out = customers_csv, _customers(), tmp_path / "c.h5"  # the table the file was written from
    done = _convert(src, out, "--target", "churned")
    assert done.returncode == 2
    (line,) = done.stderr.decode().splitlines()
    assert "; pass --categorical city --drop customer_id --datetime signup (" in line, line
    assert "--categorical customer_id" not in line and "--categorical city,customer_id" not in line
    pasted = shlex.split(line.split("; pass ")[1].split(" (")[0])
    done = _convert(src, out, "--target", "churned", *pasted)
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    got = _features(out)
    assert list(got.columns) == ["city", "signup", "age"]
    seconds = (pd.to_datetime(table["signup"]) - pd.Timestamp("1970-01-01")).dt.total_seconds()
    np.testing.assert_array_equal(got["signup"], seconds.to_numpy())


@pytest.mark.parametrize("categorical", ["auto", "customer_id,city"])
def test_an_identifier_stored_as_codes_is_warned_about(tmp_path, customers_csv, categorical):
    done = _convert(customers_csv, tmp_path / "c.h5", "--target", "churned", "--datetime", "signup", "--categorical", categorical)
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().splitlines() == [
        "warning: column 'customer_id' looks like an identifier (a distinct value in almost every row) and is stored"
        " as categorical codes, which mean nothing to a model; --drop customer_id"
    ]


def test_a_number_column_named_like_an_identifier_is_warned_about(tmp_path):
    src = tmp_path / "c.csv"
    src.write_text("customerID,age,valid,y\n" + "".join(f"{1000 + i},{20 + i % 50},{i % 2},{i % 3}\n" for i in range(60)))
    done = _convert(src, tmp_path / "c.h5", "--target", "y")
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode().splitlines() == [  # valid holds "id" but is not named like one
        "warning: column 'customerID' is named like an identifier and stored as numbers, which a model reads as"
        " a quantity; --drop customerID if it is one"
    ]
    assert _convert(src, tmp_path / "d.h5", "--target", "y", "--drop", "customerID").stderr == b""


def test_a_category_with_repeated_values_is_not_warned_about(tmp_path, customers_csv):
    options = ("--target", "churned", "--datetime", "signup", "--categorical", "city", "--drop", "customer_id")
    done = _convert(customers_csv, tmp_path / "c.h5", *options)
    assert done.returncode == 0 and done.stderr == b"", done.stderr


@pytest.mark.parametrize("day", ["{:04d}-01-01", "{:04d}-01-01T06:00:00Z"])
def test_max_categories_refuses_dates_with_datetime(tmp_path, day):
    src = tmp_path / "days.csv"
    src.write_text("day,y\n" + "".join(f"{day.format(1960 + i)},{i % 2}\n" for i in range(30)))
    done = _convert(src, tmp_path / "d.h5", "--target", "y", "--categorical", "auto", "--max-categories", "10")
    assert done.returncode == 2
    line = done.stderr.decode().strip()
    assert "column 'day' has more than 10 distinct values" in line and "ISO dates; pass --datetime day" in line, line
    assert "an identifier or free text" not in line
    assert day.format(1969) in pd.read_csv(src)["day"].tolist()  # as seen in public tables: 1969-01-01


def test_max_categories_refuses_an_identifier_with_drop(tmp_path, customers_csv):
    options = ("--target", "churned", "--categorical", "auto", "--datetime", "signup", "--max-categories", "50")
    done = _convert(customers_csv, tmp_path / "c.h5", *options)
    assert done.returncode == 2
    line = done.stderr.decode()
    assert "it looks like an identifier" in line and "--drop customer_id" in line and "keep it as codes" not in line


@pytest.mark.parametrize(
    "name,expected",
    [
        ("id", True),
        ("ID", True),
        ("Id", True),
        ("customer_id", True),
        ("CustomerID", True),
        ("customerId", True),
        ("Passenger Id", True),
        ("uuid", True),
        ("order-uuid", True),
        ("GUID", True),
        ("paid", False),
        ("valid", False),
        ("grid", False),
        ("idea", False),
        ("identity", False),
        ("city", False),
    ],
)
def test_names_like_identifiers(name, expected):
    assert named_like_identifier(name) is expected


def test_counted_like_identifier():
    assert counted_like_identifier(50_000, 50_000) and counted_like_identifier(95, 100)
    assert not counted_like_identifier(20, 100)  # categories repeat
    assert not counted_like_identifier(10, 10)  # ten rows of ten cities say little


def test_text_found_late_in_an_identifier_is_not_suggested_as_codes(tmp_path):
    """Numbers in the first rows, then text: an id column is to be dropped, not coded."""
    src = tmp_path / "late.csv"
    src.write_text("order_id,x,y\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(200)) + "A-17,1,0\n")
    with pytest.raises(BadValueError, match=r"late\.csv:202: column 'order_id' has 'A-17'.*; pass --drop order_id \(") as err:
        convert(src, tmp_path / "late.h5", options=ConvertOptions(target=("y",), infer_bytes=256, block_bytes=256, workers=0))
    assert "--categorical" not in str(err.value)


def test_unique_dates_stored_as_codes_get_the_dates_warning_alone(tmp_path):
    src = tmp_path / "days.csv"
    src.write_text("day,y\n" + "".join(f"{1900 + i:04d}-01-01,{i % 2}\n" for i in range(80)))
    report = convert(src, tmp_path / "d.h5", options=ConvertOptions(target=("y",), categorical=("auto",)))
    assert report.warnings == (
        "column 'day' looks like dates and is stored as categorical codes; pass --datetime day for seconds since 1970 instead",
    )


def test_one_file_given_twice_is_refused_not_stored_twice(tmp_path):
    src = tmp_path / "a.csv"
    src.write_bytes(b"a,b\n1,2\n3,4\n")
    (tmp_path / "link.csv").symlink_to(src)
    for second in (src, tmp_path / "link.csv", tmp_path / "." / "a.csv"):
        done = _convert(src, tmp_path / "t.h5", str(second))
        assert done.returncode == 2, done.stderr
        assert done.stderr.decode().startswith(f"error: {second} is given twice"), done.stderr
        assert "pass each input once" in done.stderr.decode()
        assert not (tmp_path / "t.h5").exists()
    other = tmp_path / "b.csv"
    other.write_bytes(src.read_bytes())  # the same bytes in another file: two inputs, every row kept
    assert _convert(src, tmp_path / "t.h5", str(other)).returncode == 0
    assert len(_features(tmp_path / "t.h5")) == 4


def test_na_values_read_the_users_own_missing_spellings_as_pandas_does(tmp_path):
    # UCI's tables write "?" for a missing cell; "-" and "n.a." are seen elsewhere. pandas' defaults stay.
    text = "a,b,city,label\n1,?,Paris,0\n?,2.5,-,1\n3,NA,Lyon,0\nn.a.,4,?,1\n"
    src = tmp_path / "t.csv"
    src.write_text(text)
    out = tmp_path / "t.h5"
    done = _convert(
        src, out, "--target", "label", "--na-values", "?", "--na-values", "-", "--na-values", "n.a.", "--categorical", "city"
    )
    assert done.returncode == 0, done.stderr
    expected = pd.read_csv(src, na_values=["?", "-", "n.a."])
    stored = _features(out)
    np.testing.assert_array_equal(stored["a"].to_numpy(), expected["a"].to_numpy())
    np.testing.assert_array_equal(stored["b"].to_numpy(), expected["b"].to_numpy())
    with h5py.File(out, "r") as f:
        vocabulary = [v.decode() for v in f["categories/city"][()]]
    codes = stored["city"].to_numpy()
    named = [vocabulary[int(c)] if c == c and c >= 0 else None for c in codes]
    assert named == [None if v != v else v for v in expected["city"].tolist()]
    # Without the option "?" is text, and the refusal names it.
    refused = _convert(src, tmp_path / "u.h5", "--target", "label", "--categorical", "city")
    assert refused.returncode == 2 and "(if '?' marks a missing cell: --na-values '?')" in refused.stderr.decode()


def test_na_values_must_be_spellings(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a,label\n1,0\n")
    done = _convert(src, tmp_path / "t.h5", "--target", "label", "--na-values", "")
    assert done.returncode == 2 and done.stderr.decode().startswith("error: --na-values takes non-empty spellings")


def test_na_values_reach_the_parser_processes(tmp_path):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 100, size=(3_000, 3)).astype(str).astype(object)
    values[rng.random(values.shape) < 0.1] = "?"  # in every block of 64 bytes or so
    src = tmp_path / "t.csv"
    src.write_text("a,b,c,label\n" + "".join(f"{a},{b},{c},{i % 2}\n" for i, (a, b, c) in enumerate(values)))
    out = tmp_path / "t.h5"
    convert([src], out, options=ConvertOptions(target=("label",), na_values=("?",), workers=2, block_bytes=4096))
    expected = pd.read_csv(src, na_values=["?"])
    np.testing.assert_array_equal(_features(out).to_numpy(), expected[["a", "b", "c"]].to_numpy(dtype=np.float64))


def test_one_path_given_twice_in_python_is_refused(tmp_path):
    src = tmp_path / "a.csv"
    src.write_bytes(b"a,label\n1,0\n2,1\n")
    with pytest.raises(SchemaError, match="is given twice; its rows would be stored twice"):
        convert([src, src], tmp_path / "t.h5", options=ConvertOptions(target=("label",)))
    assert not (tmp_path / "t.h5").exists()
