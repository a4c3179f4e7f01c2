"""h5train fit --strategy: mirrored on both backends, multi-worker on JAX (workers as processes on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from backends import on_backend
from csv2h5.trainer.errors import DataOptionError
from csv2h5.trainer.modelfile import load

SMALL = [
    "--batch-size",
    "32",
    "--hidden",
    "8",
    "--progress",
    "none",
    "--val-split",
    "0",
]  # all rows train, as the batches here assume


def _h5train(backend: str, *args: object) -> tuple[int, str, str]:
    return on_backend(backend, "backends:h5train", *args)


def test_mirrored_trains_like_the_default_on_one_device(backend, tmp_path, make_data):
    path, _, _ = make_data(tmp_path, rows=200, chunk_rows=16)
    weights = []
    for strategy in ("default", "mirrored"):
        run = tmp_path / strategy
        code, out, err = _h5train(
            backend, "fit", path, "--strategy", strategy, "--run-dir", run, "--epochs", "2", "--backend", backend, *SMALL
        )
        assert code == 0, err
        weights.append(load(run / "model.keras").get_weights())
        assert json.loads((run / "config.json").read_text())["options"]["strategy"] == strategy
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # one CPU device: the same training


@pytest.mark.parametrize(
    "backend,args,words",
    [
        ("tensorflow", ["--strategy", "tpu"], "--strategy 'tpu' is not one of default, mirrored, multi-worker"),
        (
            "tensorflow",
            [
                "--strategy",
                "multi-worker",
                "--backend",
                "tensorflow",
                "--coordinator",
                "127.0.0.1:1",
                "--num-workers",
                "2",
                "--worker-index",
                "0",
            ],
            "runs on the JAX backend: pass --backend jax",
        ),
        ("jax", ["--strategy", "multi-worker", "--num-workers", "2"], "needs --coordinator HOST:PORT, --worker-index I"),
        (
            "jax",
            ["--strategy", "multi-worker", "--coordinator", "nohost", "--num-workers", "2", "--worker-index", "0"],
            "--coordinator takes HOST:PORT",
        ),
        (
            "jax",
            ["--strategy", "multi-worker", "--coordinator", "127.0.0.1:1", "--num-workers", "2", "--worker-index", "2"],
            "--worker-index must be in 0..1",
        ),
        (
            "jax",
            [
                "--strategy",
                "multi-worker",
                "--coordinator",
                "127.0.0.1:1",
                "--num-workers",
                "2",
                "--worker-index",
                "0",
                "--batch-size",
                "33",
            ],
            "must split evenly over 2 workers",
        ),
    ],
)
def test_strategies_that_cannot_run_are_refused_at_once(tmp_path, make_data, backend, args, words):
    path, _, _ = make_data(tmp_path)
    code, out, err = _h5train(backend, "fit", path, *args, "--run-dir", tmp_path / "r")
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and words in err, err
    assert not (tmp_path / "r").exists()


def _free_port() -> int:
    """A port free now, below the range the system hands out to outgoing connections and ``bind(0)``.

    Worker 0 listens on it seconds later, once JAX is imported. A port of that range could be taken
    meanwhile by any process's connection or listener, or by the other worker's own attempts to reach
    worker 0 before it listens (a TCP connection from the port to itself): worker 0 could not listen.
    """
    ranges = Path("/proc/sys/net/ipv4/ip_local_port_range")
    low = int(ranges.read_text().split()[0]) if ranges.exists() else 32768
    for port in random.Random().sample(range(10000, low), 50) if low > 10050 else ():
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:  # in use
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _h5train_command(*args: object) -> list[str]:
    return [sys.executable, "-m", "csv2h5.trainer", *map(str, args)]


def _h5train_process(*args: object, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start h5train in its own process, its output kept as text."""
    return subprocess.Popen(_h5train_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _worker_flags(port: int, count: int, index: int) -> list[str]:
    """Worker ``index`` of ``count``, meeting the others at 127.0.0.1:``port``."""
    return ["--coordinator", f"127.0.0.1:{port}", "--num-workers", str(count), "--worker-index", str(index)]


def _workers(data: Path, tmp_path: Path, *extra: str, own: list[list[str]] | None = None) -> list[subprocess.Popen]:
    """Start the workers of one run as separate h5train processes on 127.0.0.1.

    Every worker gets ``extra``; worker i also gets ``own[i]``, if given (two workers if not).
    """
    own = own or [[], []]
    port = _free_port()
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    return [
        _h5train_process(
            "fit",
            data,
            "--run-dir",
            tmp_path / f"w{i}",
            "--strategy",
            "multi-worker",
            *_worker_flags(port, len(own), i),
            "--join-timeout",
            "120",
            *extra,
            *own[i],
            env=env,
        )
        for i in range(len(own))
    ]


def _finish(procs: list[subprocess.Popen], timeout: float = 240) -> list[tuple[int, str, str]]:
    results = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            pytest.fail("a worker hung")
        results.append((proc.returncode, out, err))
    return results


def _one_error(code: int, err: str) -> str:
    """The error line of a worker that was refused: exit code 2, one ``error:`` line, the last one."""
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 2 and errors == [err.splitlines()[-1]], err
    return errors[0]


@pytest.fixture
def jax_data(tmp_path, make_data) -> Path:
    """256 rows in chunks of 16 for workers on JAX: 8 global batches of 32, none left out."""
    pytest.importorskip("jax")
    path, _, _ = make_data(tmp_path, rows=256, chunk_rows=16)
    return path


@pytest.mark.slow
def test_two_workers_train_as_one_process_with_the_global_batch(tmp_path, jax_data):
    same = ["--epochs", "3", "--optimizer", "adam", "--seed", "3", "--dropout", "0.3", "--backend", "jax", *SMALL]
    code, _, err = _h5train("jax", "fit", jax_data, "--run-dir", tmp_path / "single", *same)
    assert code == 0, err
    (c0, out0, err0), (c1, out1, err1) = _finish(_workers(jax_data, tmp_path, *same))
    assert (c0, c1) == (0, 0), (err0, err1)
    lines = err0.splitlines()
    assert lines == [f"run directory: {tmp_path / 'w0'}", lines[1]] and err1 == ""  # quiet: no native noise
    assert lines[1].startswith("note: data order: shuffle=global (")  # the chief says which order, once
    digest = out0.split("weights ")[1].split(";")[0]
    assert out0.startswith("trained 3 epochs") and out1.startswith("trained 3 epochs")
    assert out1.strip().endswith(f"weights {digest}; worker 0 wrote the run directory")  # the workers end identical
    chief = tmp_path / "w0"
    assert not (tmp_path / "w1").exists()  # worker 1 writes nothing
    for name in (
        "config.json",
        "state.json",
        "model.keras",
        "checkpoints/last.keras",
        "checkpoints/best.keras",
        "history.csv",
        "metrics.json",
        "curves.png",
    ):
        assert (chief / name).is_file(), name
    assert list((chief / "logs").rglob("events.out.tfevents.*"))
    config = json.loads((chief / "config.json").read_text())
    assert config["workers"] == 2 and config["backend"] == "jax" and config["options"]["batch_size"] == 32
    for a, b in zip(
        load(tmp_path / "single" / "model.keras").get_weights(), load(chief / "model.keras").get_weights(), strict=True
    ):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)  # two workers == one process, dropout too
    single = (tmp_path / "single" / "history.csv").read_text().splitlines()
    both = (chief / "history.csv").read_text().splitlines()
    assert single[0] == both[0] and len(single) == len(both) == 4
    for a, b in zip(single[1:], both[1:], strict=True):  # globally averaged metrics, not one worker's half
        np.testing.assert_allclose([float(v) for v in b.split(",")], [float(v) for v in a.split(",")], rtol=1e-5)


