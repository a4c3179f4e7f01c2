"""Parts with different vocabularies and class sets read as one, and training refuses a single class.

The penguin-shaped table is cut by island: each part has its own island
vocabulary, sex order and class set, and the Torgersen part holds one class.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from csv2h5.trainer import DataOptionError, HDF5Sequence
from csv2h5.trainer.fileinfo import open_info
from typer.testing import CliRunner

from csv2h5 import ConvertOptions, convert
from csv2h5.merge import merge

ISLANDS = ("Biscoe", "Dream", "Torgersen")
OPTIONS = ConvertOptions(target=("species",), categorical=("island", "sex"), chunk_rows=16)


@pytest.fixture(scope="module")
def parts(tmp_path_factory) -> dict[str, object]:
    """Parts converted one by one (one compressed, so read by chunks), the same --like, and their merge."""
    import make_penguins_csv

    work = tmp_path_factory.mktemp("united")
    frame = make_penguins_csv.make_table(344, seed=2)
    csvs = make_penguins_csv.write_parts(frame, work, by="island")
    alone, like = [], []
    for island, csv in zip(ISLANDS, csvs):
        alone.append(work / f"{island}.h5")
        compression = "lzf" if island == "Dream" else "none"
        convert([csv], alone[-1], options=ConvertOptions(**{**_fields(OPTIONS), "compression": compression}))
        like.append(work / "like" / f"{island}.h5")
        like[-1].parent.mkdir(exist_ok=True)
        convert([csv], like[-1], options=ConvertOptions(like=str(like[-2])) if len(like) > 1 else OPTIONS)
    merge(alone, work / "merged.h5")
    return {"alone": alone, "like": like, "merged": work / "merged.h5"}


def _fields(options: ConvertOptions) -> dict[str, object]:
    return {name: getattr(options, name) for name in ("target", "categorical", "chunk_rows")}


def _batches(seq: HDF5Sequence, epochs: int = 2) -> list[tuple[np.ndarray, ...]]:
    out = []
    for epoch in range(epochs):
        seq.set_epoch(epoch)
        out += [seq[i] for i in range(len(seq))]
    return out


@pytest.mark.parametrize("mode", ["global", "window", "batch", "none"])
def test_parts_read_as_one_give_the_merged_files_batches(parts, mode):
    options = dict(batch_size=24, shuffle=mode, seed=7, scale="standard", class_weight="balanced", training=True)
    merged = HDF5Sequence(parts["merged"], **options)
    united = HDF5Sequence([str(p) for p in parts["alone"]], **options)
    assert united.info.classes == merged.info.classes == ["Adelie", "Gentoo", "Chinstrap"]
    assert any(united.info.part_codes)  # codes are remapped on read: the parts' vocabularies differ
    for a, b in zip(_batches(merged), _batches(united), strict=True):
        assert len(a) == len(b) == 3
        for left, right in zip(a, b):
            np.testing.assert_array_equal(left, right)


def test_parts_read_as_one_decode_to_the_merged_values_and_stats(parts):
    merged, united = open_info(parts["merged"]), open_info([str(p) for p in parts["alone"]])
    assert united.dtype == merged.dtype and united.rows == merged.rows == 344
    np.testing.assert_array_equal(united.target, merged.target)
    for name in ("mean", "std", "min", "max", "nan_count", "class_counts"):
        np.testing.assert_array_equal(united.stats[name], merged.stats[name], err_msg=name)
    # island codes as read decode to each part's island (oracle: the part files' own vocabularies)
    seq = HDF5Sequence([str(p) for p in parts["alone"]], batch_size=400, shuffle=False, targets=False)
    with h5py.File(parts["merged"]) as f:
        vocabulary = [v.decode() for v in f["categories/island"][()]]
    islands = [vocabulary[int(code)] for code in seq[0][:, 0]]
    assert islands == [island for island, p in zip(ISLANDS, parts["alone"]) for _ in range(open_info(p).rows)]


def test_parts_converted_like_the_previous_need_no_lookup(parts):
    united = open_info([str(p) for p in parts["like"]])
    assert united.part_codes == ({}, {}, {})  # every part's codes already are the united ones
    merged = HDF5Sequence(parts["merged"], batch_size=50, shuffle="global", seed=1)
    like = HDF5Sequence([str(p) for p in parts["like"]], batch_size=50, shuffle="global", seed=1)
    for (xa, ya), (xb, yb) in zip(_batches(merged, 1), _batches(like, 1), strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_older_parts_without_category_counts_give_the_same_stats(parts, tmp_path):
    old = []
    for path in parts["alone"]:
        old.append(tmp_path / path.name)
        old[-1].write_bytes(path.read_bytes())
        with h5py.File(old[-1], "r+") as f:
            del f["category_counts"]  # as csv2h5 0.2 wrote them: codes are counted on open
    before, after = open_info([str(p) for p in parts["alone"]]), open_info([str(p) for p in old])
    for name in ("mean", "std", "min", "max"):
        np.testing.assert_array_equal(after.stats[name], before.stats[name], err_msg=name)


def test_training_refuses_rows_of_one_class_and_evaluation_takes_them(parts):
    torgersen = parts["alone"][2]
    for kwargs in ({}, {"shuffle": "none", "training": True}):
        with pytest.raises(DataOptionError, match=r"single class \('Adelie'\) in the \d+ rows used for training"):
            HDF5Sequence(torgersen, **kwargs)
    HDF5Sequence(torgersen, shuffle=False)  # evaluation
    HDF5Sequence(torgersen, targets=False)  # prediction
    glob = [str(p) for p in parts["alone"]]
    adelie = np.flatnonzero(open_info(glob).target == 0)
    with pytest.raises(DataOptionError, match="rows used for training"):
        HDF5Sequence(glob, indices=adelie)
    train, val = HDF5Sequence(glob).split(0.2)  # both sides hold every class
    assert train.training and not val.training


def test_h5train_refuses_a_one_class_training_set_in_one_line(parts, tmp_path):
    from csv2h5.trainer.cli import app

    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["fit", str(parts["alone"][2]), "--run-dir", str(run), "--progress", "none"])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "single class ('Adelie')" in lines[0] and "csv2h5 merge" in lines[0]
    assert not run.exists()


@pytest.mark.parametrize("mode", ["window", "blocks"])
def test_parts_of_default_chunks_and_different_dtypes_give_the_merged_files_batches(tmp_path, mode):
    """Parts converted with default chunks (a small one cut to its rows, uint8 beside float32) order as their merge."""
    rng = np.random.default_rng(0)
    paths = []
    for name, rows, values in (("a", 2000, rng.integers(0, 200, (2000, 300))), ("b", 1500, rng.normal(size=(1500, 300)))):
        csv = tmp_path / f"{name}.csv"
        labels = rng.integers(0, 2, (rows, 1))
        np.savetxt(csv, np.hstack([values, labels]), delimiter=",", fmt="%.4g", comments="",
                   header=",".join([f"f{i}" for i in range(300)] + ["label"]))  # fmt: skip
        paths.append(tmp_path / f"{name}.h5")
        convert([csv], paths[-1], options=ConvertOptions(target=("label",)))
    merge(paths, tmp_path / "merged.h5")
    with h5py.File(paths[0]) as a, h5py.File(tmp_path / "merged.h5") as m:
        assert a["features"].dtype == np.uint8 and m["features"].chunks[0] != a["features"].chunks[0]
    options = dict(batch_size=100, shuffle=mode, seed=5, memory_budget="1MB")
    merged = HDF5Sequence(tmp_path / "merged.h5", **options)
    united = HDF5Sequence([str(p) for p in paths], **options)
    for a, b in zip(_batches(merged), _batches(united), strict=True):
        for left, right in zip(a, b):
            np.testing.assert_array_equal(left, right)


def test_parts_read_as_one_are_named_as_all_the_parts_in_messages(tmp_path):
    """A class new to training in the second part: the message names the parts, not the first alone (which lacks it)."""
    from csv2h5.trainer.errors import ModelError
    from csv2h5.trainer.predict import check_like_training

    paths = []
    for name, labels in (("a", "cat,dog"), ("b", "dog,emu")):
        csv = tmp_path / f"{name}.csv"
        csv.write_text("x,label\n" + "".join(f"{i},{labels.split(',')[i % 2]}\n" for i in range(10)))
        paths.append(tmp_path / f"{name}.h5")
        convert([csv], paths[-1], options=ConvertOptions(target=("label",)))
    info = open_info(str(tmp_path / "*.h5"))
    trained = {"data": {"task": "classification", "classes": ["cat", "dog"], "columns": ["x"]}}
    with pytest.raises(ModelError) as caught:
        check_like_training(trained, info, labels=True)
    assert str(caught.value).startswith(f"{paths[0]} and {paths[1]} (2 files read as one) has classes the model was not")
