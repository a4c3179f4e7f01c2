"""What converting a small file imports: never pandas (0.15-0.3 s of every run), whatever the columns hold;
from the command line, nothing beyond what the command needs either."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest


def test_small_conversion_does_not_import_pandas(tmp_path):
    # Text, boolean, date and empty cells: the paths that once asked pyarrow for numpy booleans.
    csv = tmp_path / "small.csv"
    csv.write_text("a,flag,when,color,label\n1,true,2024-01-02,red,x\n,FALSE,2024-01-03T04:05:06Z,blue,y\n3,,,red,x\n")
    out = tmp_path / "small.h5"
    code = (
        "import sys\nfrom csv2h5 import ConvertOptions, convert\n"
        f"convert({str(csv)!r}, {str(out)!r}, options=ConvertOptions(target=('label',), datetime=('when',),"
        " categorical=('color',)))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pandas')[:3])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    with h5py.File(out) as f:  # the same values as ever: booleans 1/0, NaN for empty cells
        features = f["features"][()]
        np.testing.assert_array_equal(features[:, 1], [1.0, 0.0, np.nan])
        np.testing.assert_array_equal(features[:, 0], [1.0, np.nan, 3.0])
        assert features[1, 2] - features[0, 2] == 86400 + 4 * 3600 + 5 * 60 + 6
        assert list(f["target"][()]) == [0, 1, 0]


# Packages a command of csv2h5 must not import: none is needed, and each costs every run tens of
# milliseconds or more. pydantic comes with typer >= 0.29, which builds a pydantic validator for
# every option (hence typer < 0.29 in pyproject.toml); rich is needed only for a progress bar on a
# terminal, and for help pages.
NEVER = ("pandas", "pydantic", "pydantic_core", "keras", "tensorflow", "jax", "torch", "polars")
CLI = (
    "import json, sys\nfrom csv2h5.cli import main\nsys.argv = ['csv2h5', *{argv!r}]\n"
    "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
    "print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))\n"
)


def _imported_by(*argv: str) -> set[str]:
    """Top-level packages imported by ``csv2h5 ARGV`` in a fresh process, stdout and stderr no terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    result = subprocess.run(
        [sys.executable, "-c", CLI.format(argv=list(argv))], capture_output=True, text=True, check=True, env=env
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_command_line_conversion_imports_only_what_it_needs(tmp_path):
    csv = tmp_path / "two.csv"
    csv.write_text("a,b,label\n1,2.5,x\n3,4.5,y\n")
    out = tmp_path / "two.h5"
    # Not --quiet: the progress bar is asked for, but stderr is no terminal.
    imported = _imported_by("convert", str(csv), "-o", str(out), "--target", "label")
    assert {"numpy", "h5py", "pyarrow", "typer"} <= imported  # the check below sees the real imports
    assert imported.isdisjoint(NEVER + ("rich",)), sorted(imported & set(NEVER + ("rich",)))
    with h5py.File(out) as f:
        np.testing.assert_array_equal(f["features"][()], [[1.0, 2.5], [3.0, 4.5]])
        assert list(f["target"][()]) == [0, 1]


def test_version_and_help_import_no_data_stack_beyond_the_package(tmp_path):
    version = _imported_by("--version")
    assert version.isdisjoint(NEVER + ("rich", "pyarrow")), sorted(version & set(NEVER + ("rich", "pyarrow")))
    helped = _imported_by("convert", "--help")
    assert helped.isdisjoint(NEVER + ("pyarrow",)), sorted(helped & set(NEVER + ("pyarrow",)))


def test_version_and_a_command_s_help_load_no_engine():
    # The engine (numpy, h5py, pyarrow) loads in the command that uses it, once main() has set up the process.
    engine = {"numpy", "h5py", "pyarrow", "multiprocessing"}
    version = _imported_by("--version")
    assert version.isdisjoint(engine), sorted(version & engine)
    helped = _imported_by("info", "--help")
    assert helped.isdisjoint(engine), sorted(helped & engine)


def test_a_small_conversion_starts_no_parser_processes(tmp_path):
    # Input smaller than a block is parsed in the one process: no pool, not even its modules.
    csv = tmp_path / "two.csv"
    csv.write_text("a,b,label\n1,2.5,x\n3,4.5,y\n")
    out = tmp_path / "two.h5"
    code = (
        "import multiprocessing.process as mp, sys\n"  # only to ask it for children below
        "loaded = set(sys.modules)\n"
        "from csv2h5 import ConvertOptions, convert\n"
        f"convert({str(csv)!r}, {str(out)!r}, options=ConvertOptions(target=('label',)))\n"
        "new = set(sys.modules) - loaded\n"
        "print(sorted(m for m in new if m.split('.')[0] == 'multiprocessing' or m in ('csv2h5.pool', 'csv2h5.processes')))\n"
        "print(len(mp.active_children()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:2] == ["[]", "0"]
    with h5py.File(out) as f:
        np.testing.assert_array_equal(f["features"][()], [[1.0, 2.5], [3.0, 4.5]])


def test_the_package_loads_its_engine_on_first_use():
    code = (
        "import sys, csv2h5\n"
        "print('numpy' in sys.modules)\n"
        "import csv2h5.convert\n"  # the module loaded first: the package's name still means the function
        "from csv2h5 import ConvertOptions, convert\n"
        "print(callable(convert), convert is csv2h5.convert, ConvertOptions.__name__, 'numpy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:2] == ["False", "True True ConvertOptions True"]


# pyarrow.compute costs every run 50-70 ms (it writes a Python function and docstring for each of
# arrow's ~300 kernels); the reader calls the kernels by name instead. Each case runs one path:
# numbers only; text target with text, boolean, date and categorical features (the text path);
# the typed path's booleans, integers with empty cells filled and a decimal comma; a wide file.
_WIDE = (
    ",".join(f"c{i}" for i in range(2100))
    + ",word,label\n"
    + "".join(",".join(str(r * i % 7) for i in range(2100)) + f",w{r % 3},{r % 2}\n" for r in range(3))
)
_PATHS = {
    "numbers": ("a,b,label\n1,2.5,x\n3,4.5,y\n", "target=('label',)"),
    "text": (
        "a,big,flag,when,color,word,label\n1,1e16,true,2024-01-02,red,p,x\n,2.5,FALSE,2024-01-03T04:05:06Z,blue,q,y\n"
        "3,-7,,,red,7,x\n",
        "target=('label',), datetime=('when',), categorical=('auto',), fill=0",
    ),
    "typed": ("a;b;flag;label\n1;2,5;true;1\n;-3;false;0\n", "target=('label',), decimal=','"),
    "wide": (_WIDE, "target=('label',), categorical=('auto',)"),
    # parser processes (blocks of 64 bytes): the modules loaded before they fork
    "parsers": (
        "a,b,label\n" + "".join(f"{r},{r / 4},{r % 3}\n" for r in range(40)),
        "target=('label',), block_bytes=64, workers=2",
    ),
}


@pytest.mark.parametrize("path", sorted(_PATHS))
def test_a_conversion_does_not_import_pyarrow_compute(tmp_path, path):
    text, options = _PATHS[path]
    csv = tmp_path / "small.csv"
    csv.write_text(text)
    out = tmp_path / "small.h5"
    code = (
        "import sys\nfrom csv2h5 import ConvertOptions, convert\n"
        f"convert({str(csv)!r}, {str(out)!r}, options=ConvertOptions({options}))\n"
        "print('pyarrow' in sys.modules, 'pyarrow.compute' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[-2] == "True False"  # pyarrow did the parsing, without pyarrow.compute
    with h5py.File(out) as f:
        features = f["features"][()]
    assert features.shape[0] == text.count("\n") - 1
    if path == "text":  # the empty integer cell filled, and 1e16 (no integer as written) kept
        np.testing.assert_array_equal(features[:, :2], [[1, 1e16], [0, 2.5], [3, -7]])
    if path == "typed":  # decimal commas
        np.testing.assert_array_equal(features[:, 1], [2.5, -3])


def test_a_small_conversion_loads_no_module_only_messages_need(tmp_path):
    # shlex quotes an option in two messages (a column to --drop, a --delimiter to pass): loaded for
    # them, not by every conversion; the first of those messages still quotes it.
    csv = tmp_path / "two.csv"
    csv.write_text("a,b,label\n1,2.5,x\n3,4.5,y\n")
    imported = _imported_by("convert", str(csv), "-o", str(tmp_path / "two.h5"), "--target", "label")
    assert "h5py" in imported and "shlex" not in imported
    semicolons = tmp_path / "semi.csv"
    semicolons.write_text("a;b;label\n1;2;x\n")
    result = subprocess.run(
        [sys.executable, "-m", "csv2h5", "convert", str(semicolons), "-o", str(tmp_path / "s.h5"), "--target", "label"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "pass --delimiter ';' (or --delimiter auto to guess)" in result.stderr


# The program ends at once after a command that succeeded (os._exit, no interpreter teardown): what a
# normal end does that counts must still happen. The oracle: what the process printed and left.
_RUN = (
    "import atexit, sys\nfrom csv2h5.cli import run\n"
    "atexit.register(lambda: print('exit handler ran', flush=True))\n"
    "sys.argv = ['csv2h5', *{argv!r}]\nrun()\n"
)


def test_a_command_that_succeeded_ends_with_exit_handlers_run_and_output_flushed(tmp_path):
    csv = tmp_path / "two.csv"
    csv.write_text("a,b,label\n1,2.5,x\n3,4.5,y\n")
    out = tmp_path / "two.h5"
    argv = ["convert", str(csv), "-o", str(out), "--target", "label"]
    with open(tmp_path / "stdout.txt", "w") as stdout:  # a file: block-buffered, lost without a flush
        result = subprocess.run([sys.executable, "-c", _RUN.format(argv=argv)], stdout=stdout, stderr=subprocess.PIPE, text=True)
    assert result.returncode == 0, result.stderr
    printed = (tmp_path / "stdout.txt").read_text()
    assert printed.startswith("wrote 2 rows x 2 features") and printed.endswith("exit handler ran\n")
    with h5py.File(out) as f:
        np.testing.assert_array_equal(f["features"][()], [[1.0, 2.5], [3.0, 4.5]])
    # A failed command ends as ever: its exit code, its message, the handlers.
    failed = subprocess.run([sys.executable, "-c", _RUN.format(argv=argv)], capture_output=True, text=True)
    assert failed.returncode == 2
    assert failed.stderr.startswith("error: ") and "already exists" in failed.stderr
    assert failed.stdout == "exit handler ran\n"


def test_main_still_raises_system_exit_for_callers_in_their_own_process(tmp_path):
    csv = tmp_path / "two.csv"
    csv.write_text("a,b,label\n1,2.5,x\n3,4.5,y\n")
    code = (
        "import sys\nfrom csv2h5.cli import main\n"
        f"sys.argv = ['csv2h5', 'convert', {str(csv)!r}, '-o', {str(tmp_path / 'two.h5')!r}, '--target', 'label', '-q']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    print('came back with', exc.code)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "came back with 0"
