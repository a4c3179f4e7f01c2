"""Feature rows copied into the output by the parser processes, not written by the main process.

For a new, uncompressed file read by offset, the main process reserves each
block's place in /features and a parser process copies the rows there
(``rowcopies``). The oracle is pandas reading the CSV, and the file the
conversion without parser processes writes; what the main process's writer
receives is counted, so a return to writing every row here fails.
"""

from __future__ import annotations

import errno
import gzip
import os
import threading
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from decimal_tables import decimal_csv, stored

from csv2h5 import ConvertOptions, convert, featurerows, pool, rowcopies, shared
from csv2h5.errors import BadValueError, OutputError
from csv2h5.processes import WorkerDied

BLOCK = 64 << 10


@pytest.fixture
def written_here(monkeypatch) -> list[int]:
    """Rows the main process's writer is given to write itself, one entry per block."""
    rows: list[int] = []
    real = featurerows.FeatureRows.append

    def counting(self, block):
        rows.append(block.shape[0])
        return real(self, block)

    monkeypatch.setattr(featurerows.FeatureRows, "append", counting)
    return rows


def _options(**kwargs) -> ConvertOptions:
    return ConvertOptions(**{"target": ("y",), "block_bytes": BLOCK, "infer_bytes": BLOCK, "workers": 2, **kwargs})


def _chunks_back_to_back(ds: h5py.Dataset) -> bool:
    infos = sorted((ds.id.get_chunk_info(i) for i in range(ds.id.get_num_chunks())), key=lambda c: c.byte_offset)
    return all(a.byte_offset + a.size == b.byte_offset for a, b in zip(infos, infos[1:]))


def test_parsers_write_the_rows_and_the_file_is_the_one_the_main_process_writes(tmp_path, written_here):
    src = tmp_path / "d.csv"
    frame = decimal_csv(src, 60_000, decimals=4)
    serial, parallel = tmp_path / "serial.h5", tmp_path / "parallel.h5"
    convert([src], serial, options=_options(workers=0))
    assert sum(written_here) == len(frame)
    written_here.clear()
    report = convert([src], parallel, options=_options())
    assert report.rows == len(frame)
    # No row comes through the main process, not even those of the blocks that decide the columns' kinds.
    assert sum(written_here) == 0, f"the main process wrote {sum(written_here)} of {len(frame)} rows"
    with h5py.File(serial) as s, h5py.File(parallel) as p:
        np.testing.assert_array_equal(stored(p), frame.iloc[:, :12].to_numpy())
        assert p["features"].dtype == s["features"].dtype == np.float32
        np.testing.assert_array_equal(p["features"][()], s["features"][()])
        np.testing.assert_array_equal(p["target"][()], s["target"][()])
        assert p["features"].chunks == s["features"].chunks
        assert _chunks_back_to_back(p["features"])  # readers map all rows as one run of bytes
        np.testing.assert_allclose(p["stats/mean"][()], s["stats/mean"][()], rtol=1e-12)  # blocks cut elsewhere
    # The chunks are allocated as the rows come, never ahead: no bigger than the serial file.
    assert parallel.stat().st_size <= serial.stat().st_size + 4096
    assert not list(shared.SHARED_DIR.glob(f"csv2h5-{os.getpid()}-*"))


def test_integer_rows_and_widening_on_the_way_stay_exact(tmp_path, written_here):
    """uint8 rows copied by parsers, then a block needing int16: the rows written so far are rewritten, all exact."""
    rng = np.random.default_rng(3)
    values = rng.integers(0, 256, size=(40_000, 30))
    values[30_000, 5] = 1000  # a late block widens uint8 -> int16 while copies are under way
    frame = pd.DataFrame(values, columns=[f"p{i}" for i in range(30)])
    frame.insert(0, "y", rng.integers(0, 10, size=len(frame)))
    src = tmp_path / "i.csv"
    frame.to_csv(src, index=False)
    report = convert([src], tmp_path / "i.h5", options=_options())
    assert report.widened and "uint8 -> int16" in report.widened[0]
    assert sum(written_here) < len(frame)  # the blocks before and after the widening came from parsers
    with h5py.File(tmp_path / "i.h5") as f:
        assert f["features"].dtype == np.int16
        np.testing.assert_array_equal(f["features"][()], values)


def test_a_block_in_another_dtype_is_written_here_between_blocks_the_parsers_write(tmp_path, written_here):
    """A block of whole numbers in a file of decimals parses as integers: it comes here, cast, between copied blocks."""
    rng = np.random.default_rng(4)
    values = rng.normal(size=(50_000, 8)).round(3)
    values[20_000:26_000] = rng.integers(0, 50, size=(6_000, 8))  # about two blocks of whole numbers
    frame = pd.DataFrame(values, columns=[f"x{i}" for i in range(8)])
    frame["y"] = 1
    src = tmp_path / "m.csv"
    frame.to_csv(src, index=False)
    convert([src], tmp_path / "m.h5", options=_options())
    assert BLOCK // 100 < sum(written_here) < len(frame) // 2
    with h5py.File(tmp_path / "m.h5") as f:
        np.testing.assert_array_equal(stored(f), values)


