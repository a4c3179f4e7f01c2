"""What an installed csv2h5 looks like: one top-level package, a light import, one version."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    # -I: no current directory, PYTHONPATH or user site on sys.path, so only what is
    # installed can be imported (the checkout's trainer/ folder must not count).
    return subprocess.run([sys.executable, "-I", "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_no_top_level_trainer_module_is_installed(tmp_path):
    done = _python("import importlib.util, sys; sys.exit(importlib.util.find_spec('trainer') is not None)", tmp_path)
    assert done.returncode == 0, "a top-level 'trainer' module is importable: it would clash with another project"
    done = _python("import csv2h5.trainer, sys; print(csv2h5.trainer.HDF5Sequence.__module__)", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "csv2h5.trainer.sequence"


def test_importing_csv2h5_does_not_import_keras(tmp_path):
    code = (
        "import sys, csv2h5\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'keras', 'tensorflow', 'jax', 'torch'})\n"
        "print(','.join(heavy))"
    )
    done = _python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_one_version_everywhere(tmp_path):
    import csv2h5

    assert csv2h5.__version__ == metadata.version("csv2h5")
    bin_dir = Path(sys.executable).parent
    for program in ("csv2h5", "h5train"):
        done = subprocess.run([str(bin_dir / program), "--version"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"{program} {csv2h5.__version__}"


def test_type_markers_are_shipped():
    import csv2h5.trainer

    import csv2h5

    for package in (csv2h5, csv2h5.trainer):
        assert (Path(package.__file__).parent / "py.typed").is_file()
