"""What converting a small file imports: never pandas (0.15-0.3 s of every run), whatever the columns hold."""

from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np


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