def test_a_text_column_found_by_categorical_auto_gets_its_codes_here(tmp_path, written_here):
    """Rows a parser left in shared memory before --categorical auto made a column text codes: coded here."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(20_000, 4)).round(3), columns=[f"x{i}" for i in range(4)])
    frame["word"] = rng.choice(["low", "mid", "high"], size=len(frame))
    frame["y"] = rng.integers(0, 2, size=len(frame))
    src = tmp_path / "w.csv"
    frame.to_csv(src, index=False)
    convert([src], tmp_path / "w.h5", options=_options(categorical=("auto",)))
    with h5py.File(tmp_path / "w.h5") as f:
        words = [w.decode() for w in f["categories/word"][()]]
        assert words == list(pd.unique(frame["word"]))  # codes in order of first appearance
        codes = f["features"][:, 4].astype(np.int64)
        assert [words[c] for c in codes] == frame["word"].tolist()
        np.testing.assert_array_equal(f["features"][:, :4], frame.iloc[:, :4].to_numpy(dtype=np.float32))


def _gzip(src: Path) -> Path:
    packed = src.with_suffix(".csv.gz")
    packed.write_bytes(gzip.compress(src.read_bytes(), compresslevel=1))
    return packed


@pytest.mark.parametrize("case", ["lzf", "gzip input", "categorical", "like", "append"])
def test_the_main_process_writes_every_row_where_the_parsers_cannot(tmp_path, written_here, case):
    src = tmp_path / "d.csv"
    frame = decimal_csv(src, 30_000, decimals=4)
    out = tmp_path / "o.h5"
    inputs, options, expected = [src], _options(), frame.iloc[:, :12].to_numpy()
    if case == "lzf":
        options = _options(compression="lzf")
    elif case == "gzip input":
        inputs = [_gzip(src)]
    elif case == "categorical":
        options = _options(categorical=("x0",))
    elif case in ("like", "append"):
        first = tmp_path / "first.csv"
        decimal_csv(first, 2_000, seed=1, decimals=4)
        made = tmp_path / ("template.h5" if case == "like" else "o.h5")
        convert([first], made, options=_options(workers=0))
        options = (
            ConvertOptions(like=made, block_bytes=BLOCK, infer_bytes=BLOCK, workers=2)
            if case == "like"
            else _options(append=True)
        )
        if case == "append":
            expected = np.vstack([pd.read_csv(first).iloc[:, :12].to_numpy(), expected])
    written_here.clear()
    convert(inputs, out, options=options)
    assert sum(written_here) == len(frame)
    with h5py.File(out) as f:
        if case != "categorical":
            np.testing.assert_array_equal(stored(f), expected)
        assert f["features"].shape[0] == expected.shape[0]


@pytest.fixture
def many_rows(tmp_path) -> Path:
    """d.csv, 40,000 decimal rows: parser processes have copied rows by the time a late failure comes."""
    src = tmp_path / "d.csv"
    decimal_csv(src, 40_000, decimals=4)
    return src


def _assert_nothing_left(tmp_path: Path) -> None:
    """Only the CSV is left: no output, no temporary beside it, no shared-memory files of this process."""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv"]
    assert not list(shared.SHARED_DIR.glob(f"csv2h5-{os.getpid()}-*"))


def _skip_unless_parsers_see_patches() -> None:
    if threading.active_count() != 1:
        pytest.skip("parser processes are forked (and so see this patch) only when no other thread runs")


def test_a_failed_copy_leaves_nothing(tmp_path, many_rows, monkeypatch):
    """A full disk while a parser copies rows: one line for people, no output, no temporary, no shared files."""
    _skip_unless_parsers_see_patches()

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(rowcopies, "_send", full)
    with pytest.raises(OutputError, match="no space left"):
        convert([many_rows], tmp_path / "o.h5", options=_options())
    _assert_nothing_left(tmp_path)


def test_an_error_after_rows_were_copied_leaves_nothing(tmp_path, many_rows, monkeypatch):
    placed: list[int] = []
    real = featurerows.FeatureRows.place

    def counting(self, name, rows, dtype):
        done = real(self, name, rows, dtype)
        placed.append(rows if done else 0)
        return done

    monkeypatch.setattr(featurerows.FeatureRows, "place", counting)
    with many_rows.open("a") as fh:
        fh.write("1,2,3,4,5,6,7,8,9,10,11,oops,1\n")  # the last line: text in a number column
    with pytest.raises(BadValueError, match=r"d\.csv:40002: .*'x11'.*'oops'"):
        convert([many_rows], tmp_path / "o.h5", options=_options())
    assert sum(placed) > 20_000  # most rows were already copied into the temporary
    _assert_nothing_left(tmp_path)


_REAL_PARSE = pool._parse_in_worker


def _dying_parse(block, plan, owner, copies):
    """A parser process that dies (killed, out of memory) at the fourth block, after rows were copied."""
    if block.index == 3:
        os._exit(1)
    return _REAL_PARSE(block, plan, owner, copies)


def test_a_parser_process_that_dies_is_an_error_and_leaves_nothing(tmp_path, many_rows, monkeypatch):
    _skip_unless_parsers_see_patches()
    monkeypatch.setattr(pool, "_parse_in_worker", _dying_parse)
    with pytest.raises(WorkerDied, match="ended without answering"):
        convert([many_rows], tmp_path / "o.h5", options=_options())
    _assert_nothing_left(tmp_path)
