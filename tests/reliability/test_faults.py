"""Faults: a full disk, an interrupted --append, damaged or unfinished files on the reading side."""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
from csv2h5.trainer import DataFileError, HDF5Sequence

from csv2h5 import ConvertOptions, convert


def _digits(path: Path, rows: int) -> Path:
    import make_digits_csv

    make_digits_csv.write_csv(path, rows=rows, seed=4, label=True)
    return path


def _convert_cmd(src: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "csv2h5", "convert", str(src), "-o", str(out), "--target", "label", "--quiet", *extra]


def _ctrl_c_default() -> None:
    """In the child: Ctrl-C as at a terminal, even where this test runs with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _limit_file_size(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _assert_refused_past_the_file_size_limit(command: list[str], out: Path) -> None:
    """Run ``command`` allowed files of 1 MiB at most: it must fail with one line that says why, writing nothing."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, preexec_fn=_limit_file_size(1 << 20))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert lines == [
        f"error: cannot write {out}: the file grew too large for this system's file-size limit"
        " (ulimit -f) or file system; nothing was written"
    ], lines


@pytest.mark.slow
def test_disk_full_is_a_clear_error_with_no_output(tmp_path):
    src = _digits(tmp_path / "in.csv", 4000)  # ~3 MB of features
    out = tmp_path / "out.h5"
    _assert_refused_past_the_file_size_limit(_convert_cmd(src, out), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.slow
def test_merge_past_the_file_size_limit_is_the_same_clear_error_with_no_output(tmp_path):
    parts = [tmp_path / "a.h5", tmp_path / "b.h5"]
    for seed, part in enumerate(parts):  # ~1.5 MB of features each, written without the limit
        import make_digits_csv

        make_digits_csv.write_csv(tmp_path / f"{part.stem}.csv", rows=2000, seed=seed, label=True)
        convert([tmp_path / f"{part.stem}.csv"], part, options=ConvertOptions(target=("label",), workers=0))
    out = tmp_path / "all.h5"
    _assert_refused_past_the_file_size_limit([sys.executable, "-m", "csv2h5", "merge", *map(str, parts), "-o", str(out)], out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.h5", "b.csv", "b.h5"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode,how",
    [("--append", signal.SIGINT), ("--append", signal.SIGKILL), ("--overwrite", signal.SIGINT), ("--overwrite", signal.SIGKILL)],
    ids=["append-SIGINT", "append-SIGKILL", "overwrite-SIGINT", "overwrite-SIGKILL"],
)
def test_interrupted_rewrite_leaves_the_original_byte_for_byte(tmp_path, mode, how):
    first = _digits(tmp_path / "first.csv", 500)
    out = tmp_path / "out.h5"
    subprocess.run(_convert_cmd(first, out), check=True, timeout=120)
    before = _sha256(out)
    more = _digits(tmp_path / "more.csv", 10_000)  # ~18 MB: half of it is several blocks
    fifo = tmp_path / "more.pipe"
    os.mkfifo(fifo)
    proc = subprocess.Popen(_convert_cmd(fifo, out, mode), stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_default)
    data = more.read_bytes()
    with open(fifo, "wb") as fh:  # opens once the converter reads
        fh.write(data[: len(data) // 2])
        fh.flush()
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".out.h5.*.tmp")):  # the rewrite is under way
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(how)
        try:
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert _sha256(out) == before  # the output name never holds a half-written file
    inputs = ["first.csv", "more.csv", "more.pipe", "out.h5"]
    if how == signal.SIGINT:
        assert proc.returncode == 130, err
        assert err.splitlines() == ["error: interrupted; nothing was written (no partial output left)"]
        assert sorted(p.name for p in tmp_path.iterdir()) == inputs
    else:  # SIGKILL cannot be handled: a hidden temporary may stay, nothing else
        assert proc.returncode == -signal.SIGKILL
        left = sorted(p.name for p in tmp_path.iterdir() if p.name not in inputs)
        assert all(name.startswith(".out.h5.") and name.endswith(".tmp") for name in left), left


@pytest.fixture
def good_file(tmp_path) -> Path:
    out = tmp_path / "good.h5"
    convert([_digits(tmp_path / "in.csv", 300)], out, options=ConvertOptions(target=("label",)))
    return out


def _variant(good: Path, name: str, change) -> Path:
    path = good.with_name(name)
    path.write_bytes(good.read_bytes())
    change(path)
    return path


def _truncate(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)


def _scribble(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.write(b"\0" * 512)  # the superblock


def _edit(change):
    def apply(path: Path) -> None:
        with h5py.File(path, "r+") as f:
            change(f)

    return apply


@pytest.mark.parametrize(
    "name,change,words",
    [
        ("truncated.h5", _truncate, ["truncated or damaged"]),
        ("scribbled.h5", _scribble, ["not a readable HDF5 file"]),
        ("newer.h5", _edit(lambda f: f.attrs.__setitem__("csv2h5_format", 99)), ["format 99", "upgrade"]),
        ("no_features.h5", _edit(lambda f: f.__delitem__("features")), ["no /features"]),
        ("unfinished.h5", _edit(lambda f: [f.attrs.__delitem__(k) for k in list(f.attrs)]), ["not a csv2h5 file"]),
        ("short_target.h5", _edit(lambda f: f["target"].resize((10,))), ["/target has 10 rows"]),
    ],
)
def test_damaged_files_fail_before_training(good_file, name, change, words):
    bad = _variant(good_file, name, change)
    with pytest.raises(DataFileError) as caught:
        HDF5Sequence(bad)
    for word in words:
        assert word in str(caught.value)
    from csv2h5.trainer.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["fit", str(bad), "--run-dir", str(bad.with_suffix(".run")), "--progress", "none"])
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert not bad.with_suffix(".run").exists()


@pytest.mark.slow
def test_two_trainers_read_one_file_at_once(good_file, tmp_path):
    cmds = [
        [
            sys.executable,
            "-m",
            "csv2h5.trainer",
            "fit",
            str(good_file),
            "--run-dir",
            str(tmp_path / f"run{i}"),
            "--epochs",
            "3",
            "--batch-size",
            "32",
            "--progress",
            "none",
        ]
        for i in range(2)
    ]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.strip().splitlines()[-1].startswith("trained 3 epochs")
    histories = [(tmp_path / f"run{i}" / "history.csv").read_text() for i in range(2)]
    assert histories[0] == histories[1]  # same seed, same file: the same training, read concurrently


def _pool_worker(proc: subprocess.Popen) -> int:
    """A live batch-reading worker of ``proc``: a process it spawned for multiprocessing."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for task in Path(f"/proc/{proc.pid}/task").iterdir():  # the pool is started by one of its threads
            try:
                for child in (task / "children").read_text().split():
                    command = Path(f"/proc/{child}/cmdline").read_bytes()
                    if b"spawn_main" in command and b"resource_tracker" not in command:
                        return int(child)
            except OSError:  # it ended meanwhile
                pass
        time.sleep(0.05)
    pytest.fail("no worker process started")


@pytest.mark.slow
def test_a_worker_process_that_dies_is_an_error_not_a_hang(good_file, tmp_path):
    """A worker killed (out of memory, a crash in native code) must end training with an error."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "csv2h5.trainer",
            "fit",
            str(good_file),
            "--run-dir",
            str(tmp_path / "run"),
            "--epochs",
            "1000",
            "--batch-size",
            "16",
            "--loaders",
            "2",
            "--processes",
            "--progress",
            "none",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        os.kill(_pool_worker(proc), signal.SIGKILL)
        _, err = proc.communicate(timeout=15)  # a batch takes milliseconds: TimeoutExpired is a hang
    finally:  # the whole session: orphaned workers would hold the pipes open
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    last = err.strip().splitlines()[-1]
    assert proc.returncode == 2, err
    assert last.startswith("error: ") and "worker" in last, err


@pytest.mark.slow
def test_predict_past_the_file_size_limit_is_a_clear_error_with_no_output(tmp_path):
    src = _digits(tmp_path / "in.csv", 300)
    data = tmp_path / "in.h5"
    convert([src], data, options=ConvertOptions(target=("label",), workers=0))
    run = tmp_path / "run"
    h5train = [sys.executable, "-m", "csv2h5.trainer"]
    fit = [*h5train, "fit", str(data), "--run-dir", str(run), "--epochs", "1", "--hidden", "8", "--progress", "none"]
    assert subprocess.run(fit, capture_output=True, timeout=300).returncode == 0
    out = tmp_path / "p.csv"  # 10 probabilities a row, ~70 kB: past a 16 kB limit
    command = [*h5train, "predict", str(run), str(data), "-o", str(out), "--probabilities"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size(16 << 10))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: cannot write {out}: the file grew too large for this system's file-size limit"
        " (ulimit -f) or file system; nothing was written"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "in.h5", "run"]