@pytest.mark.slow
def test_workers_that_find_different_memory_are_told_to_pass_one_memory_budget(tmp_path, jax_data):
    # As on two machines with different memory: one finds room for the rows (global), one does not (blocks).
    budgets = [["--memory-budget", "10GB"], ["--memory-budget", "1kB"]]
    for code, _, err in _finish(_workers(jax_data, tmp_path, "--epochs", "1", *SMALL, own=budgets)):
        error = _one_error(code, err)
        assert (
            error.startswith("error: worker 1's data order differs from worker 0's; ")
            and "pass every worker the same --memory-budget" in error
        ), err
    assert not (tmp_path / "w0" / "model.keras").exists()


@pytest.mark.parametrize(
    "differ,words",
    [
        (["data order"], "worker 1's data order differs from worker 0's; the order of the rows comes from the memory"),
        (["data order", "options"], "worker 1's options differs from worker 0's; start every worker with the same options"),
        (["data file", "data order"], "worker 1's data file differs from worker 0's; start every worker with the same"),
    ],
)
def test_a_different_data_order_blames_the_memory_only_when_nothing_else_differs(monkeypatch, differ, words):
    pytest.importorskip("jax")
    from csv2h5.trainer.distribute import Plan, agree
    from csv2h5.trainer.workers import WorkerSpec
    from jax.experimental import multihost_utils

    facts = {"options": {"seed": 1}, "data order": {"shuffle": "blocks"}, "data file": "sha256:1", "checkpoint": (0, "w")}
    names = sorted(facts)

    def allgather(mine):  # worker 1 hashes differently exactly the facts in ``differ``
        theirs = mine.copy()
        for name in differ:
            theirs[names.index(name)] ^= 0xFF
        return np.stack([mine, theirs])

    monkeypatch.setattr(multihost_utils, "process_allgather", allgather)
    with pytest.raises(DataOptionError) as refused:
        agree(Plan("multi-worker", worker=WorkerSpec("127.0.0.1:1", 2, 0)), facts)
    assert str(refused.value).startswith(words) and "\n" not in str(refused.value)
    assert ("--memory-budget" in str(refused.value)) == (differ == ["data order"])


