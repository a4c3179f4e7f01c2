"""--dtype: every dtype --dtype auto may choose can be asked for by name; numbers in its messages, short."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadValueError, OptionError, number_text

LARGE = 5_000_000_000  # beyond int32: auto stores these features as int64


def _features(path):
    with h5py.File(path, "r") as f:
        return f["features"][()]


@pytest.mark.parametrize("text", ["a,b\n1,2\n3,4\n", f"a,b\n1,{LARGE}\n-3,4\n"], ids=["small", "beyond int32"])
def test_dtype_int64_is_taken_as_auto_chooses_it(tmp_path, text):
    src = tmp_path / "f.csv"
    src.write_text(text)
    convert([src], tmp_path / "f.h5", options=ConvertOptions(dtype="int64"))
    x = _features(tmp_path / "f.h5")
    expected = [[int(v) for v in line.split(",")] for line in text.splitlines()[1:]]
    assert x.dtype == np.int64 and x.tolist() == expected


def test_dtype_int64_holds_its_whole_range(tmp_path):
    src = tmp_path / "f.csv"
    src.write_text(f"a\n{2**63 - 1}\n{-(2**63)}\n")
    convert([src], tmp_path / "f.h5", options=ConvertOptions(dtype="int64"))
    assert _features(tmp_path / "f.h5").ravel().tolist() == [2**63 - 1, -(2**63)]


@pytest.mark.parametrize("cell", [str(2**63), f" {2**63}", "9.3e18", "-9.3e18", "1e30"])
@pytest.mark.parametrize("block_bytes", [8, 1 << 20])
def test_dtype_int64_refuses_2_to_the_63_as_a_cell(tmp_path, cell, block_bytes):
    src = tmp_path / "f.csv"
    src.write_text(f"a,b\n1,2\n{cell},3\n")  # read as a float, 2**63 compares equal to int64's top, 2**63 - 1
    # The cell as written (not the float it reads as), and no wider --dtype: there is none
    shown = re.escape(repr(cell.strip() if len(cell) <= 40 else cell[:37] + "..."))
    advice = re.escape("pass --dtype float64 (its values rounded), --drop a, or --categorical a to store it as codes")
    with pytest.raises(BadValueError, match=rf"f\.csv:3: column 'a' has {shown}, which int64 cannot hold exactly; {advice}$"):
        convert([src], tmp_path / "f.h5", options=ConvertOptions(dtype="int64", block_bytes=block_bytes))


@pytest.mark.parametrize(
    "dtype, cell, advice",
    [
        ("int64", "1.5", "pass a float --dtype, or --dtype auto"),
        ("int8", "2.50", "pass a float --dtype, or --dtype auto"),
        ("int8", "3e2", "pass a wider --dtype, or --dtype auto"),
        ("float16", "70000", "pass a wider --dtype, or --dtype auto"),
    ],
)
def test_a_cell_a_dtype_cannot_hold_is_shown_as_written_with_the_dtype_that_would(tmp_path, dtype, cell, advice):
    src = tmp_path / "f.csv"
    src.write_text(f"a,b\n1,2\n3,{cell}\n")
    with pytest.raises(BadValueError, match=rf"f\.csv:3: column 'b' has '{cell}', which {dtype} cannot hold exactly; {advice}$"):
        convert([src], tmp_path / "f.h5", options=ConvertOptions(dtype=dtype))


@pytest.mark.parametrize("text, words", [("a,b\n1,\n", "an empty cell"), ("a,b\n1,2.5\n", "'2.5'")])
def test_dtype_int64_refuses_what_it_cannot_hold_naming_the_cell(tmp_path, text, words):
    src = tmp_path / "f.csv"
    src.write_text(text)
    with pytest.raises(BadValueError, match=rf"f\.csv:2: column 'b' has {re.escape(words)}, which int64 cannot hold"):
        convert([src], tmp_path / "f.h5", options=ConvertOptions(dtype="int64"))


@pytest.mark.parametrize("fill", [-5_000_000_000, 2**53])
def test_dtype_int64_fills_with_integers_a_float_holds(tmp_path, fill):
    src = tmp_path / "f.csv"
    src.write_text("a,b\n1,\n2,3\n")
    convert([src], tmp_path / "f.h5", options=ConvertOptions(dtype="int64", fill=fill))
    assert _features(tmp_path / "f.h5").tolist() == [[1, fill], [2, 3]]


def test_a_fill_beyond_2_to_the_53_is_refused_for_int64_as_the_fill(tmp_path):
    with pytest.raises(OptionError, match=r"--fill -9223372036854775808 is beyond 2\*\*53, .*or --dtype float64$"):
        ConvertOptions(dtype="int64", fill=-(2**63))


@pytest.mark.parametrize("fill", [2**53 + 1, -(2**53) - 1, np.int64(2**53 + 1)])
def test_a_fill_one_past_2_to_the_53_is_refused_as_given_not_as_the_float_it_rounds_to(fill):
    assert float(fill) == np.sign(fill) * 2.0**53  # as a float it would pass for 2**53
    with pytest.raises(OptionError, match=rf"^--fill {int(fill)} is beyond 2\*\*53, .*for --dtype int64, or --dtype float64$"):
        ConvertOptions(dtype="int64", fill=fill)
    with pytest.raises(OptionError, match=rf"^--fill {int(fill)} is beyond 2\*\*53, .*: it would be {int(float(fill))};"):
        ConvertOptions(fill=fill)  # --dtype auto would store 2**53, not the fill given


def test_the_command_line_judges_a_fill_as_written(tmp_path):
    from typer.testing import CliRunner

    from csv2h5.cli import app

    src = tmp_path / "f.csv"
    src.write_text("a,b\n1,\n2,3\n")
    args = ["convert", str(src), "-o", str(tmp_path / "f.h5"), "--dtype", "int64", "--fill"]
    result = CliRunner().invoke(app, [*args, str(2**53 + 1)])
    assert result.exit_code == 2 and result.stderr.startswith(f"error: --fill {2**53 + 1} is beyond 2**53")
    assert not (tmp_path / "f.h5").exists()
    assert CliRunner().invoke(app, [*args, str(2**53)]).exit_code == 0
    assert _features(tmp_path / "f.h5").tolist() == [[1, 2**53], [2, 3]]
    result = CliRunner().invoke(app, [*args, "one", "--overwrite"])
    assert result.exit_code == 2 and "'one' is not a number" in result.stderr


@pytest.mark.parametrize("dtype", ["int32", "int64", "float16"])
def test_a_huge_fill_is_shown_as_a_float_not_its_hundreds_of_digits(dtype):
    with pytest.raises(OptionError, match=r"^--fill 1e\+300 (does not fit|is beyond)"):
        ConvertOptions(dtype=dtype, fill=1e300)


@pytest.mark.parametrize(
    "value, text", [(0.0, "0"), (-0.0, "0"), (-3.0, "-3"), (0.5, "0.5"), (2.0**53, "9007199254740992"), (1e300, "1e+300")]
)
def test_number_text(value, text):
    assert number_text(value) == text
    assert float(text) == value  # reads back as the value


@pytest.mark.parametrize(
    "text, dtype, words",
    [
        ("a,c\n1,x\n2,\n", "int16", "--dtype int16 cannot hold a missing category (NaN: no code stands for it); pass a float"),
        (
            "a,c\n" + "".join(f"{i % 9},v{i}\n" for i in range(300)),
            "int8",
            "--dtype int8 cannot hold the codes of the categorical columns (up to 299); pass a wider",
        ),
    ],
)
def test_an_integer_dtype_refuses_the_codes_it_cannot_hold_saying_so(tmp_path, text, dtype, words):
    src = tmp_path / "f.csv"
    src.write_text(text)
    with pytest.raises(BadValueError, match=re.escape(f"f.csv: {words}")):
        convert([src], tmp_path / "f.h5", options=ConvertOptions(dtype=dtype, categorical=("c",)))


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_an_integer_dtype_refuses_to_append_to_a_file_of_decimals_saying_so(tmp_path, dtype):
    (tmp_path / "old.csv").write_text("a,b\n1,0.5\n")
    (tmp_path / "new.csv").write_text("a,b\n1,2\n")
    convert([tmp_path / "old.csv"], tmp_path / "f.h5")
    words = f"new.csv: --dtype {dtype} cannot hold every value the file appended to holds already; pass --dtype auto"
    with pytest.raises(BadValueError, match=re.escape(words)):
        convert([tmp_path / "new.csv"], tmp_path / "f.h5", options=ConvertOptions(dtype=dtype, append=True))
    assert _features(tmp_path / "f.h5").tolist() == [[1.0, 0.5]]  # left as it was


WRITTEN_PAST_2_TO_THE_53 = ["9007199254740993.0", "9.007199254740993e15", "-9007199254740993.0", "9007199254740995.0"]


@pytest.mark.parametrize("cell", WRITTEN_PAST_2_TO_THE_53)
@pytest.mark.parametrize("block_bytes", [8, 1 << 20])
def test_a_whole_number_past_2_to_the_53_written_as_a_decimal_is_not_stored_as_a_rounded_integer(tmp_path, cell, block_bytes):
    # Read as a float, 2**53 + 1 written as a decimal is 2**53: stored as an integer it would be wrong
    # without a word. Auto keeps it the float it reads as; int64 refuses the cell, shown as written.
    src = tmp_path / "f.csv"
    src.write_text(f"a,b\n{cell},1\n5,2\n")
    convert([src], tmp_path / "auto.h5", options=ConvertOptions(block_bytes=block_bytes))
    x = _features(tmp_path / "auto.h5")
    assert x.dtype.kind == "f" and x[0, 0] == float(cell)
    with pytest.raises(
        BadValueError, match=rf"f\.csv:2: column 'a' has {re.escape(repr(cell))}, which int64 cannot hold exactly"
    ):
        convert([src], tmp_path / "int64.h5", options=ConvertOptions(dtype="int64", block_bytes=block_bytes))


def test_whole_numbers_below_2_to_the_53_written_as_decimals_stay_exact_integers(tmp_path):
    src = tmp_path / "f.csv"
    src.write_text(f"a,b\n{2**53 - 1}.0,1\n-5.0,2\n")
    for dtype in ("auto", "int64"):
        convert([src], tmp_path / f"{dtype}.h5", options=ConvertOptions(dtype=dtype))
        x = _features(tmp_path / f"{dtype}.h5")
        assert x.dtype == np.int64 and x[:, 0].tolist() == [2**53 - 1, -5]
