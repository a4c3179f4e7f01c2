"""--comment beside quotes: read as pandas reads it, or refused where pandas' own parsers disagree."""

from __future__ import annotations

import io

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from csv2h5 import ConvertOptions, convert
from csv2h5.cli import app
from csv2h5.errors import BadLineError, SchemaError

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


@pytest.mark.parametrize(
    "text, where",
    [
        ("a;b\n" + ROWS.replace(",", ";") + '1;"abc"#x\n', "32: column 'b' has"),  # refused once the delimiter is known
        ('"abc"#x;b\n1;2\n', "1: a cell is"),  # refused while it is guessed
    ],
)
def test_a_comment_right_after_a_closing_quote_is_refused_while_the_delimiter_is_guessed(tmp_path, text, where):
    src = tmp_path / "in.csv"
    src.write_text(text)
    with pytest.raises(BadLineError, match=rf"in\.csv:{where} '\"abc\"#x', a --comment '#' {ABOUT};"):
        convert([src], tmp_path / "out.h5", options=ConvertOptions(comment="#", delimiter="auto", categorical=("auto",)))


SKIPPED = [  # the text, its bad records (left out of the text pandas reads), and their lines
    ("a,b\n" + ROWS + "{}" + ROWS, ['1,"abc"#x\n'], [32]),
    ("a,b\n" + ROWS + "{}{}" + ROWS, ['"abc"#x,1\n', '2,"x"#y\n'], [32, 33]),
    ("a,b\n" + ROWS + "{}" + ROWS, ['"two\nlines"#x,1\n'], [32]),  # one record of two lines
    ("a,b\n" + ROWS + '{}{}1,"de" # a comment\n' + ROWS, ["1,2,3\n", '1,"abc"#x\n'], [32, 33]),  # and a line of 3 fields
    ("a,b\n" + ROWS + "{}" + ROWS, ['"a""b""c"#x,1\n'], [32]),  # doubled quotes
    (("a,b\n" + ROWS + "{}" + ROWS).replace("\n", "\r\n"), ['1,"abc"#x\r\n'], [32]),
]


@pytest.mark.parametrize("policy", ["skip", "warn"])
@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("block_bytes", [16, 1 << 20])
@pytest.mark.parametrize(
    "text, records, bad", SKIPPED, ids=["one", "two", "quoted line end", "beside another", "doubled", "crlf"]
)
def test_a_comment_right_after_a_closing_quote_is_a_bad_line_that_skip_and_warn_skip(
    tmp_path, text, records, bad, policy, block_bytes, workers
):
    frame = pd.read_csv(io.StringIO(text.format(*[""] * len(records))), comment="#")
    src = tmp_path / "in.csv"
    src.write_text(text.format(*records), newline="")
    options = ConvertOptions(comment="#", categorical=("auto",), on_bad_lines=policy, block_bytes=block_bytes, workers=workers)
    report = convert([src], tmp_path / "out.h5", options=options)
    assert _read(tmp_path / "out.h5") == {c: frame[c].tolist() for c in frame.columns}
    assert report.bad_lines == len(bad) and report.bad_line_numbers == bad
    assert f"skipped {len(bad)} bad line{'s' if len(bad) > 1 else ''} (first: {', '.join(map(str, bad))})" in report.summary()
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert f.attrs["bad_lines"] == len(bad)


def test_pandas_python_parser_skips_a_comment_right_after_a_closing_quote_as_a_bad_line():
    text = 'a,b\n1,"2"#x\n3,4\n'
    assert pd.read_csv(io.StringIO(text), comment="#", engine="python", on_bad_lines="skip").to_numpy().tolist() == [[3, 4]]


def test_on_bad_lines_warn_says_which_kind_of_bad_line_it_skipped(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.h5"
    src.write_text('a,b\n1,"2"#x\n3,4\n')
    result = CliRunner().invoke(app, ["convert", str(src), "-o", str(out), "--comment", "#", "--on-bad-lines", "warn"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "warning: skipped 1 line with a --comment character right after a closing quote (first: 2)"
    ]
    src.write_text('a,b\n1,"2"#x\n3,4,5\n6,7\n')
    result = CliRunner().invoke(
        app, ["convert", str(src), "-o", str(out), "--comment", "#", "--on-bad-lines", "warn", "--overwrite"]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "warning: skipped 2 lines with the wrong number of fields or a --comment character right after a closing quote"
        " (first: 2, 3)"
    ]


@pytest.mark.parametrize("delimiter", [",", "auto"])
def test_a_comment_right_after_a_closing_quote_in_the_header_is_refused_under_skip_too(tmp_path, delimiter):
    src = tmp_path / "in.csv"
    src.write_text('"a"#x,b\n1,2\n')
    for policy in ("error", "skip"):  # the header is no line to skip
        options = ConvertOptions(comment="#", on_bad_lines=policy, delimiter=delimiter)
        with pytest.raises(BadLineError) as caught:
            convert([src], tmp_path / "out.h5", options=options)
        assert f"in.csv:1: {'field 1 is' if delimiter == ',' else 'a cell is'}" in str(caught.value)
        assert str(caught.value).endswith("or the comment on a line of its own")  # --on-bad-lines skip would not help


@pytest.mark.parametrize("names", [(), ("p", "q")])
@pytest.mark.parametrize("delimiter", [",", "auto"])
@pytest.mark.parametrize("text", ['"a"#x,b\n1,2\n3,4\n', '"a"#x,b\n\n# note\n1,2\n3,4\n'], ids=["next line", "past blank"])
def test_a_comment_right_after_a_closing_quote_in_the_first_record_of_data_is_skipped_as_other_lines_are(
    tmp_path, text, delimiter, names
):
    # --no-header: the first record is data; pandas' python parser skips it too (its C parser reads "a#x")
    frame = pd.read_csv(io.StringIO(text), header=None, comment="#", engine="python", on_bad_lines="skip")
    src = tmp_path / "in.csv"
    src.write_text(text)
    options = ConvertOptions(comment="#", header=False, names=names, delimiter=delimiter)
    with pytest.raises(BadLineError) as caught:
        convert([src], tmp_path / "out.h5", options=options)
    assert str(caught.value).endswith("or pass --on-bad-lines skip (or warn)")  # as on any other line
    options = ConvertOptions(comment="#", header=False, names=names, delimiter=delimiter, on_bad_lines="skip")
    report = convert([src], tmp_path / "out.h5", options=options)
    assert list(_read(tmp_path / "out.h5").values()) == [frame[c].tolist() for c in frame.columns]
    assert report.bad_line_numbers == [1]


def test_a_file_of_one_record_skipped_for_a_comment_right_after_a_closing_quote_says_so(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('"a"#x,b\n')
    with pytest.raises(SchemaError, match=r"in\.csv: no data rows: the only record was skipped as a bad line"):
        convert([src], tmp_path / "out.h5", options=ConvertOptions(comment="#", header=False, on_bad_lines="skip"))


def test_the_refusal_of_a_comment_right_after_a_closing_quote_says_skip_would_skip_it(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('a,b\n# "a comment\n1,"2"#x\n')
    with pytest.raises(BadLineError) as caught:
        convert([src], tmp_path / "out.h5", options=ConvertOptions(comment="#"))
    assert str(caught.value).endswith(
        "in.csv:3: column 'b' has '\"2\"#x', a --comment '#' right after a closing quote, which pandas reads as the cell's"
        " text and other readers as a comment; put it inside the quotes if it is the cell's, or the comment on a line of"
        " its own, or pass --on-bad-lines skip (or warn)"
    )
