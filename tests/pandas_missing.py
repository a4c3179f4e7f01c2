"""pandas' default missing-value spellings: the oracle the converter's NaN cells are tested against.

Written out from pandas' documentation (``read_csv``, ``na_values``) rather than imported
from the converter, so that a spelling the converter forgets fails the tests that use
this list. tests/test_pandas_missing.py checks the list against what pandas reads as NA.
"""

from __future__ import annotations

# The empty spelling comes first: a one-column table cannot hold it (its row is a blank line).
PANDAS_DEFAULT_NA = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)
