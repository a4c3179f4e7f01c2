"""csv2h5 files damaged after they were written: every command that reads one ends in one line, exit 2.

The damage is done as it happens to files on disk or in a copy: bytes of an
object header overwritten (h5py then says the object is missing), or a
compressed chunk overwritten (its rows fail to decompress, found only when read).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from csv2h5.trainer import DataFileError, HDF5Sequence
from typer.testing import CliRunner

from csv2h5 import ConvertOptions, convert
from csv2h5.cli import app

ROWS, CHUNK_ROWS, BAD_CHUNK = 1000, 100, 3  # the damaged chunk holds rows 300-399
BAD_ROWS = f"rows {BAD_CHUNK * CHUNK_ROWS}-{(BAD_CHUNK + 1) * CHUNK_ROWS - 1}"


def _csv(path: Path) -> Path:
    path.write_text("a,b,y\n" + "".join(f"{i % 17},{(i * 7) % 23},{'xy'[i % 2]}\n" for i in range(ROWS)))
    return path


def _copy_with(good: Path, name: str, offset: int, data: bytes) -> Path:
    raw = bytearray(good.read_bytes())
    raw[offset : offset + len(data)] = data
    bad = good.with_name(name)
    bad.write_bytes(bytes(raw))
    return bad


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """good.h5 (gzip, chunks of 100 rows), a copy with /features' object header damaged, one with a chunk damaged."""
    d = tmp_path_factory.mktemp("damaged")
    good = d / "good.h5"
    options = ConvertOptions(target=("y",), compression="gzip", chunk_rows=CHUNK_ROWS, workers=0)
    convert([_csv(d / "in.csv")], good, options=options)
    with h5py.File(good, "r") as f:
        header = h5py.h5o.get_info(f["features"].id).addr
        chunk = f["features"].id.get_chunk_info(BAD_CHUNK)
        stat = h5py.h5o.get_info(f["stats/mean"].id).addr
        root = h5py.h5o.get_info(f["/"].id).addr
        sources = f.attrs["sources"].encode()
    assert chunk.chunk_offset[0] == BAD_CHUNK * CHUNK_ROWS
    raw = good.read_bytes()
    assert raw.count(sources) == 1  # the attribute's text, where HDF5 keeps it
    return {
        "dir": d,
        "csv": d / "in.csv",
        "good": good,
        "header": _copy_with(good, "bad_header.h5", header, b"\xff" * 4),
        "chunk": _copy_with(good, "bad_chunk.h5", chunk.byte_offset + 10, b"\0" * (chunk.size - 20)),
        "stats": _copy_with(good, "bad_stats.h5", stat, b"\xff" * 4),
        "root": _copy_with(good, "bad_root.h5", root, b"\xff" * 4),
        "sources": _copy_with(good, "bad_sources.h5", raw.find(sources), b"#"),
    }


def _one_line(result_code: int, stderr: str) -> str:
    """The error line of a failed command, the only one but its notes (``note: ``, ``run directory: ``)."""
    lines = [line for line in stderr.strip().splitlines() if not line.startswith(("note: ", "run directory: "))]
    assert result_code == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


# each csv2h5 command that reads a file given to it: {bad} the damaged one
_EVERY_COMMAND = pytest.mark.parametrize(
    "args",
    [
        ["info", "{bad}"],
        ["merge", "{good}", "{bad}", "-o", "{d}/merged.h5"],
        ["convert", "{csv}", "-o", "{bad}", "--target", "y", "--append"],
        ["convert", "{csv}", "-o", "{d}/like.h5", "--like", "{bad}"],
    ],
    ids=["info", "merge", "append", "like"],
)


def _header_line(path: Path) -> str:
    return (
        f"error: {path}: /features cannot be read (the file is damaged: bad object header version number); convert the CSV again"
    )


@_EVERY_COMMAND
def test_a_damaged_object_header_is_one_line_for_csv2h5(files, args):
    before = sorted(p.name for p in files["dir"].iterdir())
    names = {"bad": files["header"], "good": files["good"], "csv": files["csv"], "d": files["dir"]}
    result = CliRunner().invoke(app, [a.format(**names) for a in args])
    assert _one_line(result.exit_code, result.stderr) == _header_line(files["header"])
    assert sorted(p.name for p in files["dir"].iterdir()) == before  # nothing written


