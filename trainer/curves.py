"""curves.png: loss and the main metric per epoch, drawn from history.csv (matplotlib, loaded only here)."""

from __future__ import annotations

import os
from pathlib import Path

from csv2h5.output import write_reason

from .errors import RunError
from .rundir import read_history


def plot_curves(history: Path, out: Path) -> None:
    """Loss and the main metric per epoch, training against validation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_history(history)
    if not rows:
        return
    names = [k for k in rows[0] if k != "epoch" and not k.startswith("val_") and k != "learning_rate"]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
    epochs = [int(r["epoch"]) for r in rows]
    for ax, name in zip(axes[0], names):
        ax.plot(epochs, [float(r[name]) for r in rows], marker="o", label="train")
        if f"val_{name}" in rows[0]:
            ax.plot(epochs, [float(r[f"val_{name}"]) for r in rows], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    tmp = out.with_name(out.stem + ".tmp.png")
    try:
        fig.savefig(tmp, dpi=80)
        os.replace(tmp, out)
    except OSError as exc:  # a full disk: one line, and no half-drawn file
        tmp.unlink(missing_ok=True)
        raise RunError(f"cannot write {out}: {write_reason(exc)}") from None
    finally:
        plt.close(fig)
