"""Chunks compressed in the parser processes: the same values, plain HDF5 that any reader decodes."""

from __future__ import annotations

import shutil
import subprocess

import h5py
import numpy as np
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.encoders import encode_chunk
from csv2h5.errors import OptionError


def _decimals_csv(path, rows: int = 3000) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(rows, 6)).astype(np.float32)
    lines = ["a,b,c,d,e,f,label"] + [",".join(f"{v:.18e}" for v in row) + f",{i % 3}" for i, row in enumerate(x)]
    path.write_text("\n".join(lines) + "\n")


def _arrays(path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in ("features", "target", "stats/mean", "stats/max", "stats/nan_count")}


@pytest.mark.parametrize("compression, name", [("lzf", "lzf"), ("gzip:1", "gzip")])
@pytest.mark.parametrize("workers, block_bytes", [(0, 1 << 20), (2, 4096), (2, 1 << 20)])
def test_compressed_in_workers_equals_uncompressed(tmp_path, digits_csv, compression, name, workers, block_bytes):
    decimals = tmp_path / "dec.csv"
    _decimals_csv(decimals)
    for src, target in ((decimals, "label"), (digits_csv, "label")):
        plain, packed = tmp_path / f"{src.stem}.h5", tmp_path / f"{src.stem}.{name}.h5"
        convert([src], plain, options=ConvertOptions(target=(target,), chunk_rows=256, workers=0, overwrite=True))
        convert(
            [src],
            packed,
            options=ConvertOptions(
                target=(target,),
                chunk_rows=256,
                compression=compression,
                workers=workers,
                block_bytes=block_bytes,
                overwrite=True,
            ),
        )
        expected, got = _arrays(plain), _arrays(packed)
        for k in ("features", "target", "stats/max", "stats/nan_count"):
            assert np.array_equal(expected[k], got[k]) and expected[k].dtype == got[k].dtype, (src.name, k)
        # means merged from other blocks differ in the last bits only
        assert np.allclose(expected["stats/mean"], got["stats/mean"], rtol=1e-12, atol=0)
        with h5py.File(packed, "r") as f:  # plain h5py decodes every chunk through its own filter
            assert f["features"].compression == name and f["features"].chunks[0] == 256
            assert f["features"].id.get_num_chunks() == -(-len(expected["features"]) // 256)


@pytest.mark.parametrize("compression", [("lzf", None), ("gzip", 4)])
@pytest.mark.parametrize("kind", ["noise", "zeros"])
def test_encode_chunk_gives_the_bytes_hdf5_writes(tmp_path, compression, kind):
    rng = np.random.default_rng(0)
    chunk = rng.integers(0, 256, size=(64, 100), dtype=np.uint8) if kind == "noise" else np.zeros((64, 100), np.uint8)
    with h5py.File(tmp_path / "ref.h5", "w") as f:
        ds = f.create_dataset("x", data=chunk, chunks=chunk.shape, compression=compression[0], compression_opts=compression[1])
        mask, data = ds.id.read_direct_chunk((0, 0))
    assert encode_chunk(chunk, compression) == (mask, bytes(data))  # noise: lzf gives up, flagged in the mask


def test_widening_after_compressed_chunks(tmp_path):
    """Chunks of small integers are compressed before a float32 block, then a float64 one arrives."""
    rows = [f"{i % 200},{i % 7}" for i in range(4000)]
    rows += [f"{np.float32(i / 9.0):.18e},{i % 7}" for i in range(2000)]  # float32 values written in full
    rows += [f"{i / 9.0!r},{i % 7}" for i in range(2000)]  # float64 values
    src = tmp_path / "w.csv"
    src.write_text("a,b\n" + "\n".join(rows) + "\n")
    report = convert(
        [src], tmp_path / "w.h5", options=ConvertOptions(compression="gzip", chunk_rows=128, block_bytes=2048, workers=2)
    )
    expected = np.array([[float(c) for c in r.split(",")] for r in rows])
    with h5py.File(tmp_path / "w.h5", "r") as f:
        assert f["features"].dtype == np.float64 and f["features"].compression == "gzip"
        assert np.array_equal(f["features"][()], expected)  # the float32 rows too: their exact values
    assert len(report.widened) == 2


def test_append_to_a_compressed_file(tmp_path):
    whole, first, second = tmp_path / "all.csv", tmp_path / "a.csv", tmp_path / "b.csv"
    _decimals_csv(whole)
    lines = whole.read_text().splitlines(keepends=True)
    first.write_text("".join(lines[:1001]))  # ends inside a chunk: the append starts mid-chunk
    second.write_text(lines[0] + "".join(lines[1001:]))
    options = ConvertOptions(target=("label",), compression="lzf", chunk_rows=300, workers=2, block_bytes=8192)
    convert([whole], tmp_path / "all.h5", options=options)
    convert([first], tmp_path / "ab.h5", options=options)
    convert([second], tmp_path / "ab.h5", options=ConvertOptions(target=("label",), append=True, workers=2, block_bytes=8192))
    expected, got = _arrays(tmp_path / "all.h5"), _arrays(tmp_path / "ab.h5")
    assert np.array_equal(expected["features"], got["features"]) and np.array_equal(expected["target"], got["target"])


@pytest.mark.parametrize(
    "made, asked, stored", [("lzf", "gzip:5", "lzf"), ("gzip:4", "gzip:9", "gzip:4"), ("none", "lzf", "none")]
)
def test_append_asking_for_another_compression_is_refused_and_leaves_the_file(tmp_path, made, asked, stored):
    """--append keeps the file's compression: another one asked for is said, not silently ignored."""
    src = tmp_path / "a.csv"
    src.write_text("x,label\n" + "".join(f"{i / 8},{i % 2}\n" for i in range(50)))
    out = tmp_path / "a.h5"
    convert([src], out, options=ConvertOptions(target=("label",), compression=made))
    before = out.read_bytes()
    with pytest.raises(
        OptionError, match=rf"is stored with --compression {stored}, and --append keeps it; drop --compression {asked}"
    ):
        convert([src], out, options=ConvertOptions(target=("label",), append=True, compression=asked))
    assert out.read_bytes() == before
    convert([src], out, options=ConvertOptions(target=("label",), append=True, compression=made))  # the same: taken
    with h5py.File(out, "r") as f:
        assert f["features"].shape == (100, 1)


def test_uncompressed_features_stay_one_run_of_bytes(tmp_path):
    """The trainer maps /features as one array: chunks back to back, after widening from the start dtype."""
    src = tmp_path / "d.csv"
    _decimals_csv(src)
    convert([src], tmp_path / "d.h5", options=ConvertOptions(target=("label",), chunk_rows=100, workers=2, block_bytes=4096))
    with h5py.File(tmp_path / "d.h5", "r") as f:
        ds = f["features"]
        chunks = [ds.id.get_chunk_info(i) for i in range(ds.id.get_num_chunks())]
        offsets = sorted(c.byte_offset for c in chunks)
        assert ds.dtype == np.float32 and ds.compression is None
        assert np.all(np.diff(offsets) == chunks[0].size)


@pytest.mark.skipif(shutil.which("h5dump") is None, reason="needs h5dump (hdf5-tools)")
def test_h5dump_reads_chunks_written_directly(tmp_path):
    src = tmp_path / "d.csv"
    _decimals_csv(src, rows=600)
    convert(
        [src],
        tmp_path / "d.h5",
        options=ConvertOptions(target=("label",), compression="gzip", chunk_rows=100, workers=2, block_bytes=4096),
    )
    dumped = subprocess.run(
        ["h5dump", "-d", "/features", "-s", "599,0", "-c", "1,6", str(tmp_path / "d.h5")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with h5py.File(tmp_path / "d.h5", "r") as f:
        last = f["features"][599]
    assert all(f"{v:.6g}"[:5] in dumped for v in last), dumped