def test_a_damaged_object_header_is_one_line_for_the_trainer(files, tmp_path):
    with pytest.raises(DataFileError) as caught:
        HDF5Sequence(files["header"])
    assert f"error: {caught.value}" == _header_line(files["header"])
    from csv2h5.trainer.cli import app as h5train

    run = tmp_path / "run"
    result = CliRunner().invoke(h5train, ["fit", str(files["header"]), "--run-dir", str(run), "--progress", "none"])
    assert _one_line(result.exit_code, result.stderr) == _header_line(files["header"].resolve())
    assert not run.exists()


# the parts beyond /features, damaged, and the line that names each
_PARTS = {
    "stats": "/stats/mean cannot be read (the file is damaged: bad object header version number)",
    "root": "the root group cannot be read (the file is damaged: bad object header version number)",
    "sources": "the sources attribute cannot be read (the file is damaged: not JSON: Expecting value at character 0)",
}


def _part_line(path: Path, part: str) -> str:
    return f"error: {path}: {_PARTS[part]}; convert the CSV again"


@pytest.mark.parametrize("part", sorted(_PARTS))
@_EVERY_COMMAND
def test_a_damaged_stat_root_group_or_json_attribute_is_one_line_for_csv2h5(files, part, args):
    if args[-2] == "--like" and part == "stats":
        pytest.skip("--like takes the header only: the stats are not read")
    before = {p.name: p.read_bytes() for p in files["dir"].iterdir() if p.is_file()}
    names = {"bad": files[part], "good": files["good"], "csv": files["csv"], "d": files["dir"]}
    result = CliRunner().invoke(app, [a.format(**names) for a in args])
    assert _one_line(result.exit_code, result.stderr) == _part_line(files[part], part)
    assert {p.name: p.read_bytes() for p in files["dir"].iterdir() if p.is_file()} == before  # nothing written


@pytest.mark.parametrize("part", sorted(_PARTS))
def test_a_damaged_stat_root_group_or_json_attribute_is_one_line_for_the_trainer(files, tmp_path, part):
    with pytest.raises(DataFileError) as caught:
        HDF5Sequence(files[part])
    assert f"error: {caught.value}" == _part_line(files[part], part)
    from csv2h5.trainer.cli import app as h5train

    run = tmp_path / "run"
    fit = ["fit", str(files["good"]), "--run-dir", str(run), "--epochs", "1", "--hidden", "8", "--progress", "none"]
    assert CliRunner().invoke(h5train, fit).exit_code == 0
    for command in (
        ["evaluate", str(run), str(files[part])],
        ["predict", str(run), str(files[part]), "-o", str(tmp_path / "p.csv")],
    ):
        result = CliRunner().invoke(h5train, command)
        assert _one_line(result.exit_code, result.stderr) == _part_line(files[part].resolve(), part), command
    assert not (tmp_path / "p.csv").exists()


def _uncompressed(tmp_path: Path) -> Path:
    """good.h5: 50 rows of a number and a category (p, q, r), a target of two classes, no compression."""
    good, csv = tmp_path / "good.h5", tmp_path / "in.csv"
    csv.write_text("a,c,y\n" + "".join(f"{i},{'pqr'[i % 3]},{'xy'[i % 2]}\n" for i in range(50)))
    convert([csv], good, options=ConvertOptions(target=("y",), categorical=("c",), workers=0))
    return good


def test_a_code_no_category_has_is_one_line_for_merge(tmp_path):
    """Rows kept without a checksum (no compression, lzf) read overwritten bytes as values: a code out of range shows it."""
    good, bad = _uncompressed(tmp_path), tmp_path / "bad.h5"
    raw = bytearray(good.read_bytes())
    with h5py.File(good, "r") as f:
        features = f["features"]
        assert features.attrs["columns"].tolist() == ["a", "c"] and features.compression is None
        chunk = features.id.get_chunk_info(0)  # rows from 0, every column
        assert chunk.chunk_offset == (0, 0) and features.chunks[1] == 2
        cell = chunk.byte_offset + (7 * 2 + 1) * features.dtype.itemsize  # row 7, column c
        raw[cell : cell + features.dtype.itemsize] = np.array([40], dtype=features.dtype).tobytes()
    bad.write_bytes(bytes(raw))
    with h5py.File(bad, "r") as f:
        assert f["features"][7, 1] == 40  # the damage reads back as a value
    out = tmp_path / "merged.h5"
    result = CliRunner().invoke(app, ["merge", str(good), str(bad), "-o", str(out)])
    expected = f"error: {bad}: row 7 cannot be read (the file is damaged: column 'c' holds code 40, beyond its 3 categories)"
    assert _one_line(result.exit_code, result.stderr) == f"{expected}; convert the CSV again"
    assert not out.exists()


