"""The main process only orders and writes: parser processes read plain files by offset and hand arrays back
through shared memory; blocks cut without looking at quotes come out numbered, and joined where a cut fell
inside quotes."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from decimal_tables import decimal_csv, stored

from csv2h5 import ConvertOptions, convert, pool, shared
from csv2h5.errors import BadValueError


def test_what_crosses_from_parsers_is_bounded_per_block_not_per_row(tmp_path, monkeypatch):
    """Rows come back through shared memory: the pickled results hold summaries, not rows.

    The bound fails if the features (or any per-row array of their size) travel
    through the pipe again: here they are ~110 KB a block (~450 KB per MB of CSV); the summaries ~1.3 KB.
    """
    src = tmp_path / "d.csv"
    frame = decimal_csv(src, 60_000)
    crossed: list[int] = []
    shared_bytes: list[int] = []
    real_received = pool._received

    def counting(parsed):
        crossed.append(len(pickle.dumps(parsed)))  # what came through the pipe, as it came
        shared_bytes.append(sum(a.nbytes for a in (parsed.features, parsed.target) if isinstance(a, shared.SharedArray)))
        return real_received(parsed)

    monkeypatch.setattr(pool, "_received", counting)
    out = tmp_path / "d.h5"
    convert([src], out, options=ConvertOptions(target=("y",), block_bytes=256 << 10, workers=2))
    csv_mb = src.stat().st_size / 1e6
    assert len(crossed) >= 10
    per_block = max(crossed)
    assert per_block <= 8192, f"{per_block} bytes crossed the pipe for one block"
    assert sum(crossed) / csv_mb <= 32_000, f"{sum(crossed) / csv_mb:.0f} bytes per MB of CSV crossed the pipe"
    assert sum(shared_bytes) >= frame.shape[0] * 12 * 4  # the rows went through shared memory
    with h5py.File(out) as f:
        np.testing.assert_array_equal(stored(f), frame.iloc[:, :12].to_numpy())
    assert not [p for p in shared.SHARED_DIR.glob(f"csv2h5-{os.getpid()}-*")]  # nothing left behind


def _quoted_csv(path: Path, rows: int) -> pd.DataFrame:
    """Numbers beside quoted text with line breaks and quotes inside, so cuts land inside quotes."""
    rng = np.random.default_rng(1)
    notes = ['"a\nb"', '"say ""hi""\nthen\n go"', "plain", '"x,y"', '"\n"']
    lines = ["a,note,b"]
    for i in range(rows):
        lines.append(f"{rng.integers(0, 1000)},{notes[i % len(notes)]},{rng.normal():.5f}")
    path.write_text("\n".join(lines) + "\n")
    return pd.read_csv(path)


@pytest.mark.parametrize("block_bytes", [37, 100, 1000])
def test_cuts_inside_quotes_are_joined_and_values_exact(tmp_path, block_bytes):
    src = tmp_path / "q.csv"
    expected = _quoted_csv(src, 800)
    out = tmp_path / "q.h5"
    options = ConvertOptions(block_bytes=block_bytes, infer_bytes=500, workers=2, drop=("note",))
    report = convert([src], out, options=options)
    assert report.rows == len(expected)
    with h5py.File(out) as f:
        np.testing.assert_array_equal(stored(f), expected[["a", "b"]].to_numpy())


@pytest.mark.parametrize("block_bytes", [64, 1000, 1 << 20])
def test_errors_name_the_line_when_blocks_are_numbered_by_parsers(tmp_path, block_bytes):
    src = tmp_path / "e.csv"
    lines = ["a,b"] + [f"{i},{i * 0.5}" for i in range(3000)]
    lines[2400] = "7,oops"  # line 2401 of the file
    src.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadValueError, match=r"e\.csv:2401: .*'b'.*'oops'"):
        convert([src], tmp_path / "e.h5", options=ConvertOptions(block_bytes=block_bytes, workers=2))


@pytest.mark.parametrize("block_bytes", [64, 1000])
def test_bad_lines_skipped_are_numbered_as_in_the_file(tmp_path, block_bytes):
    src = tmp_path / "b.csv"
    lines = ["a,b"] + [f"{i},{i}" for i in range(2000)]
    bad = [101, 1502, 1999]
    for line in bad:
        lines[line - 1] = "1,2,3"
    src.write_text("\n".join(lines) + "\n")
    report = convert([src], tmp_path / "b.h5", options=ConvertOptions(block_bytes=block_bytes, workers=2, on_bad_lines="skip"))
    assert report.bad_line_numbers == bad
    assert report.rows == 2000 - len(bad)


def test_unclosed_quote_at_the_end_is_reported_as_without_parsers(tmp_path):
    src = tmp_path / "u.csv"
    lines = ["a,b"] + [f"{i},{i}" for i in range(2000)] + ['5,"never closed', "6,6"]
    src.write_text("\n".join(lines) + "\n")
    messages = []
    for workers in (0, 2):
        with pytest.raises(BadValueError, match=r"u\.csv:2002: ") as caught:
            convert([src], tmp_path / "u.h5", options=ConvertOptions(block_bytes=500, workers=workers))
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


def test_several_files_number_their_own_lines(tmp_path):
    first, second = tmp_path / "p1.csv", tmp_path / "p2.csv"
    first.write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(1500)))
    second.write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(900)) + "3,x\n")
    with pytest.raises(BadValueError, match=r"p2\.csv:902:"):
        convert([first, second], tmp_path / "p.h5", options=ConvertOptions(block_bytes=300, workers=2))


def test_a_failed_conversion_leaves_no_shared_memory(tmp_path):
    src = tmp_path / "f.csv"
    decimal_csv(src, 20_000)
    with src.open("a") as fh:
        fh.write("x,1,1,1,1,1,1,1,1,1,1,1,1\n")  # the last line: text in a number column
    with pytest.raises(BadValueError, match=r"f\.csv:20002:"):
        convert([src], tmp_path / "f.h5", options=ConvertOptions(target=("y",), block_bytes=64 << 10, workers=2))
    assert not [p for p in shared.SHARED_DIR.glob(f"csv2h5-{os.getpid()}-*")]


def _odd_csv(path: Path, seed: int, *, crlf: bool, bom: bool, final_newline: bool) -> None:
    """Numbers and quoted text with line breaks, commas and quotes inside; some empty cells and blank lines."""
    rng = np.random.default_rng(seed)
    texts = ['"a\nb"', '"he said ""no""\n"', "word", '"1,5"', '""', '"\r\nx"']
    end = "\r\n" if crlf else "\n"
    lines = ["n,t,x"]
    for _ in range(600):
        x = "" if rng.random() < 0.05 else f"{rng.normal():.4f}"
        lines.append(f"{rng.integers(0, 50)},{texts[rng.integers(0, len(texts))]},{x}")
        if rng.random() < 0.02:
            lines.append("")
    text = end.join(lines) + (end if final_newline else "")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())


@pytest.mark.parametrize(
    "seed, crlf, bom, final_newline",
    [(0, False, False, True), (1, True, False, True), (2, False, True, False), (3, True, True, False)],
)
@pytest.mark.parametrize("block_bytes", [50, 333, 2000])
def test_parsers_reading_by_offset_give_the_file_the_main_process_gives(tmp_path, seed, crlf, bom, final_newline, block_bytes):
    src = tmp_path / "o.csv"
    _odd_csv(src, seed, crlf=crlf, bom=bom, final_newline=final_newline)
    files = []
    for workers in (0, 2):
        out = tmp_path / f"o{workers}.h5"
        convert(
            [src],
            out,
            options=ConvertOptions(target=("n",), categorical=("t",), block_bytes=block_bytes, infer_bytes=700, workers=workers),
        )
        files.append(out)
    with h5py.File(files[0]) as serial, h5py.File(files[1]) as parallel:
        for name in ("features", "target", "categories/t", "stats/min", "stats/max", "stats/nan_count"):
            np.testing.assert_array_equal(serial[name][()], parallel[name][()])
        # Blocks cut elsewhere: means merge in another order (stats.py: equal up to the merge's rounding).
        np.testing.assert_allclose(serial["stats/mean"][()], parallel["stats/mean"][()], rtol=1e-12)
    expected = pd.read_csv(src, encoding="utf-8-sig")
    with h5py.File(files[1]) as f:
        assert f["features"].shape[0] == len(expected)
        texts = [v.decode() if isinstance(v, bytes) else v for v in f["categories/t"][()]]
        codes = f["features"][:, 0]
        got = [texts[int(c)] if not np.isnan(c) else None for c in codes]
        assert got == [None if isinstance(v, float) else v for v in expected["t"]]


@pytest.mark.parametrize(
    "labels, task, expected_task",
    [(3, "auto", "classification"), (1500, "auto", "regression"), (1500, "classification", "classification")],
)
def test_target_labels_tallied_by_parsers_give_the_classes_the_labels_hold(tmp_path, labels, task, expected_task):
    """Parsers tally each block's distinct labels (up to 1,000; past that the main process does): the classes are
    the file's own, as numpy finds them, and past 1,000 labels --task auto stores numbers."""
    rng = np.random.default_rng(7)
    rows = 20_000
    y = rng.permutation(np.resize(np.arange(labels) * 3 - 40, rows))  # every label present, some negative
    frame = pd.DataFrame({"a": rng.normal(size=rows).round(4), "y": y})
    src = tmp_path / "d.csv"
    frame.to_csv(src, index=False)
    out = tmp_path / "d.h5"
    convert(src, out, options=ConvertOptions(target=("y",), task=task, workers=2, block_bytes=1 << 14))
    with h5py.File(out) as f:
        assert f["target"].attrs["task"] == expected_task
        if expected_task == "classification":
            classes = np.asarray(f["target"].attrs["classes"])
            np.testing.assert_array_equal(classes, np.unique(y))
            np.testing.assert_array_equal(classes[f["target"][()]], y)
        else:
            np.testing.assert_array_equal(f["target"][()], y.astype(np.float32))