@pytest.mark.slow
def test_fit_past_the_file_size_limit_is_a_clear_error_with_no_half_written_file(tmp_path):
    src = tmp_path / "in.csv"  # 20 columns: config.json stays small, the model (a layer of 512) does not
    src.write_text("".join(",".join(f"{(r * 7 + c) % 11}" for c in range(20)) + f",{r % 2}\n" for r in range(300)))
    data = tmp_path / "in.h5"
    convert(
        [src],
        data,
        options=ConvertOptions(header=False, names=(*(f"f{c}" for c in range(20)), "label"), target=("label",), workers=0),
    )
    run = tmp_path / "run"  # the first checkpoint (~150 kB with Adam's moments) is the first file past a 32 kB limit
    command = [
        sys.executable,
        "-m",
        "csv2h5.trainer",
        "fit",
        str(data),
        "--run-dir",
        str(run),
        "--epochs",
        "1",
        "--hidden",
        "512",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size(32 << 10))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: cannot write {run / 'checkpoints' / 'last.keras'}: the file grew too large for this system's"
        f" file-size limit (ulimit -f) or file system; no epoch was finished, so {run} has nothing to resume;"
        " start the run again"
    )
    assert not [p for p in run.rglob("*") if "tmp" in p.name]  # no half-written checkpoint beside the others
