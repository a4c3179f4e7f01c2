"""--comment beside quotes: read as pandas reads it, or refused where pandas' own parsers disagree."""

from __future__ import annotations

import io

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadLineError

ROWS = "".join(f"{i},{i % 3}\n" for i in range(30))  # enough for small blocks to cut the file
ABOUT = "right after a closing quote, which pandas reads as the cell's text and other readers as a comment"


def _read(path):
    """Each column as pandas holds it: numbers as floats, text cells as strings."""
    with h5py.File(path, "r") as f:
        x = f["features"][()].astype(np.float64)
        columns = [c.decode() if isinstance(c, bytes) else c for c in f["features"].attrs["columns"]]
        words = {c: [w.decode() for w in f[f"categories/{c}"][()]] for c in f.get("categories", {})}
    return {c: [words[c][int(v)] for v in x[:, j]] if c in words else x[:, j].tolist() for j, c in enumerate(columns)}


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("block_bytes", [16, 1 << 20])
@pytest.mark.parametrize(
    "text",
    [
        "a,b\n" + ROWS + '"a#b",1\n' + ROWS,  # inside the quotes: the cell's
        "a,b\n" + ROWS + '1,"abc" #x\n' + ROWS,  # after a space: a comment (the space is the cell's)
        "a,b\n" + ROWS + '"1",2#x\n' + ROWS,
        "a,b\n" + ROWS + '1,"a""#"\n' + ROWS,  # a doubled quote, then the comment character inside the quotes
        "a,b\n" + ROWS + "1,abc#x\n" + ROWS,
        "a,b#x\n" + ROWS,  # in the header too
        "a,b # the columns\n" + ROWS,
        '"a#",b\n' + ROWS,
    ],
)
def test_a_comment_beside_quotes_is_read_as_pandas_reads_it(tmp_path, text, block_bytes, workers):
    frame = pd.read_csv(io.StringIO(text), comment="#")  # its C parser, whose reading of comments csv2h5 follows
    src = tmp_path / "in.csv"
    src.write_text(text)
    options = ConvertOptions(comment="#", categorical=("auto",), block_bytes=block_bytes, workers=workers)
    convert([src], tmp_path / "out.h5", options=options)
    assert _read(tmp_path / "out.h5") == {c: frame[c].tolist() for c in frame.columns}


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("block_bytes", [16, 1 << 20])
@pytest.mark.parametrize(
    "text, where",
    [
        ("a,b\n" + ROWS + '"abc"#x,1\n' + ROWS, "in.csv:32: column 'a' has '\"abc\"#x'"),
        ("a,b\n" + ROWS + '1,"abc"#x\n' + ROWS, "in.csv:32: column 'b' has '\"abc\"#x'"),  # cut to "abc" before
        ("a,b\n" + ROWS + '1,"a""b"#x#y\n' + ROWS, "in.csv:32: column 'b' has '\"a\"\"b\"#x#y'"),
        ("a,b\n" + ROWS + '"two\nlines"#x,1\n' + ROWS, "in.csv:32: column 'a' has '\"two\\nlines\"#x'"),
        ("a,b\n" + ROWS + '1,27" monitor\n1,""#x\n' + ROWS, "in.csv:33: column 'b' has '\"\"#x'"),  # a quote in a cell
        ("a,b\n" + ROWS + '1,2 # see,"this\n1,"abc"#x\n' + ROWS, "in.csv:33: column 'b' has '\"abc\"#x'"),
        ('"a"#x,b\n' + ROWS, "in.csv:1: field 1 is '\"a\"#x'"),
    ],
    ids=["first", "last", "doubled quotes", "quoted line end", "after a stray quote", "after a quote in a comment", "header"],
)
def test_a_comment_right_after_a_closing_quote_is_refused_naming_the_cell(tmp_path, text, where, block_bytes, workers):
    with pytest.raises(pd.errors.ParserError):  # pandas' Python parser refuses the line; its C parser keeps the #
        pd.read_csv(io.StringIO(text), comment="#", engine="python")
    assert "#x" in str(pd.read_csv(io.StringIO(text), comment="#").to_numpy().tolist() + [text.split("\n")[0]])
    src = tmp_path / "in.csv"
    src.write_text(text)
    options = ConvertOptions(comment="#", categorical=("auto",), block_bytes=block_bytes, workers=workers)
    with pytest.raises(BadLineError) as caught:
        convert([src], tmp_path / "out.h5", options=options)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / where}, a --comment '#' {ABOUT};") and "\n" not in message
    assert not (tmp_path / "out.h5").exists()


@pytest.mark.parametrize("text, line", [("a;b\n" + ROWS.replace(",", ";") + '1;"abc"#x\n', 32), ('"abc"#x;b\n1;2\n', 1)])
def test_a_comment_right_after_a_closing_quote_is_refused_while_the_delimiter_is_guessed(tmp_path, text, line):
    src = tmp_path / "in.csv"
    src.write_text(text)
    with pytest.raises(BadLineError, match=rf"in\.csv:{line}: a cell is '\"abc\"#x', a --comment '#' {ABOUT};"):
        convert([src], tmp_path / "out.h5", options=ConvertOptions(comment="#", delimiter="auto", categorical=("auto",)))
