"""A csv2h5 file's description for people (``csv2h5 info``); never modifies the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import counted
from .layout import CLASS_COUNTS, STAT_NAMES, fill_text, open_csv2h5, read_file_header, read_stats


def describe(path: str | Path) -> dict[str, object]:
    """Everything ``csv2h5 info`` shows, as plain JSON-able data."""
    path = Path(path)
    with open_csv2h5(path) as f:
        header = read_file_header(f, path)
        stored = read_stats(f, path)
    info: dict[str, object] = {
        "path": str(path),
        "format": header.format,
        "created_by": header.created_by,
        "created_at": header.created_at,
        "rows": header.rows,
        "features": int(header.shape[1]),
        "columns": header.columns,
        "dtype": str(header.dtype),
        "chunks": list(header.chunks or ()),
        "compression": header.compression or "none",
        "sample_shape": list(header.sample_shape) if header.sample_shape is not None else None,
        "sources": header.sources,
        "bad_lines": header.bad_lines,
        "fill": header.fill,  # None: empty cells are NaN
        "file_bytes": path.stat().st_size,
    }
    target = header.target
    info["target"] = None
    if target is not None:
        info["target"] = {"columns": target.columns, "task": target.task, "dtype": str(target.dtype), "classes": target.classes}
        if CLASS_COUNTS in stored:
            info["target"]["class_counts"] = [int(c) for c in stored[CLASS_COUNTS]]
    stats = {name: stored[name] for name in STAT_NAMES if name in stored}
    info["stats"] = {name: [None if np.isnan(v) else float(v) for v in values] for name, values in stats.items()}
    info["categories"] = header.vocabularies
    info["booleans"], info["datetimes"] = header.booleans, header.datetimes
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
    if info.get("fill") is not None:
        lines.append(f"fill      {fill_text(info['fill']).removeprefix('--fill ')} (empty feature cells, --fill)")
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
    for label, key, meaning in (
        ("booleans ", "booleans", "1 = true, 0 = false"),
        ("datetimes", "datetimes", "seconds since 1970-01-01 UTC"),
    ):
        names = info.get(key) or []
        if names:
            listed = ", ".join(names[:max_columns]) + (
                f" and {len(names) - max_columns} more" if len(names) > max_columns else ""
            )
            lines.append(f"{label} {len(names)} ({meaning}): {listed}")
    sources = info["sources"]
    lines.append("sources   " + ", ".join(f"{s['name']} ({_rows(s.get('rows'))})" for s in sources))
    if info["bad_lines"]:
        lines.append(f"bad lines skipped: {info['bad_lines']:,}")
    lines.append(f"size      {info['file_bytes'] / 1e6:,.1f} MB")
    return "\n".join(lines)


def _rows(count: object) -> str:
    """``1 row``, ``1,234 rows``, or ``? rows`` for a record without a count."""
    return counted(count, "row") if isinstance(count, int) else "? rows"
