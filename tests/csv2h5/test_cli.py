"""End-to-end runs of the csv2h5 command in subprocesses."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from csv2h5.cli import app


def _run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "csv2h5", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_convert_and_info(digits_csv, tmp_path):
    out = tmp_path / "d.h5"
    done = _run("convert", str(digits_csv), "-o", str(out), "--target", "label", "--sample-shape", "28,28,1")
    assert done.returncode == 0, done.stderr
    assert "600 rows x 784 features (uint8)" in done.stdout
    info = json.loads(_run("info", str(out), "--json").stdout)
    assert info["rows"] == 600 and info["sample_shape"] == [28, 28, 1] and info["target"]["task"] == "classification"


def test_info_counts_each_source_s_rows_in_words_and_merge_takes_q(tmp_path):
    for name, rows in (("one.csv", 1), ("many.csv", 1234)):
        (tmp_path / name).write_text("a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(rows)))
        assert _run("convert", str(tmp_path / name), "-o", str(tmp_path / f"{name}.h5"), "-q").returncode == 0
    done = _run("merge", str(tmp_path / "one.csv.h5"), str(tmp_path / "many.csv.h5"), "-o", str(tmp_path / "m.h5"), "-q")
    assert done.returncode == 0 and done.stdout == "", done.stderr
    (line,) = [x for x in _run("info", str(tmp_path / "m.h5")).stdout.splitlines() if x.startswith("sources")]
    assert line == "sources   one.csv (1 row), many.csv (1,234 rows)"


def test_user_errors_are_one_line_exit_2_and_leave_nothing(digits_csv, tmp_path):
    out = tmp_path / "o.h5"
    cases = [  # arguments, and the start of the one line the user must see
        (("convert", str(tmp_path / "missing.csv"), "-o", str(out)), f"error: {tmp_path / 'missing.csv'}: no such file"),
        (
            ("convert", str(digits_csv), "-o", str(out), "--target", "lable"),
            "error: --target 'lable' is not a column; did you mean 'label'?",
        ),
        (
            ("convert", str(digits_csv), "-o", str(out), "--sample-shape", "28,28,2"),
            "error: --sample-shape 28,28,2 holds 1568 values but rows have 785 features",
        ),
        (("convert", str(digits_csv), "-o", str(tmp_path / "nodir" / "o.h5")), f"error: {tmp_path / 'nodir'} does not exist"),
        (("convert", str(digits_csv), "-o", str(out), "--dtype", "int4"), "error: --dtype 'int4' is not one of"),
        (("info", str(digits_csv)), f"error: {digits_csv} is not a readable HDF5 file"),
        (  # not "--names gives 784 names but the first line has 785 fields": the empty name was dropped
            (
                "convert",
                str(digits_csv),
                "-o",
                str(out),
                "--no-header",
                "--names",
                "label,," + ",".join(f"p{i}" for i in range(783)),
            ),
            "error: --names has an empty name (label,,p0,",
        ),
    ]
    for args, start in cases:
        done = _run(*args)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(start), (args, start, done.stderr)
        assert not out.exists()
        assert [p.name for p in tmp_path.iterdir()] == [digits_csv.name]


@pytest.mark.parametrize(
    "name,converted", [("days.csv", "days.h5"), ("days.csv.gz", "days.h5"), ("days.h5", "days-converted.h5")]
)
def test_a_csv_given_for_a_converted_file_is_named_as_text_with_the_command_to_convert_it(tmp_path, name, converted):
    import gzip

    text = "a,b,label\n1,2,0\n3,4,1\n"
    src = tmp_path / name
    src.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    done = _run("info", str(src))  # a CSV named .h5 is converted to another name: convert refuses its own input
    advice = f"convert it first: csv2h5 convert {src} -o {tmp_path / converted}"
    assert done.returncode == 2 and done.stderr.strip() == (
        f"error: {src} is not a readable HDF5 file: it holds text (a CSV?); {advice}"
    ), done.stderr
    assert "damaged" not in done.stderr
    pasted = _run(*advice.removeprefix("convert it first: csv2h5 ").split())  # the advice, followed
    assert pasted.returncode == 0, pasted.stderr
    assert json.loads(_run("info", str(tmp_path / converted), "--json").stdout)["rows"] == 2  # the CSV's rows


def _cli(*args: str):
    """The csv2h5 command in this process (quicker than a subprocess), stderr apart from stdout."""
    return CliRunner().invoke(app, list(args))


def _text(value: object) -> object:
    return value.decode() if isinstance(value, bytes) else value


def _h5(path: Path) -> dict[str, object]:
    """What a converted file holds: its features, columns, every group and dataset, root attributes."""
    with h5py.File(path, "r") as f:
        names: list[str] = []
        f.visit(names.append)
        return {
            "features": f["features"][()],
            "columns": [str(c) for c in f["features"].attrs["columns"]],
            "paths": sorted(names),
            "attrs": {k: f.attrs[k] for k in f.attrs},
            "target": f["target"][()] if "target" in f else None,
            "classes": [_text(c) for c in f["target"].attrs["classes"]] if "target" in f else None,
        }


def test_on_bad_lines_warn_keeps_what_pandas_keeps_and_says_what_it_skipped(tmp_path):
    lines, bad = ["a,b,label"], []
    for i in range(40):
        if i % 3 == 1:  # a line with a field too many, 13 times
            lines.append(f"{i},9,1,9")
            bad.append(len(lines))
        lines.append(f"{i},{i * 3 % 7},{i % 2}")
    lines.append("5,5")  # a field too few: csv2h5 skips it too (pandas would pad it with NaN)
    bad.append(len(lines))
    text = "\n".join(lines) + "\n"
    src, out = tmp_path / "in.csv", tmp_path / "out.h5"
    src.write_text(text)
    result = _cli("convert", str(src), "-o", str(out), "--target", "label", "--on-bad-lines", "warn", "--quiet")
    assert result.exit_code == 0, result.stderr
    first = ", ".join(map(str, bad[:10]))
    assert result.stderr.splitlines() == [f"warning: skipped 14 lines with the wrong number of fields (first: {first})"]
    expected = pd.read_csv(io.StringIO("\n".join(lines[:-1]) + "\n"), on_bad_lines="skip")
    stored = _h5(out)
    assert np.array_equal(stored["features"], expected[["a", "b"]].to_numpy())
    assert np.array_equal(np.asarray(stored["classes"])[stored["target"]], expected["label"].to_numpy())
    assert stored["attrs"]["bad_lines"] == 14 and json.loads(stored["attrs"]["bad_line_numbers"]) == bad


def test_bad_lines_of_several_inputs_are_named_with_their_file(tmp_path):
    first, second, out = tmp_path / "day-1.csv", tmp_path / "day-2.csv", tmp_path / "out.h5"
    first.write_text("a,b\n1,2\n3,4\n5,6,7\n")  # line 4 of day-1.csv
    second.write_text("a,b\n1,2\n3\n5,6\n")  # line 3 of day-2.csv
    result = _cli("convert", str(first), str(second), "-o", str(out), "--on-bad-lines", "warn")
    assert result.exit_code == 0, result.stderr
    places = f"{first}:4, {second}:3"
    assert result.stderr.splitlines() == [f"warning: skipped 2 lines with the wrong number of fields (first: {places})"]
    assert f"skipped 2 bad lines (first: {places})" in result.stdout
    assert json.loads(_h5(out)["attrs"]["bad_line_numbers"]) == [4, 3]  # the file's record: numbers, as before


def test_one_bad_line_is_one_line_in_words(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.h5"
    src.write_text("a,b\n1,2\n3\n")
    result = _cli("convert", str(src), "-o", str(out), "--on-bad-lines", "warn")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == ["warning: skipped 1 line with the wrong number of fields (first: 3)"]
    assert "skipped 1 bad line (first: 3)" in result.stdout.splitlines()


def test_overwrite_replaces_the_old_file_entirely(digits_csv, tmp_path):
    out = tmp_path / "out.h5"
    assert _cli("convert", str(digits_csv), "-o", str(out), "--target", "label", "--quiet").exit_code == 0
    small = tmp_path / "small.csv"
    small.write_text("x,y\n1,2\n3,4\n")
    result = _cli("convert", str(small), "-o", str(out), "--overwrite", "--quiet")
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    stored = _h5(out)
    assert stored["features"].tolist() == [[1, 2], [3, 4]] and stored["columns"] == ["x", "y"]
    assert stored["target"] is None  # nothing of the old file is left: no target, class counts or stats of 784 columns
    assert stored["paths"] == ["features", "stats", "stats/max", "stats/mean", "stats/min", "stats/nan_count", "stats/std"]
    assert stored["attrs"]["rows"] == 2 and [s["name"] for s in json.loads(stored["attrs"]["sources"])] == ["small.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([digits_csv.name, "out.h5", "small.csv"])


# Words of each encoding that UTF-8 would read otherwise, or not at all.
WORDS = {"latin-1": ["café", "naïve", "Größe", "½ price", "±5"], "cp1252": ["café", "naïve", "€uro", "“quoted”", "en–dash"]}


@pytest.mark.parametrize("encoding", list(WORDS))
def test_non_utf8_text_round_trips_through_categorical(tmp_path, encoding):
    words = WORDS[encoding] * 2
    src, out = tmp_path / "in.csv", tmp_path / "out.h5"
    src.write_bytes("".join(["n,word,label\n", *(f"{i},{w},{i % 2}\n" for i, w in enumerate(words))]).encode(encoding))
    result = _cli(
        "convert", str(src), "-o", str(out), "--encoding", encoding, "--categorical", "word", "--target", "label", "--quiet"
    )
    assert result.exit_code == 0, result.stderr
    with h5py.File(out, "r") as f:
        vocabulary = [_text(v) for v in f["categories/word"][()]]
        codes = f["features"][:, 1].astype(int)
    assert [vocabulary[c] for c in codes] == words
    result = _cli("convert", str(src), "-o", str(out), "--overwrite", "--categorical", "word", "--quiet")
    assert result.exit_code == 2  # read as UTF-8 (the default), the first accented word is not UTF-8
    assert result.stderr.startswith(f"error: {src}:2: not valid UTF-8 text") and "--encoding" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_byte_the_encoding_does_not_have_is_one_line(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.h5"
    src.write_bytes(b"n,word\n1,caf\xe9\n2,\x81\n")  # 0x81 is no character in cp1252
    result = _cli("convert", str(src), "-o", str(out), "--encoding", "cp1252", "--categorical", "word", "--quiet")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {src}: not valid ") and "--encoding" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
