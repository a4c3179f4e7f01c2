"""Quotes inside unquoted cells (``27" monitor``) are the cells' text, as pandas reads them: they open nothing,
so blocks are still cut at every line end, whatever their number; a quoted field still holds its line ends."""

from __future__ import annotations

import csv
import gzip
import io
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from decimal_tables import stored

from csv2h5 import ConvertOptions, convert, pool
from csv2h5.errors import BadLineError
from csv2h5.reader import Dialect, quoted_fields

SIZES = ['27" monitor', '5" screen', '12"', 'a "b"', "plain", 'x""y', "", '"quoted ""too"""', '"two\nlines, ""and"" a comma"']


def _stray_csv(path: Path, rows: int, seed: int, *, crlf: bool = False) -> None:
    """Numbers beside cells with quotes inside (an odd number, now and then), quoted fields with line ends and \"\"."""
    rng = np.random.default_rng(seed)
    lines = ["n,size,x"]
    for i in range(rows):
        size = SIZES[rng.integers(0, len(SIZES))]
        x = "" if rng.random() < 0.05 else f"{rng.normal():.4f}"
        if rng.random() < 0.1:
            size = f'{rng.integers(1, 40)}"'  # 12",3: a quote before a delimiter
        lines.append(f"{i},{size},{x}")
    end = "\r\n" if crlf else "\n"
    path.write_bytes((end.join(lines) + end).encode())


def _check(out: Path, expected: pd.DataFrame) -> None:
    with h5py.File(out) as f:
        features = stored(f)
        texts = [v.decode() if isinstance(v, bytes) else v for v in f["categories/size"][()]]
    assert features.shape[0] == len(expected)
    np.testing.assert_array_equal(features[:, 0], expected["n"].to_numpy())
    np.testing.assert_array_equal(features[:, 2], expected["x"].to_numpy())
    got = [texts[int(c)] if not np.isnan(c) else None for c in features[:, 1]]
    assert got == [None if isinstance(v, float) else v for v in expected["size"]]


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("block_bytes", [37, 100, 333, 1000, 1 << 20])
def test_quotes_inside_cells_read_as_pandas_reads_them_at_any_block_size(tmp_path, block_bytes, workers, crlf):
    src = tmp_path / "s.csv"
    _stray_csv(src, 600, seed=block_bytes, crlf=crlf)
    options = ConvertOptions(categorical=("size",), block_bytes=block_bytes, infer_bytes=700, workers=workers)
    convert([src], tmp_path / "s.h5", options=options)
    _check(tmp_path / "s.h5", pd.read_csv(src))


@pytest.mark.parametrize("block_bytes", [50, 1000])
def test_quotes_inside_cells_of_gzip_input(tmp_path, block_bytes):
    plain = tmp_path / "s.csv"
    _stray_csv(plain, 600, seed=3)
    src = tmp_path / "s.csv.gz"
    src.write_bytes(gzip.compress(plain.read_bytes()))
    options = ConvertOptions(categorical=("size",), block_bytes=block_bytes, infer_bytes=700, workers=2)
    convert([src], tmp_path / "s.h5", options=options)
    _check(tmp_path / "s.h5", pd.read_csv(plain))


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("block_bytes", [40, 128, 1 << 20])
def test_a_quote_inside_a_comment_or_after_a_quote_in_a_cell_opens_nothing(tmp_path, block_bytes, workers):
    lines = ["n,size,x"]
    for i in range(300):
        line = f"{i},{SIZES[i % len(SIZES)]},{i / 8}"
        if i % 7 == 3:
            line += ' # a "note'  # a quote in a comment
        elif i % 7 == 5:
            line = f'{i},27" monitor,{i / 8}# and "more" here"'  # a quote in a cell, then a comment
        elif i % 7 == 6:
            line += ' # see,"this'  # a quote in a comment, where a field would open
        elif i % 11 == 0:
            line = f'# a comment line, "unclosed\n{line}'
        lines.append(line)
    src = tmp_path / "c.csv"
    src.write_text("\n".join(lines) + "\n")
    options = ConvertOptions(categorical=("size",), block_bytes=block_bytes, infer_bytes=700, workers=workers, comment="#")
    convert([src], tmp_path / "c.h5", options=options)
    _check(tmp_path / "c.h5", pd.read_csv(src, comment="#"))


