"""Arrow's compute kernels that the reader uses, called by name without importing ``pyarrow.compute``.

``import pyarrow.compute`` costs every run 50-70 ms: it writes a Python function,
with its docstring, for each of arrow's ~300 kernels. The kernels themselves are
reached through ``pyarrow._compute.call_function(name, args, options)``, which is
what those functions call. That module is private API, so it is used here and
nowhere else, and a pyarrow without it makes this module fall back to
``pyarrow.compute``, which exports the same names.

pyarrow's own array methods (``cast``, ``is_null``, ``is_valid``, ``take``,
``filter``, ``dictionary_encode``, ...) import ``pyarrow.compute`` on first use:
the reader calls the functions below instead. Each passes the options the public
function of its kernel's name passes, so results are the same. Four are named apart
from their kernel so as not to hide a builtin: ``filtered`` (``filter``), ``any_true``,
``all_true`` and ``smallest`` (``min``).
"""

from __future__ import annotations

import functools


@functools.cache
def _compute():
    """The module holding ``call_function`` and the options classes: pyarrow's private one if it has it."""
    try:
        import pyarrow._compute as compute
    except ImportError:  # pragma: no cover - a pyarrow that moved its private module
        import pyarrow.compute as compute
    return compute


def load() -> None:
    """Import the kernels' module now: before parser processes are forked, so that they share it."""
    _compute()


def _call(name: str, *args, options=None):
    return _compute().call_function(name, list(args), options)


def cast(values, arrow_type):
    """``values`` as ``arrow_type``, refusing lossy conversions (pyarrow.compute.cast, safe)."""
    return _call("cast", values, options=_compute().CastOptions.safe(arrow_type))


def is_null(values):
    """Which cells are empty (nulls), as a boolean array; NaN is not empty."""
    return _call("is_null", values, options=_compute().NullOptions(nan_is_null=False))


def is_valid(values):
    """Which cells are not empty (nulls), as a boolean array."""
    return _call("is_valid", values)


def fill_null(values, fill_value):
    """``values`` with empty cells replaced by ``fill_value``, an arrow scalar of their type."""
    return _call("coalesce", values, fill_value)


def take(values, indices):
    """The cells at ``indices`` (an arrow integer array)."""
    return _call("take", values, indices, options=_compute().TakeOptions(boundscheck=True))


def filtered(values, mask):
    """(``filter``) The cells where the boolean array ``mask`` is true."""
    return _call("filter", values, mask, options=_compute().FilterOptions("drop"))


def drop_null(values):
    """The cells that are not empty."""
    return _call("drop_null", values)


def dictionary_encode(values):
    """``values`` as a dictionary array (codes and vocabulary in order of first appearance; nulls stay null)."""
    return _call("dictionary_encode", values)


def utf8_trim_whitespace(strings):
    """Strings without the Unicode whitespace around them."""
    return _call("utf8_trim_whitespace", strings)


def utf8_lower(strings):
    """Strings in lower case."""
    return _call("utf8_lower", strings)


def binary_length(strings):
    """The length of each string in bytes."""
    return _call("binary_length", strings)


def is_in(values, value_set):
    """Which cells are among ``value_set`` (an arrow array)."""
    return _call("is_in", values, options=_compute().SetLookupOptions(value_set=value_set))


def match_substring(strings, pattern: str):
    """Which strings contain ``pattern``."""
    return _call("match_substring", strings, options=_compute().MatchSubstringOptions(pattern))


def match_substring_regex(strings, pattern: str):
    """Which strings the regular expression ``pattern`` (RE2) matches somewhere."""
    return _call("match_substring_regex", strings, options=_compute().MatchSubstringOptions(pattern))


def replace_substring(strings, pattern: str, replacement: str):
    """Strings with each ``pattern`` replaced by ``replacement``."""
    return _call("replace_substring", strings, options=_compute().ReplaceSubstringOptions(pattern, replacement))


def if_else(condition, left, right):
    """``left`` where ``condition`` is true, else ``right``, cell by cell."""
    return _call("if_else", condition, left, right)


def any_true(values):
    """(``any``) Whether a boolean array has a true cell (a scalar; null for no cells but nulls)."""
    return _call("any", values)


def all_true(values):
    """(``all``) Whether every non-null cell of a boolean array is true (a scalar; null for no cells but nulls)."""
    return _call("all", values)


def smallest(values):
    """(``min``) The smallest non-null value (a scalar; null if there is none)."""
    return _call("min", values)
