"""Engine tests: exact values, dtypes, stats, block-size independence."""

from __future__ import annotations

import bz2
import io
import lzma
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadLineError, BadValueError, ColumnNotFoundError, OutputExistsError


def _read(path: Path) -> tuple[np.ndarray, np.ndarray | None, h5py.File]:
    f = h5py.File(path, "r")
    return f["features"][()], (f["target"][()] if "target" in f else None), f


@pytest.mark.parametrize("block_bytes", [64, 4096, 1 << 20])
@pytest.mark.parametrize("workers", [0, 2])
def test_digits_round_trip_any_block_size(digits_csv, tmp_path, block_bytes, workers):
    out = tmp_path / "d.h5"
    report = convert([digits_csv], out, options=ConvertOptions(target=("label",), block_bytes=block_bytes, workers=workers))
    expected = pd.read_csv(digits_csv)
    x, y, f = _read(out)
    with f:
        assert x.dtype == np.uint8
        assert np.array_equal(x, expected.iloc[:, 1:].to_numpy())
        classes = list(f["target"].attrs["classes"])
        assert classes == sorted(expected.label.unique().tolist())
        assert np.array_equal(np.asarray(classes)[y], expected.label.to_numpy())
        assert np.allclose(f["stats/mean"][()], expected.iloc[:, 1:].mean().to_numpy())
        assert np.allclose(f["stats/std"][()], expected.iloc[:, 1:].std(ddof=0).to_numpy())
        assert np.array_equal(f["stats/class_counts"][()], np.bincount(y))
        assert f.attrs["rows"] == 600 and f.attrs["csv2h5_format"] == 1
    assert report.rows == 600


def test_widening_keeps_earlier_rows_exact(tmp_path):
    src = tmp_path / "w.csv"
    src.write_text("a,b\n1,2\n3,4\n" + "5,300\n" + "6,-7\n" + "0.5,1\n")
    out = tmp_path / "w.h5"
    report = convert([src], out, options=ConvertOptions(block_bytes=4))
    x, _, f = _read(out)
    f.close()
    assert x.dtype == np.float32
    assert np.array_equal(x, np.array([[1, 2], [3, 4], [5, 300], [6, -7], [0.5, 1]], dtype=np.float32))
    # reported: from the first dtype, ending at float32 (the steps depend on how blocks were cut)
    assert report.widened[0].startswith("uint8 -> ") and report.widened[-1].split(" at row ")[0].endswith("-> float32")


def test_decimals_needing_float64_are_not_rounded(tmp_path):
    src = tmp_path / "f.csv"
    src.write_text("a\n0.1\n3.141592653589793\n")
    out = tmp_path / "f.h5"
    convert([src], out)
    x, _, f = _read(out)
    f.close()
    assert x.dtype == np.float64
    assert x[1, 0] == 3.141592653589793


