"""Comment lines in a CSV: refused without --comment with a hint to pass it, read as pandas reads them with it."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadLineError, BadValueError, ColumnNotFoundError

ROWS = "".join(f"{i},{i / 4},{i % 3}\n" for i in range(40))
HALF = ROWS.index("10,")  # rows 0..9 before it
HINT = r"pass --comment '#'\); fix the line"

COMMENTED = [  # (text, the line refused without --comment)
    ("# exported 2026-01-01\na,b,c\n" + ROWS, 2),
    ("# exported 2026-01-01\n# by a tool, v2\n\na,b,c\n" + ROWS, 2),  # 2 fields against the header's 1
    ("#exported\n#by a tool\n\na,b,c\n" + ROWS, 4),  # the header's one field, until the real header
    ("# exported, by, a, tool\na,b,c\n" + ROWS, 2),
    ("a,b,c\n" + ROWS[:HALF] + "# a note\n" + ROWS[HALF:], 12),
    ("a,b,c\n" + ROWS + "#a note, here\n" + ROWS, 42),
]


@pytest.mark.parametrize("block_bytes", [64, 1 << 20])  # the comments at the top in the first block, as in any real one
@pytest.mark.parametrize("text, line", COMMENTED)
def test_a_comment_line_is_refused_with_a_hint_to_pass_comment(tmp_path, text, line, block_bytes):
    src = tmp_path / "in.csv"
    src.write_text(text)
    options = ConvertOptions(block_bytes=block_bytes, workers=0)
    with pytest.raises(BadLineError, match=rf"in\.csv:{line}: expected \d fields as in the header, found \d .*{HINT}"):
        convert([src], tmp_path / "out.h5", options=options)
    convert([src], tmp_path / "out.h5", options=ConvertOptions(block_bytes=block_bytes, workers=0, comment="#"))
    expected = pd.read_csv(src, comment="#")
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert list(f["features"].attrs["columns"]) == list(expected.columns)
        assert np.array_equal(f["features"][()], expected.to_numpy(dtype=np.float64))


@pytest.mark.parametrize(
    "text, line",
    [
        ("a,b,c\n" + ROWS * 200 + "  # a note\n" + ROWS, 8002),  # (pandas reads this one as a row of spaces)
        ("# exported 2026-01-01\na,b,c\n" + ROWS * 200, 2),
    ],
)
def test_a_comment_line_is_hinted_in_parser_processes_too(tmp_path, text, line):
    src = tmp_path / "in.csv"
    src.write_text(text)
    with pytest.raises(BadLineError, match=rf"in\.csv:{line}: .*{HINT}"):
        convert([src], tmp_path / "out.h5", options=ConvertOptions(block_bytes=4096, workers=2))


@pytest.mark.parametrize("block_bytes", [16, 1 << 20])
@pytest.mark.parametrize(
    "text, options, line",
    [
        ("# a,b,c\n" + ROWS + "1,2,3,4\n", {}, 42),  # a commented header, as numpy.savetxt writes: its rows are read
        ("a,b,c\n" + ROWS + "1,2 # three\n", {"comment": "#"}, 42),  # --comment given: the line is short
        ("a,b,c\n" + ROWS + "1,#2,3,4\n", {}, 42),  # a # inside the line
    ],
)
def test_no_comment_hint_where_the_line_is_no_comment(tmp_path, text, options, line, block_bytes):
    src = tmp_path / "in.csv"
    src.write_text(text)
    with pytest.raises(BadLineError, match=rf"in\.csv:{line}: expected 3 fields") as caught:
        convert([src], tmp_path / "out.h5", options=ConvertOptions(block_bytes=block_bytes, workers=0, **options))
    assert "--comment" not in str(caught.value)


QUOTED = '1,"x#y",3\n4,"5 # no comment",6 # a comment, "quoted"\n# a line of "comment"\n7,"two\nlines # of text",9\n10,11,12\n'


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("block_bytes", [16, 64, 1 << 20])
def test_a_comment_character_inside_quotes_is_text_as_pandas_reads_it(tmp_path, block_bytes, workers):
    src = tmp_path / "in.csv"
    src.write_text("a,b,c\n" + QUOTED * 3)
    options = ConvertOptions(comment="#", categorical=("b",), block_bytes=block_bytes, workers=workers)
    convert([src], tmp_path / "out.h5", options=options)
    expected = pd.read_csv(src, comment="#")
    with h5py.File(tmp_path / "out.h5", "r") as f:
        words = [w.decode() for w in f["categories/b"][()]]
        features = f["features"][()]
    assert [words[int(c)] for c in features[:, 1]] == expected["b"].astype(str).tolist()
    np.testing.assert_array_equal(features[:, [0, 2]], expected[["a", "c"]].to_numpy())


@pytest.mark.parametrize("block_bytes", [64, 1 << 20])
@pytest.mark.parametrize(
    "text, line, hinted",
    [
        ("a,b,c\n" + ROWS[:HALF] + "# x, y, z\n" + ROWS[HALF:], 12, True),  # a comment with the header's commas
        ("# x, y, z\na,b,c\n" + ROWS, 2, True),  # read as the header: the real one is a row of text
        ("# a,b,c\n1,x,3\n" + ROWS, 2, False),  # a commented header, and a text cell in the row after it
    ],
)
def test_a_comment_line_read_as_a_row_of_text_is_hinted(tmp_path, text, line, hinted, block_bytes):
    src = tmp_path / "in.csv"
    src.write_text(text)
    with pytest.raises(BadValueError, match=rf"in\.csv:{line}: column .* which is not a number") as caught:
        convert([src], tmp_path / "out.h5", options=ConvertOptions(block_bytes=block_bytes, workers=0))
    assert ("pass --comment '#')" in str(caught.value)) == hinted
    if hinted:
        convert([src], tmp_path / "out.h5", options=ConvertOptions(block_bytes=block_bytes, workers=0, comment="#"))
        with h5py.File(tmp_path / "out.h5", "r") as f:
            np.testing.assert_array_equal(f["features"][()], pd.read_csv(src, comment="#").to_numpy(dtype=np.float64))


@pytest.mark.parametrize("text", ["# exported 2026-01-01\na,b,c\n" + ROWS, "#exported\n#by a tool\na,b,c\n" + ROWS])
def test_a_column_not_found_under_a_comment_line_hints_comment(tmp_path, text):
    # --target names a column of the real header: the comment line above it was read as the header
    src = tmp_path / "in.csv"
    src.write_text(text)
    with pytest.raises(ColumnNotFoundError, match=r"--target 'c' is not a column; the header begins with '#'.*--comment '#'"):
        convert([src], tmp_path / "out.h5", options=ConvertOptions(target=("c",), workers=0))
    convert([src], tmp_path / "out.h5", options=ConvertOptions(target=("c",), workers=0, comment="#"))
    with h5py.File(tmp_path / "out.h5", "r") as f:
        assert list(f["features"].attrs["columns"]) == list(pd.read_csv(src, comment="#").columns[:2])
