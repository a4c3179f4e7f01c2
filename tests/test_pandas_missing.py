"""The tests' list of pandas' missing-value spellings is exactly what pandas reads as NA.

The list is an oracle written out by hand (tests/pandas_missing.py); this keeps it
from drifting away from pandas: every spelling must come back as NA from
``pandas.read_csv``, the spellings next to them (other letter case, padding) must not,
and the list must hold every default pandas has, so a new pandas that adds one fails here.
"""

from __future__ import annotations

import io

import pandas as pd
from pandas_missing import PANDAS_DEFAULT_NA

# Near misses: pandas matches its spellings exactly, so each of these is text, not NA.
NOT_MISSING = ("na", "Na", "nA", "NONE", "none", "Null", "NAN", "n/A", " NA", "NA ", "#n/a", "N / A")


def _read_cells(spellings: tuple[str, ...]) -> pd.Series:
    """Each spelling as the second cell of its own row, read by pandas with its defaults."""
    rows = "".join(f"{i},{spelling}\n" for i, spelling in enumerate(spellings))
    return pd.read_csv(io.StringIO("id,cell\n" + rows), dtype={"cell": str})["cell"]


def test_every_spelling_in_the_list_is_missing_to_pandas():
    cells = _read_cells(PANDAS_DEFAULT_NA)
    assert len(cells) == len(PANDAS_DEFAULT_NA)
    assert [s for s, missing in zip(PANDAS_DEFAULT_NA, cells.isna()) if not missing] == []


def test_near_misses_are_text_to_pandas():
    cells = _read_cells(NOT_MISSING)
    assert cells.tolist() == list(NOT_MISSING)


def test_the_list_holds_every_default_pandas_has():
    # pandas keeps its defaults in a private set; if it moves, this import fails loudly.
    from pandas._libs.parsers import STR_NA_VALUES

    assert sorted(PANDAS_DEFAULT_NA) == sorted(STR_NA_VALUES)
    assert len(set(PANDAS_DEFAULT_NA)) == len(PANDAS_DEFAULT_NA)