@pytest.mark.parametrize("workers", [0, 2])
def test_one_quote_in_a_cell_leaves_the_blocks_after_it_their_size(tmp_path, monkeypatch, workers):
    """Counted by pairing, one quote in a cell put every line end after it inside quotes: the rest of the file
    was read as one block (in the main process, with parser processes; up to the line bound without)."""
    block_bytes = 4096
    src = tmp_path / "one.csv"
    rng = np.random.default_rng(0)
    sizes = ["5in"] * 20_000
    sizes[100] = '5" screen'
    src.write_text("n,size,x\n" + "".join(f"{i},{size},{rng.normal():.4f}\n" for i, size in enumerate(sizes)))
    parsed: list[int] = []
    for module in (sys.modules["csv2h5.convert"], pool):  # where blocks are parsed in the main process
        real = module.parse_block

        def recording(block, plan, real=real):
            parsed.append(block.size)
            return real(block, plan)

        monkeypatch.setattr(module, "parse_block", recording)
    options = ConvertOptions(categorical=("size",), block_bytes=block_bytes, workers=workers)
    convert([src], tmp_path / "one.h5", options=options)
    assert max(parsed, default=0) <= 2 * block_bytes
    _check(tmp_path / "one.h5", pd.read_csv(src))


def test_a_quote_left_open_is_refused_not_read_to_the_end_of_the_file(tmp_path, monkeypatch):
    """Parser processes cut by offsets and join the blocks a quoted field spans: up to a line's bound."""
    import csv2h5.reader.limits

    monkeypatch.setattr(csv2h5.reader.limits, "MAX_LINE_BYTES", 1 << 16)
    src = tmp_path / "open.csv"
    rows = "".join(f"{i},{i / 4}\n" for i in range(20_000))
    src.write_text("a,b\n" + rows[:5000] + '7,"unclosed\n' + rows[5000:])
    line = 2 + rows[:5000].count("\n")
    with pytest.raises(BadLineError, match=r"open\.csv:\d+: a line \(or quoted field\) runs over"):
        convert([src], tmp_path / "open.h5", options=ConvertOptions(block_bytes=4096, workers=0))
    with pytest.raises(BadLineError, match=rf"open\.csv:{line}: a quoted field runs over"):
        convert([src], tmp_path / "open.h5", options=ConvertOptions(block_bytes=4096, workers=2))


def _record_ends(text: str) -> set[int]:
    """The line ends of ``text`` that end a record, as Python's csv module reads it (an oracle apart from the cutter).

    A line is added after the text: read to the end of its data inside quotes, the
    csv module would end the record there, at a line end that is a cell's text.
    """
    lines = (text + "\nend\n").split("\n")
    starts = np.cumsum([0] + [len(line) + 1 for line in lines])  # where each physical line starts
    reader = csv.reader(io.StringIO(text + "\nend\n", newline=""))
    ends = set()
    for _ in reader:
        ends.add(int(starts[reader.line_num]) - 1)
    return {end for end in ends if end < len(text)}


@pytest.mark.parametrize("few_runs", [2, 256])  # 2: the runs after the first two are chained by numpy
@pytest.mark.parametrize("seed", range(4))
def test_line_ends_inside_quotes_are_those_the_csv_module_reads_inside_a_record(seed, few_runs, monkeypatch):
    import csv2h5.reader.quotes

    monkeypatch.setattr(csv2h5.reader.quotes, "_FEW_RUNS", few_runs)
    rng = np.random.default_rng(seed)
    pieces = ['"', '"', '""', ",", "\n", "\n", "a", "5", " ", '5" x', ',"', '",']
    for trial in range(500):
        text = "".join(rng.choice(pieces, size=rng.integers(0, 40) if trial % 10 else rng.integers(100, 1000)))
        data = text.encode()
        quoted = quoted_fields(data, Dialect())
        newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
        outside = {int(p) for p, inside in zip(newlines, quoted.inside(newlines)) if not inside}
        assert outside == _record_ends(text), text


@pytest.mark.parametrize("workers", [0, 2])
def test_a_quote_inside_a_header_name_ends_the_header_at_its_line(tmp_path, workers):
    """Paired, the header's one quote took the lines after it into the header, and their rows were lost."""
    src = tmp_path / "h.csv"
    src.write_text('n,size ("),x\n' + "".join(f"{i},{i % 3},{i / 4}\n" for i in range(50)))
    convert([src], tmp_path / "h.h5", options=ConvertOptions(block_bytes=64, workers=workers))
    expected = pd.read_csv(src)
    with h5py.File(tmp_path / "h.h5") as f:
        assert list(f["features"].attrs["columns"]) == list(expected.columns)
        np.testing.assert_array_equal(stored(f), expected.to_numpy(dtype=np.float64))
