"""Choosing the Keras backend before Keras loads, the lazy trainer package, and quiet output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from csv2h5.trainer.nativelog import is_native_noise

CHOOSE = (
    "import json, sys\n"
    "from csv2h5.trainer.backend import choose_backend\n"
    "from csv2h5.trainer.errors import TrainerError\n"
    "results = []\n"
    "for requested, environ in json.loads(sys.argv[1]):\n"
    "    try:\n"
    "        results.append(choose_backend(requested, environ=environ))\n"
    "    except TrainerError as exc:\n"
    "        results.append('error: ' + str(exc))\n"
    "results.append(sorted({m.split('.')[0] for m in sys.modules} & {'keras', 'jax', 'tensorflow'}))\n"
    "print(json.dumps(results))\n"
)


def test_auto_honours_keras_backend_else_prefers_jax_and_loads_nothing():
    cases = [
        ("auto", {}),
        ("auto", {"KERAS_BACKEND": "tensorflow"}),
        ("auto", {"KERAS_BACKEND": "jax"}),
        ("tensorflow", {"KERAS_BACKEND": "jax"}),
        ("auto", {"KERAS_BACKEND": "torch"}),
        ("theano", {}),
    ]
    done = subprocess.run(
        [sys.executable, "-c", CHOOSE, json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"},
    )
    assert done.returncode == 0, done.stderr
    *chosen, loaded = json.loads(done.stdout)
    assert chosen[:4] == ["jax", "tensorflow", "jax", "tensorflow"]
    assert chosen[4].startswith("error: KERAS_BACKEND=torch is not a backend h5train supports")
    assert chosen[5] == "error: --backend 'theano' is not one of auto, jax, tensorflow"
    assert loaded == []  # choosing imports no backend


def test_help_version_and_the_package_import_load_no_keras():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "import csv2h5.trainer\n"
        "from csv2h5.trainer.cli import app\n"
        "for args in (['--help'], ['--version'], ['fit', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'keras', 'jax', 'tensorflow'}))\n"
        "from csv2h5.trainer import HDF5Sequence\n"  # still works, and loads Keras only now
        "print(HDF5Sequence.__module__, 'keras' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "csv2h5.trainer.sequence True"]


@pytest.mark.parametrize(
    "line,noise",
    [
        (b"I0000 00:00:1795558089.441470   17267 port.cc:153] oneDNN custom operations are on.\n", True),
        (b"E0000 00:00:1795559360.546274   21129 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n", True),
        (b"W1124 22:31:41.216489   24761 gpu_device.cc:80] Cannot dlopen some GPU libraries.\n", True),
        (b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n", True),
        (b"F1124 22:31:41.216489   24761 client.h:80] Terminating process\n", False),  # a crash explains itself
        (b"error: data.h5: no such file\n", False),
        (b"run directory: runs/I0000\n", False),
    ],
)
def test_what_counts_as_start_up_noise(line, noise):
    assert is_native_noise(line) is noise


NOISY_MODEL = (
    "import os, keras\n"
    "def loud(sample_shape, output):\n"
    "    os.write(2, b'I0000 00:00:1795558089.441470   17267 port.cc:153] oneDNN custom operations are on.\\n')\n"
    "    os.write(2, b'E0000 00:00:1795559360.546274   21129 cuda_platform.cc:52] failed call to cuInit\\n')\n"
    "    return keras.Sequential([keras.Input(sample_shape), keras.layers.Dense(output.units, "
    "activation=output.activation)])\n"
)


@pytest.mark.slow
def test_output_is_quiet_unless_verbose(tmp_path, make_data):
    """Native log lines (here also written by the model on purpose) are dropped; --verbose keeps them.

    (TensorFlow runs are checked for quiet output by the Ctrl-C tests in test_h5train.py.)
    """
    backend = "jax"
    path, _, _ = make_data(tmp_path)
    (tmp_path / "noisy.py").write_text(NOISY_MODEL)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    outputs = {}
    for verbose in (False, True):
        run = tmp_path / f"run_{verbose}"
        cmd = [
            sys.executable,
            "-m",
            "csv2h5.trainer",
            "fit",
            str(path),
            "--model",
            "noisy:loud",
            "--epochs",
            "1",
            "--backend",
            backend,
            "--progress",
            "none",
            "--run-dir",
            str(run),
        ] + (["--verbose"] if verbose else [])
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr
        outputs[verbose] = done.stderr.splitlines()
    assert outputs[False] == [f"run directory: {tmp_path / 'run_False'}", outputs[False][1]]
    assert outputs[False][1].startswith("note: data order: shuffle=global (")
    assert "E0000 00:00:1795559360.546274   21129 cuda_platform.cc:52] failed call to cuInit" in outputs[True]
    assert f"run directory: {tmp_path / 'run_True'}" in outputs[True]