def _wait_for_epoch(run: Path, procs: list[subprocess.Popen], epochs: int = 1) -> None:
    deadline = time.monotonic() + 180
    while not (run / "state.json").exists() or json.loads((run / "state.json").read_text())["epochs_done"] < epochs:
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            for p in procs:
                p.kill()
            pytest.fail(f"workers did not train an epoch: {[p.communicate() for p in procs]}")
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("victim,sig", [(1, signal.SIGKILL), (0, signal.SIGINT)])
def test_a_lost_worker_ends_the_others_with_one_line_then_all_resume(tmp_path, jax_data, victim, sig):
    procs = _workers(jax_data, tmp_path, "--epochs", "2000", "--backend", "jax", *SMALL)
    _wait_for_epoch(tmp_path / "w0", procs)
    procs[victim].send_signal(sig)
    stopped = time.monotonic()
    results = _finish(procs, timeout=60)
    assert time.monotonic() - stopped < 30  # bounded: the others notice within a step, not a heartbeat timeout
    survivor = 1 - victim
    code, _, err = results[survivor]
    assert _one_error(code, err).startswith(f"error: worker {survivor} lost contact with the other workers")
    code, _, err = results[victim]
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:  # Ctrl-C: the interrupted worker says so, in one line
        assert code == 130 and err.splitlines()[-1].startswith("error: interrupted; ") and err.count("error: ") == 1
    chief = tmp_path / "w0"
    assert not list(chief.rglob("*.tmp*"))  # nothing half-written
    done = json.loads((chief / "state.json").read_text())["epochs_done"]
    if sig == signal.SIGINT:  # every worker picks the run up again from worker 0's run directory
        port = _free_port()
        resumed = [_h5train_process("fit", "--resume", chief, "--epochs", done + 1, *_worker_flags(port, 2, i)) for i in range(2)]
        outcomes = _finish(resumed)
        assert [c for c, _, _ in outcomes] == [0, 0], [e for _, _, e in outcomes]
        assert len((chief / "history.csv").read_text().splitlines()) == done + 2  # header + every epoch once


@pytest.mark.slow
@pytest.mark.parametrize("index,words", [(0, "worker 0 waited 3 s at 127.0.0.1:"), (1, "worker 1 could not join the 2 workers")])
def test_a_worker_left_alone_gives_up_after_the_join_timeout(tmp_path, make_data, index, words):
    path, _, _ = make_data(tmp_path)
    port = _free_port()
    started = time.monotonic()
    done = subprocess.run(
        _h5train_command(
            "fit",
            path,
            "--backend",
            "jax",
            "--run-dir",
            tmp_path / "run",
            "--strategy",
            "multi-worker",
            *_worker_flags(port, 2, index),
            "--join-timeout",
            "3",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stderr.startswith(f"error: {words}"), done.stderr
    assert time.monotonic() - started < 60 and not (tmp_path / "run").exists()


def test_worker_flags_fall_back_on_keras_distribution_variables():
    from csv2h5.trainer.workers import WorkerSpec

    environ = {
        "KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:9876,10.0.0.2:9876",
        "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
        "KERAS_DISTRIBUTION_PROCESS_ID": "1",
    }
    assert WorkerSpec.resolve(None, None, None, environ) == WorkerSpec("10.0.0.1:9876", 2, 1)  # the first is the coordinator
    assert WorkerSpec.resolve("h:1", 3, 2, environ) == WorkerSpec("h:1", 3, 2)  # flags win
    with pytest.raises(DataOptionError, match="KERAS_DISTRIBUTION_PROCESS_ID='x' is not an integer"):
        WorkerSpec.resolve(None, None, None, {**environ, "KERAS_DISTRIBUTION_PROCESS_ID": "x"})


@pytest.mark.parametrize("rows, val_split, part", [(200, 0.1, "validation"), (20, 0.0, "training")])
def test_rows_fewer_than_a_global_batch_are_said_in_the_options_terms(tmp_path, make_data, rows, val_split, part):
    # several workers read whole global batches only: the rows that hold none are named, with the fix
    from csv2h5.trainer import HDF5Sequence
    from csv2h5.trainer.distribute import Plan
    from csv2h5.trainer.fileinfo import open_info
    from csv2h5.trainer.fitdata import training_sequences
    from csv2h5.trainer.options import FitOptions
    from csv2h5.trainer.workers import WorkerSpec

    path, _, _ = make_data(tmp_path, rows=rows)
    options = FitOptions(data=str(path), batch_size=32, val_split=val_split).resolved(rows)
    plan = Plan("multi-worker", worker=WorkerSpec("127.0.0.1:1", 2, 0), devices=2)
    with pytest.raises(DataOptionError) as refused:
        training_sequences(options, open_info(path), plan)
    message = str(refused.value)
    held = HDF5Sequence(path).split(val_split)[1].num_rows if val_split else rows
    assert message.startswith(f"the {held} {part} rows are fewer than one --batch-size of 32"), message
    assert f"pass a --batch-size of {held} or less" in message and "drop_remainder" not in message
