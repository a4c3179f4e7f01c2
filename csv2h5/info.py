"""Read a csv2h5 file's description (for ``csv2h5 info``); never modifies the file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from .errors import InputError, NotCsv2H5FileError
from .writer import CATEGORY_COUNTS, FORMAT_VERSION


def attr_value(value: object) -> object:
    """An HDF5 attribute value as plain Python (bytes -> str, numpy scalars -> numbers)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [attr_value(v) for v in value.tolist()] if value.dtype == object else value.tolist()
    return value


def open_csv2h5(path: str | Path) -> h5py.File:
    """Open a finished csv2h5 file for reading, or say in one line why it is not one."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; convert your CSV first: csv2h5 convert data.csv -o {path}")
    if path.is_dir():
        raise InputError(f"{path} is a directory; pass a .h5 file written by csv2h5 convert")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied; check the file's permissions")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise NotCsv2H5FileError(f"{path} is not a readable HDF5 file (truncated or damaged?); convert the CSV again") from None
    version = f.attrs.get("csv2h5_format")
    problem = None
    if version is None:
        problem = (f"{path} is not a csv2h5 file (no csv2h5_format attribute: unfinished, or made by another tool); "
                   "make it with csv2h5 convert")
    elif int(version) > FORMAT_VERSION:
        problem = f"{path} has csv2h5 format {int(version)}, newer than this csv2h5 reads ({FORMAT_VERSION}); upgrade csv2h5"
    elif "features" not in f:
        problem = f"{path} has no /features dataset; convert the CSV again"
    if problem is not None:
        f.close()
        raise NotCsv2H5FileError(problem)
    return f


_COUNT_ROWS = 1 << 16  # rows read at once when counting the codes of an older file


def read_vocabularies(f: h5py.File) -> dict[str, list[str]]:
    """Each categorical column's values (index = stored code), by column name."""
    return {name: [str(attr_value(v)) for v in values[()]] for name, values in f.get("categories", {}).items()}


def read_categories(f: h5py.File) -> dict[str, tuple[list[str], np.ndarray]]:
    """Each categorical column's vocabulary and rows per code, by column name.

    Files from csv2h5 0.2 and earlier store no counts: their codes are counted
    here, a column at a time, in bounded memory.
    """
    found: dict[str, tuple[list[str], np.ndarray]] = {}
    columns = [str(attr_value(c)) for c in f["features"].attrs.get("columns", [])]
    for name, values in read_vocabularies(f).items():
        stored = f.get(f"{CATEGORY_COUNTS}/{name}")
        if stored is not None:
            counts = np.asarray(stored[()], dtype=np.float64)
        else:
            counts = _count_codes(f["features"], columns.index(name), len(values))
        found[name] = (values, counts)
    return found


def _count_codes(features: h5py.Dataset, column: int, size: int) -> np.ndarray:
    from .vocabulary import count_codes

    counts = np.zeros(size, dtype=np.float64)
    for start in range(0, features.shape[0], _COUNT_ROWS):
        counts += count_codes(features[start:start + _COUNT_ROWS, column], size)
    return counts


def describe(path: str | Path) -> dict[str, object]:
    """Everything ``csv2h5 info`` shows, as plain JSON-able data."""
    path = Path(path)
    with open_csv2h5(path) as f:
        version = f.attrs["csv2h5_format"]
        features = f["features"]
        info: dict[str, object] = {
            "path": str(path),
            "format": int(version),
            "created_by": attr_value(f.attrs.get("created_by")),
            "created_at": attr_value(f.attrs.get("created_at")),
            "rows": int(features.shape[0]),
            "features": int(features.shape[1]),
            "columns": [attr_value(c) for c in features.attrs["columns"]],
            "dtype": str(features.dtype),
            "chunks": list(features.chunks or ()),
            "compression": features.compression or "none",
            "sample_shape": attr_value(features.attrs["sample_shape"]) if "sample_shape" in features.attrs else None,
            "sources": json.loads(attr_value(f.attrs.get("sources", "[]"))),
            "bad_lines": int(f.attrs.get("bad_lines", 0)),
            "file_bytes": path.stat().st_size,
        }
        if "target" in f:
            target = f["target"]
            info["target"] = {
                "columns": [attr_value(c) for c in target.attrs["columns"]],
                "task": attr_value(target.attrs["task"]),
                "dtype": str(target.dtype),
                "classes": [attr_value(c) for c in target.attrs["classes"]] if "classes" in target.attrs else [],
            }
            if "stats/class_counts" in f:
                info["target"]["class_counts"] = [int(c) for c in f["stats/class_counts"][()]]
        else:
            info["target"] = None
        stats = {name: f[f"stats/{name}"][()] for name in ("mean", "std", "min", "max", "nan_count") if f"stats/{name}" in f}
        info["stats"] = {name: [None if np.isnan(v) else float(v) for v in values] for name, values in stats.items()}
        info["categories"] = {name: [attr_value(v) for v in f["categories"][name][()]] for name in f.get("categories", {})}
    return info


def render(info: dict[str, object], *, max_columns: int = 12) -> str:
    """Human-readable summary; long column lists are abridged."""
    cols = info["columns"]
    shown = cols if len(cols) <= max_columns else cols[: max_columns // 2] + ["..."] + cols[-max_columns // 2 :]
    lines = [
        f"{info['path']}: csv2h5 format {info['format']}, {info['created_by']}, {info['created_at']}",
        f"rows      {info['rows']:,}",
        f"features  {info['features']:,} x {info['dtype']}  chunks {tuple(info['chunks'])}  compression {info['compression']}"
        + (f"  sample_shape {tuple(info['sample_shape'])}" if info["sample_shape"] else ""),
        f"columns   {', '.join(map(str, shown))}",
    ]
    target = info["target"]
    if target:
        lines.append(f"target    {', '.join(target['columns'])}: {target['task']} ({target['dtype']})")
        if target["task"] == "classification":
            counts = target.get("class_counts", [])
            total = max(sum(counts), 1)
            pairs = [f"{c}: {n:,} ({100 * n / total:.1f}%)" for c, n in zip(target["classes"], counts)]
            lines.append(f"classes   {len(target['classes'])}: " + ", ".join(pairs[:20]) + (" ..." if len(pairs) > 20 else ""))
    else:
        lines.append("target    none")
    stats = info["stats"]
    if stats:
        def pick(name: str, fn) -> str:
            values = [v for v in stats[name] if v is not None]
            return f"{fn(values):.4g}" if values else "n/a"
        lines.append(
            f"stats     min {pick('min', min)}  max {pick('max', max)}  mean of means {pick('mean', lambda v: sum(v) / len(v))}"
            f"  NaN cells {int(sum(stats['nan_count'])):,}"
        )
    if info["categories"]:
        lines.append("categories " + ", ".join(f"{k} ({len(v)})" for k, v in info["categories"].items()))
    sources = info["sources"]
    lines.append("sources   " + ", ".join(f"{s['name']} ({s.get('rows', '?')} rows)" for s in sources))
    if info["bad_lines"]:
        lines.append(f"bad lines skipped: {info['bad_lines']:,}")
    lines.append(f"size      {info['file_bytes'] / 1e6:,.1f} MB")
    return "\n".join(lines)
