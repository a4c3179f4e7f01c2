"""Several converted files read as one dataset, and csv2h5 merge."""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from csv2h5.trainer import DataFileError, HDF5Sequence
from csv2h5.trainer.fileinfo import open_info
from csv2h5.trainer.rows import RowSource
from typer.testing import CliRunner

from csv2h5 import ConvertOptions, convert
from csv2h5.cli import app as csv2h5_app

FEATURES = 6


def _csv(path: Path, x: np.ndarray, y: list[object]) -> Path:
    lines = [",".join([f"f{i}" for i in range(FEATURES)] + ["label"])]
    lines += [",".join([*map(str, row), str(label)]) for row, label in zip(x, y)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def whole_and_parts(tmp_path):
    """One CSV converted whole and in three pieces (each piece holds every class)."""
    rng = np.random.default_rng(5)
    x = np.round(rng.normal(size=(103, FEATURES)) * 100, 2)
    y = [["cat", "dog", "emu"][i % 3] for i in range(103)]
    options = ConvertOptions(target=("label",), chunk_rows=8)
    whole = tmp_path / "whole.h5"
    convert([_csv(tmp_path / "whole.csv", x, y)], whole, options=options)
    parts = []
    for k, (a, b) in enumerate([(0, 31), (31, 70), (70, 103)]):
        parts.append(tmp_path / f"part{k}.h5")
        convert([_csv(tmp_path / f"part{k}.csv", x[a:b], y[a:b])], parts[-1], options=options)
    return whole, parts


@pytest.mark.parametrize("mode", ["global", "window", "batch", "none"])
def test_a_file_split_in_three_gives_the_same_batches(whole_and_parts, mode):
    whole, parts = whole_and_parts
    one = HDF5Sequence(whole, batch_size=10, shuffle=mode, seed=4, scale="standard")
    three = HDF5Sequence(str(whole.parent / "part*.h5"), batch_size=10, shuffle=mode, seed=4, scale="standard")
    assert len(one) == len(three) and three.paths == tuple(str(p) for p in parts)
    for epoch in range(3):
        one.set_epoch(epoch)
        three.set_epoch(epoch)
        for i in range(len(one)):
            (xa, ya), (xb, yb) = one[i], three[i]
            np.testing.assert_allclose(xa, xb, rtol=1e-6, atol=1e-6)  # scale: merged stats
            assert np.array_equal(ya, yb)


def test_merged_stats_equal_the_whole_files(whole_and_parts):
    whole, parts = whole_and_parts
    one, three = open_info(whole), open_info([str(p) for p in parts])
    assert three.rows == one.rows and three.parts == tuple(str(p) for p in parts)
    for name in ("mean", "std", "min", "max", "nan_count", "class_counts"):
        np.testing.assert_allclose(three.stats[name], one.stats[name], rtol=1e-12, atol=1e-9, err_msg=name)


def test_parts_with_other_classes_unite_them_and_refuse_text_with_numbers(tmp_path):
    rng = np.random.default_rng(0)
    a, b, c = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "c.h5"
    convert(
        [_csv(tmp_path / "a.csv", rng.integers(0, 9, (6, FEATURES)), ["y", "x"] * 3)],
        a,
        options=ConvertOptions(target=("label",)),
    )
    convert(
        [_csv(tmp_path / "b.csv", rng.integers(0, 9, (6, FEATURES)), ["x", "z"] * 3)],
        b,
        options=ConvertOptions(target=("label",)),
    )
    seq = HDF5Sequence([a, b], shuffle=False, batch_size=12)
    assert seq.info.classes == ["x", "y", "z"]  # a's (sorted) classes, then b's new one
    assert seq[0][1].tolist() == [1, 0] * 3 + [0, 2] * 3
    convert(
        [_csv(tmp_path / "c.csv", rng.integers(0, 9, (6, FEATURES)), [1, 2] * 3)], c, options=ConvertOptions(target=("label",))
    )
    with pytest.raises(DataFileError, match="numeric classes but .* text ones"):
        HDF5Sequence([a, c])
    with pytest.raises(DataFileError, match="matches no file"):
        HDF5Sequence(str(tmp_path / "nothing*.h5"))


def test_a_file_whose_name_holds_pattern_characters_is_that_file(whole_and_parts, tmp_path):
    """``run[1].h5`` exists: it is read, not taken as a pattern (which would match ``run1.h5``)."""
    whole, parts = whole_and_parts
    odd = tmp_path / "run[1].h5"
    odd.write_bytes(parts[0].read_bytes())
    (tmp_path / "run1.h5").write_bytes(parts[1].read_bytes())
    seq = HDF5Sequence(str(odd), batch_size=100, shuffle=False)
    assert seq.paths == (str(odd),) and seq.num_rows == 31
    assert open_info(odd).rows == 31
    assert HDF5Sequence(str(tmp_path / "run?.h5"), batch_size=100, shuffle=False).num_rows == 39  # a pattern still is one
    listed = HDF5Sequence([str(odd), str(tmp_path / "run?.h5")], batch_size=100, shuffle=False)  # a pattern in a list
    assert listed.paths == (str(odd), str(tmp_path / "run1.h5")) and listed.num_rows == 31 + 39


def test_merge_copies_rows_unites_classes_and_merges_stats(whole_and_parts, tmp_path):
    whole, parts = whole_and_parts
    # a fourth part with a class the others lack, and without "cat"
    extra = tmp_path / "extra.h5"
    convert(
        [_csv(tmp_path / "extra.csv", np.full((4, FEATURES), 7.5), ["ant", "dog", "ant", "emu"])],
        extra,
        options=ConvertOptions(target=("label",), chunk_rows=8),
    )
    out = tmp_path / "all.h5"
    result = CliRunner().invoke(csv2h5_app, ["merge", *map(str, parts), str(extra), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "merged 4 files, 107 rows, 4 classes" in result.stdout
    with h5py.File(whole) as w, h5py.File(extra) as e, h5py.File(out) as m:
        assert np.array_equal(m["features"][:103], w["features"][()])
        assert np.array_equal(m["features"][103:], e["features"][()].astype(m["features"].dtype))
        classes = [c.decode() if isinstance(c, bytes) else c for c in m["target"].attrs["classes"]]
        assert classes == ["cat", "dog", "emu", "ant"]  # first seen over the parts: the first part's, then new ones
        labels = np.asarray(classes)[m["target"][()]]
        assert list(labels) == [["cat", "dog", "emu"][i % 3] for i in range(103)] + ["ant", "dog", "ant", "emu"]
        assert np.array_equal(m["stats/class_counts"][()], [35, 35, 35, 2])
        # the stats of the CSV values themselves (features are float32; stats are of the exact decimals)
        text = [
            np.loadtxt(tmp_path / f"{n}.csv", delimiter=",", skiprows=1, usecols=range(FEATURES), ndmin=2)
            for n in ("whole", "extra")
        ]
        everything = np.concatenate(text)
        np.testing.assert_allclose(m["stats/mean"][()], everything.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(m["stats/std"][()], everything.std(axis=0), rtol=1e-10)
        np.testing.assert_array_equal(m["stats/max"][()], everything.max(axis=0))
        assert m.attrs["rows"] == 107 and m.attrs["csv2h5_format"] == 1
    source = RowSource(str(out))
    assert source.mapped and source.reader.runs == 1  # merged like a converted file: one map
    source.close()


def test_merge_refuses_other_schemas_and_leaves_nothing(whole_and_parts, tmp_path):
    whole, parts = whole_and_parts
    other = tmp_path / "other.h5"
    (tmp_path / "other.csv").write_text("a,b,label\n1,2,x\n3,4,y\n")
    convert([tmp_path / "other.csv"], other, options=ConvertOptions(target=("label",)))
    runner = CliRunner()
    out = tmp_path / "all.h5"
    for args, words in (
        ([parts[0], other], "other feature columns"),
        ([parts[0]], "two or more files"),
        ([parts[0], tmp_path / "missing.h5"], "no such file"),
    ):
        result = runner.invoke(csv2h5_app, ["merge", *map(str, args), "-o", str(out)])
        assert result.exit_code == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert not out.exists() and not list(tmp_path.glob(".all.h5*"))
    out.write_text("keep me")
    result = runner.invoke(csv2h5_app, ["merge", *map(str, parts), "-o", str(out)])
    assert result.exit_code == 2 and "already exists" in result.stderr and out.read_text() == "keep me"


def test_one_part_given_twice_is_refused_by_merge_and_by_reading_parts_as_one(whole_and_parts, tmp_path):
    """Its rows would be stored or read twice, and a validation split would hold rows it also trains on."""
    _, parts = whole_and_parts
    (tmp_path / "link.h5").symlink_to(parts[0])
    out = tmp_path / "all.h5"
    for second in (parts[0], tmp_path / "link.h5", tmp_path / "." / parts[0].name):
        result = CliRunner().invoke(csv2h5_app, ["merge", str(parts[0]), str(parts[1]), str(second), "-o", str(out)])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"error: {second} is given twice") and "pass each part once" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()
        with pytest.raises(DataFileError, match="is given twice.*its rows would be read twice: pass each file once"):
            HDF5Sequence([parts[0], parts[1], second])
    copy = tmp_path / "copy.h5"
    copy.write_bytes(parts[0].read_bytes())  # the same bytes in another file: read as one, its rows would be read twice
    with pytest.raises(DataFileError, match="hold the same content, whose rows would be read twice: leave one of them out"):
        HDF5Sequence([parts[0], copy], batch_size=1, shuffle=False)
    merged = CliRunner().invoke(csv2h5_app, ["merge", str(parts[0]), str(copy), "-o", str(out)])  # keeps every row, and says so
    assert merged.exit_code == 0 and "both hold the input part0.csv" in merged.stderr
    with h5py.File(out) as merged:
        assert merged["features"].shape[0] == 2 * 31


def test_parts_take_rows_in_any_order(whole_and_parts):
    from csv2h5.trainer.rows import PartsRows

    whole, parts = whole_and_parts
    info = open_info([str(p) for p in parts])
    joined, single = PartsRows(info.parts, info.part_starts), RowSource(str(whole))
    rows = np.random.default_rng(2).integers(0, 103, size=300)  # unsorted, repeats, across parts
    for pick in (rows, np.sort(rows), np.array([5]), np.array([102, 0])):
        assert np.array_equal(joined.take(pick), single.take(pick))
    joined.close()
    single.close()


def test_h5train_fits_and_evaluates_a_glob_of_parts(whole_and_parts, tmp_path):
    from csv2h5.trainer.cli import app as h5train_app

    whole, parts = whole_and_parts
    pattern = str(whole.parent / "part*.h5")
    runner = CliRunner()
    run = tmp_path / "run"
    result = runner.invoke(
        h5train_app,
        ["fit", pattern, "--run-dir", str(run), "--epochs", "2", "--batch-size", "16", "--hidden", "4", "--progress", "none"],
    )
    assert result.exit_code == 0, result.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["rows"] == 103 and len(config["data"]["parts"]) == 3
    assert config["data"]["bytes"] == sum(p.stat().st_size for p in parts)
    on_parts = runner.invoke(h5train_app, ["evaluate", str(run), pattern, "--json"])
    on_whole = runner.invoke(h5train_app, ["evaluate", str(run), str(whole), "--json"])
    assert on_parts.exit_code == 0 and on_whole.exit_code == 0, (on_parts.stderr, on_whole.stderr)
    a, b = json.loads(on_parts.stdout), json.loads(on_whole.stdout)
    assert a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-5 for k in a)  # the same rows, split or not


def test_parts_of_other_sample_shapes_are_refused_by_merge_and_by_reading_them_as_one(tmp_path):
    """Read as one, every row would take the first part's shape without a word."""
    from csv2h5.trainer.cli import app as h5train_app

    rng = np.random.default_rng(3)
    parts = []
    for k, shape in enumerate([(2, 3), (3, 2)]):
        csv = _csv(tmp_path / f"part{k}.csv", np.round(rng.normal(size=(12, FEATURES)), 3), ["a", "b"] * 6)
        parts.append(tmp_path / f"part{k}.h5")
        convert([csv], parts[-1], options=ConvertOptions(target=("label",), sample_shape=shape))
    line = f"{parts[1]} has sample shape 3,2 but {parts[0]} has 2,3; {{}} converted with the same --sample-shape"
    with pytest.raises(DataFileError, match="^" + re.escape(line.format("files read as one must be")) + "$"):
        HDF5Sequence(parts)
    result = CliRunner().invoke(h5train_app, ["fit", str(tmp_path / "part*.h5"), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and result.stderr == f"error: {line.format('files read as one must be')}\n"
    assert not (tmp_path / "run").exists()
    out = tmp_path / "all.h5"
    result = CliRunner().invoke(csv2h5_app, ["merge", *map(str, parts), "-o", str(out)])
    assert result.exit_code == 2 and result.stderr == f"error: {line.format('merge files')}\n" and not out.exists()