def test_a_class_code_no_class_has_is_one_line_for_the_trainer(tmp_path):
    good, bad = _uncompressed(tmp_path), tmp_path / "bad.h5"
    raw = bytearray(good.read_bytes())
    with h5py.File(good, "r") as f:
        target = f["target"]
        assert target.attrs["classes"].tolist() == ["x", "y"] and target.ndim == 1
        chunk = target.id.get_chunk_info(0)
        assert chunk.chunk_offset == (0,)
        cell = chunk.byte_offset + 9 * target.dtype.itemsize  # row 9
        raw[cell : cell + target.dtype.itemsize] = np.array([5], dtype=target.dtype).tobytes()
    bad.write_bytes(bytes(raw))
    line = f"error: {bad}: row 9 cannot be read (the file is damaged: the target holds code 5, beyond its 2 classes)"
    with pytest.raises(DataFileError) as caught:
        HDF5Sequence(bad)
    assert f"error: {caught.value}" == f"{line}; convert the CSV again"


def _is_rows_line(line: str, path: Path, then: str = "") -> bool:
    """Whether ``line`` is the message for the damaged chunk (what HDF5 found is in its own words), then ``then``."""
    start = f"error: {path}: {BAD_ROWS} cannot be read (the file is damaged: "
    return re.fullmatch(f"{re.escape(start)}[^;()]+\\); convert the CSV again{re.escape(then)}", line) is not None


def test_a_damaged_chunk_is_one_line_for_merge(files):
    out = files["dir"] / "merged.h5"
    result = CliRunner().invoke(app, ["merge", str(files["good"]), str(files["chunk"]), "-o", str(out)])
    line = _one_line(result.exit_code, result.stderr)  # after a note: both parts hold in.csv
    assert _is_rows_line(line, files["chunk"]), line
    assert not out.exists() and not list(files["dir"].glob(".merged.h5*"))


def test_a_damaged_chunk_names_its_rows_when_a_sequence_reads_them(files):
    seq = HDF5Sequence(files["chunk"], batch_size=250, shuffle=False)
    seq[0]  # rows 0-249: whole chunks that read well
    with pytest.raises(DataFileError) as caught:
        seq[1]
    assert _is_rows_line(f"error: {caught.value}", files["chunk"]), caught.value


def _h5train(*args: object) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "csv2h5.trainer", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize(
    "reading",
    [["--backend", "jax"], ["--backend", "jax", "--loaders", "2", "--processes"], ["--backend", "tensorflow", "--loaders", "2"]],
    ids=["jax", "jax-processes", "tensorflow-tf.data"],
)
def test_fit_on_a_damaged_chunk_is_one_line_whatever_reads_the_rows(files, tmp_path, reading):
    run = tmp_path / "run"
    done = _h5train("fit", files["chunk"], "--run-dir", run, "--epochs", "1", "--hidden", "8", "--progress", "none", *reading)
    line = _one_line(done.returncode, done.stderr)
    # as any failure during training: the run directory is left, and said to hold nothing to resume
    then = f"; no epoch was finished, so {run} has nothing to resume; start the run again"
    assert _is_rows_line(line, files["chunk"].resolve(), then), line


@pytest.mark.slow
def test_evaluate_and_predict_on_a_damaged_chunk_blame_the_data_file(files, tmp_path):
    run = tmp_path / "run"
    fit = _h5train("fit", files["good"], "--run-dir", run, "--epochs", "1", "--hidden", "8", "--progress", "none")
    assert fit.returncode == 0, fit.stderr
    out = tmp_path / "p.csv"
    for command in (["evaluate", run, files["chunk"]], ["predict", run, files["chunk"], "-o", out]):
        done = _h5train(*command)
        line = _one_line(done.returncode, done.stderr)
        assert _is_rows_line(line, files["chunk"]), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
