"""Smoke test of an installed (not editable) csv2h5 wheel: run by scripts/check_wheel.sh.

Checks the wheel's contents, the light import, both console scripts' --help and
--version, and a tiny convert -> fit -> predict round trip.
"""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np


def check(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"wheel smoke test failed: {message}")


def run(*args: str) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=600)
    check(done.returncode == 0, f"{' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def main(wheel: str) -> None:
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    extra = {t for t in tops if t != "csv2h5" and not t.endswith(".dist-info")}
    check(not extra, f"the wheel holds top-level {sorted(extra)} besides csv2h5")
    names = zipfile.ZipFile(wheel).namelist()
    check("csv2h5/trainer/sequence.py" in names, "csv2h5/trainer is missing from the wheel")
    check("csv2h5/py.typed" in names and "csv2h5/trainer/py.typed" in names, "py.typed markers are missing")

    import csv2h5

    check("site-packages" in csv2h5.__file__, f"csv2h5 imported from {csv2h5.__file__}, not the installed wheel")
    check(not {"keras", "tensorflow", "jax"} & {m.split(".")[0] for m in sys.modules}, "import csv2h5 imported Keras")
    check(importlib.util.find_spec("trainer") is None, "a top-level 'trainer' module is installed")

    bin_dir = Path(sys.executable).parent
    for program in ("csv2h5", "h5train"):
        run(str(bin_dir / program), "--help")
        version = run(str(bin_dir / program), "--version").strip()
        check(version == f"{program} {csv2h5.__version__}", f"{program} --version printed {version!r}")

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        rng = np.random.default_rng(0)
        x = rng.normal(size=(400, 4)).round(3)
        label = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
        with open(tmp_path / "train.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["a", "b", "c", "d", "label"])
            writer.writerows([*row, lab] for row, lab in zip(x.tolist(), label))
        run(
            str(bin_dir / "csv2h5"),
            "convert",
            str(tmp_path / "train.csv"),
            "-o",
            str(tmp_path / "train.h5"),
            "--target",
            "label",
            "--quiet",
        )
        run(
            str(bin_dir / "h5train"),
            "fit",
            str(tmp_path / "train.h5"),
            "--epochs",
            "5",
            "--batch-size",
            "32",
            "--progress",
            "none",
            "--run-dir",
            str(tmp_path / "run"),
            "--optimizer",
            "adam",
        )
        run(
            str(bin_dir / "h5train"),
            "predict",
            str(tmp_path / "run"),
            str(tmp_path / "train.h5"),
            "-o",
            str(tmp_path / "pred.csv"),
        )
        with open(tmp_path / "pred.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        check(len(rows) == 400, f"predict wrote {len(rows)} rows, not 400")
        accuracy = np.mean([r["label"] == lab for r, lab in zip(rows, label)])
        check(accuracy > 0.8, f"a linearly separable toy set reached only {accuracy:.2f} accuracy")
    print(f"wheel smoke test passed: {Path(wheel).name}")


if __name__ == "__main__":
    main(sys.argv[1])