def test_text_labels_and_empty_cells(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text('x,y,label\n1,,cat\n2,5,"dog"\n3,6,cat\n')
    out = tmp_path / "t.h5"
    report = convert([src], out, options=ConvertOptions(target=("label",)))
    x, y, f = _read(out)
    with f:
        assert [c.decode() if isinstance(c, bytes) else c for c in f["target"].attrs["classes"]] == ["cat", "dog"]
        assert y.tolist() == [0, 1, 0]
        assert np.isnan(x[0, 1]) and f["stats/nan_count"][()].tolist() == [0, 1]
    assert report.empty_cell_columns == ["y"]


def test_errors_leave_nothing(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("a,b\n1,2\n3,4,5\n")
    out = tmp_path / "o.h5"
    with pytest.raises(BadLineError, match=r"bad.csv:3: expected 2 fields"):
        convert([src], out)
    assert list(tmp_path.iterdir()) == [src]
    with pytest.raises(ColumnNotFoundError, match="did you mean 'a'"):
        convert([src], out, options=ConvertOptions(target=("A",)))
    src.write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(BadValueError, match=r"bad.csv:3: column 'b' has 'x'"):
        convert([src], out)
    assert list(tmp_path.iterdir()) == [src]
    out.write_bytes(b"keep")
    with pytest.raises(OutputExistsError, match=r"o.h5 already exists; pass --overwrite to replace it or --append"):
        convert([src], out)
    assert out.read_bytes() == b"keep"


def _open_files() -> list[str]:
    names = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            names.append(os.readlink(fd))
        except OSError:  # the directory's own descriptor, gone once listed
            pass
    return names


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to list open files")
@pytest.mark.parametrize("workers", [0, 2])
def test_a_failed_conversion_closes_its_input(tmp_path, workers):
    src = tmp_path / "bad.csv"
    src.write_text("a,b\n" + "1,2\n" * 5000 + "3,x\n")
    with pytest.raises(BadValueError) as caught:
        convert([src], tmp_path / "o.h5", options=ConvertOptions(block_bytes=4096, workers=workers))
    assert "bad.csv:5002" in str(caught.value)  # the error and its traceback are still held here...
    assert str(src) not in _open_files()  # ...but the input is closed (it stayed open until garbage collection)


def test_skip_bad_lines_reports_them(tmp_path):
    src = tmp_path / "s.csv"
    src.write_text("a,b\n1,2\n3,4,5\n6\n7,8\n")
    report = convert([src], tmp_path / "s.h5", options=ConvertOptions(on_bad_lines="skip"))
    assert report.bad_lines == 2 and report.bad_line_numbers == [3, 4]
    x, _, f = _read(tmp_path / "s.h5")
    f.close()
    assert x.tolist() == [[1, 2], [7, 8]]


def test_forced_dtype_error_names_the_cell(tmp_path):
    src = tmp_path / "f.csv"
    src.write_text("a,b\n1,2\n3,256\n")
    with pytest.raises(BadValueError, match=r"f.csv:3: column 'b' has '256', which uint8 cannot hold"):
        convert([src], tmp_path / "f.h5", options=ConvertOptions(dtype="uint8"))


def test_gzip_and_crlf_and_bom(tmp_path):
    import gzip

    src = tmp_path / "g.csv.gz"
    src.write_bytes(gzip.compress(b"\xef\xbb\xbfa,b\r\n1,2\r\n3,4\r\n"))
    convert([src], tmp_path / "g.h5")
    x, _, f = _read(tmp_path / "g.h5")
    with f:
        assert list(f["features"].attrs["columns"]) == ["a", "b"]
    assert x.tolist() == [[1, 2], [3, 4]]


def _zstd_frames(data: bytes) -> bytes:
    """zstd as `zstd -T` or `cat a.zst b.zst` writes it: several frames, one after another."""
    import zstandard

    compressor = zstandard.ZstdCompressor()
    return b"".join(compressor.compress(data[i : i + 5000]) for i in range(0, len(data), 5000))


def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


@pytest.mark.parametrize(
    "suffix,compress",
    [(".bz2", bz2.compress), (".xz", lzma.compress), (".zst", _zstd), (".zst", _zstd_frames)],
    ids=["bz2", "xz", "zst", "zst-frames"],
)
def test_compressed_inputs_read_as_the_plain_text(tmp_path, suffix, compress):
    text = "a,b,label\n" + "".join(f"{i},{i * 7919 % 10007 / 8},{i % 3}\n" for i in range(3000))
    src = tmp_path / f"in.csv{suffix}"
    src.write_bytes(compress(text.encode()))
    report = convert([src], tmp_path / "c.h5", options=ConvertOptions(target=("label",), block_bytes=4096))
    expected = pd.read_csv(io.StringIO(text))
    x, y, f = _read(tmp_path / "c.h5")
    f.close()
    assert report.rows == 3000 and x.dtype == np.float32  # eighths: float32 holds them exactly
    assert np.array_equal(x, expected[["a", "b"]].to_numpy(np.float64))
    assert np.array_equal(y, expected["label"].to_numpy())


def test_several_inputs_keep_order_and_must_share_header(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x,y\n1,2\n")
    b.write_text("x,y\n3,4\n")
    convert([a, b], tmp_path / "ab.h5")
    x, _, f = _read(tmp_path / "ab.h5")
    f.close()
    assert x.tolist() == [[1, 2], [3, 4]]
    b.write_text("x,z\n3,4\n")
    from csv2h5.errors import HeaderMismatchError

    with pytest.raises(HeaderMismatchError, match="'z'"):
        convert([a, b], tmp_path / "ab2.h5")


def test_matches_pandas_on_mixed_text(tmp_path):
    text = "a,b,c\n1,-2.5,1e3\n,inf,7\n4,nan,-0\n"
    src = tmp_path / "m.csv"
    src.write_text(text)
    convert([src], tmp_path / "m.h5")
    x, _, f = _read(tmp_path / "m.h5")
    f.close()
    expected = pd.read_csv(io.StringIO(text)).to_numpy(dtype=np.float64)
    assert x.dtype == np.float32  # every value is a float32 exactly; pandas' values, not rounded ones
    assert np.array_equal(x.astype(np.float64), expected, equal_nan=True)


BEYOND_FLOAT64 = "9007199254740993"  # 2**53 + 1: read as a float it is 2**53


@pytest.mark.parametrize(
    "text,options,words",
    [
        (f"a\n0.5\n{BEYOND_FLOAT64}\n", ConvertOptions(), f"f.csv:3: column 'a' has '{BEYOND_FLOAT64}', an integer beyond 2**53"),
        (f"a,b\n1,2\nNA,3\n{BEYOND_FLOAT64},4\n", ConvertOptions(), f"f.csv:4: column 'a' has '{BEYOND_FLOAT64}'"),
        (
            "a\n0.5\n" + "1\n" * 20 + f"{BEYOND_FLOAT64}\n",
            ConvertOptions(block_bytes=16),
            f"integers beyond 2**53 (up to {BEYOND_FLOAT64})",
        ),
        (f"a\n1\n{BEYOND_FLOAT64}\n", ConvertOptions(dtype="float64"), f"integers beyond 2**53 (up to {BEYOND_FLOAT64})"),
        (
            "a,b\n\nx,9007199254740993\n",
            ConvertOptions(categorical=("a",)),
            f"f.csv:3: column 'b' has '{BEYOND_FLOAT64}', an integer beyond 2**53, while column 'a' holds text",
        ),
        (  # beyond int64, with no empty cell or decimal anywhere: so the message says
            "a,b\n1,2\n18446744073709551615,3\n",
            ConvertOptions(),
            "f.csv:3: column 'a' has '18446744073709551615', an integer outside int64 (-2**63 to 2**63 - 1), which float64"
            " would round: no dtype holds it exactly;",
        ),
    ],
    ids=["among decimals", "among empty cells", "in a later block", "as --dtype float64", "beside codes", "beyond int64"],
)
def test_an_integer_no_float_holds_is_refused_not_rounded(tmp_path, text, options, words):
    src = tmp_path / "f.csv"
    src.write_text(text)
    with pytest.raises(BadValueError) as caught:
        convert([src], tmp_path / "f.h5", options=options)
    assert words in str(caught.value) and "--drop" in str(caught.value)
    assert list(tmp_path.iterdir()) == [src]


@pytest.mark.parametrize(
    "cell",
    [2**63 + 1, -(2**63) - 1, 10**30 + 1, int("9" * 400), -int("9" * 400)],
    ids=["2**63 + 1", "-2**63 - 1", "31 digits", "400 nines", "-400 nines"],
)
@pytest.mark.parametrize("dtype", ["auto", "int64", "float64"])
@pytest.mark.parametrize("rows", [1, 3000])  # a tiny file, and one whose blocks the fast paths read
def test_an_integer_past_int64_that_float64_rounds_gets_one_refusal_whatever_its_sign_or_length(tmp_path, cell, dtype, rows):
    try:
        assert float(cell) != cell  # the oracle: float64 rounds it (or overflows), and int64 cannot hold it
    except OverflowError:
        pass
    src = tmp_path / "f.csv"
    src.write_text("a,b\n" + "".join(f"{i % 200},{i % 7}\n" for i in range(rows)) + f"{cell},3\n")
    with pytest.raises(BadValueError) as caught:  # 400 nines were stored as inf
        convert([src], tmp_path / "f.h5", options=ConvertOptions(dtype=dtype))
    shown = str(cell) if len(str(cell)) <= 40 else str(cell)[:37] + "..."
    assert str(caught.value) == (
        f"{src}:{rows + 2}: column 'a' has {shown!r}, an integer outside int64 (-2**63 to 2**63 - 1), which float64 would"
        " round: no dtype holds it exactly; pass --drop a, or --categorical a to store it as codes"  # so no --dtype float64
    )


@pytest.mark.parametrize(
    "text, other, filled",
    [
        (f"a,b\n{BEYOND_FLOAT64},1\n5,\n", "'b' holds empty cells", [[int(BEYOND_FLOAT64), 1], [5, -1]]),
        (f"a,b\n{BEYOND_FLOAT64},\n5,\n", "'b' holds empty cells", [[int(BEYOND_FLOAT64), -1], [5, -1]]),  # empty alone
        (f"a,b,c\n{BEYOND_FLOAT64},1,\n5,,3\n", "'b' holds empty cells", [[int(BEYOND_FLOAT64), 1, -1], [5, -1, 3]]),
        (f"a,b\n{BEYOND_FLOAT64},1.5\n5,\n", "'b' holds decimals or empty cells", None),
        (f"a,b,c\n{BEYOND_FLOAT64},1,2.5\n5,,3\n", "'c' holds decimals or empty cells", None),  # the column a fill leaves float
    ],
    ids=["integers and empty cells", "empty cells alone", "two such columns", "decimals", "one with decimals"],
)
def test_an_integer_beyond_2_to_the_53_beside_empty_cells_names_the_fill_that_would_store_it(tmp_path, text, other, filled):
    src = tmp_path / "f.csv"
    src.write_text(text)
    with pytest.raises(BadValueError) as caught:
        convert([src], tmp_path / "f.h5")
    drops = f"--drop a, or --drop {other[1]}"
    assert f"f.csv:2: column 'a' has '{BEYOND_FLOAT64}', an integer beyond 2**53, while column {other};" in str(caught.value)
    assert str(caught.value).endswith(f"exactly: --fill VALUE, {drops}" if filled else f"exactly: {drops}")
    if filled:  # the advice holds: filled, every feature is an integer, the large one exact
        convert([src], tmp_path / "f.h5", options=ConvertOptions(fill=-1))
        x, _, f = _read(tmp_path / "f.h5")
        f.close()
        assert x.dtype == np.int64 and x.tolist() == filled


@pytest.mark.parametrize("fill", [None, -1.0])
@pytest.mark.parametrize("cells", [("true", "", "false"), ("true", "false", "FALSE")], ids=["with empty cells", "without"])
def test_an_integer_beyond_2_to_the_53_beside_booleans_says_they_are_booleans(tmp_path, cells, fill):
    src = tmp_path / "f.csv"
    src.write_text(f"a,b\n{BEYOND_FLOAT64},{cells[0]}\n1,{cells[1]}\n2,{cells[2]}\n")
    with pytest.raises(BadValueError) as caught:
        convert([src], tmp_path / "f.h5", options=ConvertOptions(fill=fill))
    message = str(caught.value)
    assert "while column 'b' holds true/false values" in message and "decimals" not in message
    assert message.endswith("exactly: --drop a, or --drop b")  # a fill leaves a boolean's empty cells empty


@pytest.mark.parametrize("block_bytes", [16, 1 << 20])
def test_large_integers_stay_exact_among_integers_and_filled_cells(tmp_path, block_bytes):
    src = tmp_path / "f.csv"
    src.write_text(f"a,b\n1,2\nNA,3\n{BEYOND_FLOAT64},4\n")
    convert([src], tmp_path / "f.h5", options=ConvertOptions(fill=-1, block_bytes=block_bytes))
    x, _, f = _read(tmp_path / "f.h5")
    f.close()
    assert x.dtype == np.int64 and x.tolist() == [[1, 2], [-1, 3], [int(BEYOND_FLOAT64), 4]]


def test_widening_keeps_float32_values_that_were_exact(tmp_path):
    # 2**27 is a float32 exactly, though its shortest text is 1.3421773e+08 (found by fuzzing:
    # it became 134217730 when a later block needed float64).
    src = tmp_path / "w.csv"
    src.write_text("a\n0.5\n134217728.0\n" + "-0.25\n16777217\n")  # a block of float32, then one of float64
    convert([src], tmp_path / "w.h5", options=ConvertOptions(block_bytes=16))
    x, _, f = _read(tmp_path / "w.h5")
    f.close()
    assert x.dtype == np.float64
    assert x[:, 0].tolist() == [0.5, 134217728, -0.25, 16777217]


def test_widening_from_float32_gives_back_the_decimal_text(tmp_path):
    # 0.1 fits float32 by the 6-digit rule; a later block needs float64.
    src = tmp_path / "w.csv"
    src.write_text("a\n0.1\n1.00001\n" + "0.123456789\n")
    convert([src], tmp_path / "w.h5", options=ConvertOptions(block_bytes=8))
    x, _, f = _read(tmp_path / "w.h5")
    f.close()
    assert x.dtype == np.float64
    assert x[:, 0].tolist() == [0.1, 1.00001, 0.123456789]


@pytest.mark.parametrize("compressed", [False, True])
def test_a_pipe_converts_like_the_file(digits_csv, tmp_path, compressed):
    """Input from a pipe (`<(zcat data.csv.gz)`, a FIFO) cannot be rewound or re-read by offset."""
    import gzip
    import os
    import threading

    data = digits_csv.read_bytes()
    fifo = tmp_path / "in.pipe"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as fh:
            fh.write(gzip.compress(data) if compressed else data)

    feeder = threading.Thread(target=feed)
    feeder.start()
    options = ConvertOptions(target=("label",), block_bytes=4096, workers=2)
    report = convert([fifo], tmp_path / "pipe.h5", options=options)
    feeder.join()
    convert([digits_csv], tmp_path / "file.h5", options=options)
    (xp, yp, fp), (xf, yf, ff) = _read(tmp_path / "pipe.h5"), _read(tmp_path / "file.h5")
    with fp, ff:
        assert np.array_equal(xp, xf) and np.array_equal(yp, yf)
        assert xp.shape == (600, 784)
    assert report.input_bytes == len(data)  # a pipe reports the text it gave


def test_first_difference_against_hand_made_lists():
    """Where two lists first differ: an item, the shorter one's end, or nowhere."""
    from csv2h5.lists import first_difference

    assert first_difference(["a", "b", "c"], ["a", "x", "c"]) == 1
    assert first_difference(["a", "b"], ["a", "b", "c"]) == 2
    assert first_difference(["a", "b", "c"], ["a"]) == 1
    assert first_difference([], ["a"]) == 0
    assert first_difference(["a", "b"], ["a", "b"]) is None
    assert first_difference([], []) is None
    assert first_difference(["x", "b"], ["a"]) == 0  # a differing item comes before a length difference
