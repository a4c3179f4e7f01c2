"""Write a deterministic penguin-shaped table: a text target, text features, numbers with gaps.

Columns as in the well-known Palmer penguins table: ``species`` (the target:
Adelie, Chinstrap, Gentoo), ``island`` and ``sex`` (text; some sex cells are
empty), four measurements (a few cells empty) and ``year``. As in the real
data, each island has its own species: Torgersen only Adelie, Dream Adelie and
Chinstrap, Biscoe Adelie and Gentoo. Cut by island, the parts have different
vocabularies, different class sets, and one part holds a single class.

    python scripts/make_penguins_csv.py penguins.csv --rows 344
    python scripts/make_penguins_csv.py parts/ --rows 344 --by island    # parts/Biscoe.csv, ...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ISLANDS = {"Biscoe": 0.49, "Dream": 0.36, "Torgersen": 0.15}
SPECIES_ON = {
    "Biscoe": {"Adelie": 0.27, "Gentoo": 0.73},
    "Dream": {"Adelie": 0.45, "Chinstrap": 0.55},
    "Torgersen": {"Adelie": 1.0},
}
# species -> (mean, sd) of bill length, bill depth, flipper length, body mass
SHAPE = {
    "Adelie": ((38.8, 2.7), (18.3, 1.2), (190, 6.5), (3700, 450)),
    "Chinstrap": ((48.8, 3.3), (18.4, 1.1), (196, 7.1), (3733, 380)),
    "Gentoo": ((47.5, 3.1), (15.0, 1.0), (217, 6.5), (5076, 500)),
}


def make_table(rows: int, *, seed: int = 0) -> pd.DataFrame:
    """``rows`` penguins in random order (island first, then species by island)."""
    rng = np.random.default_rng(seed)
    island = rng.choice(list(ISLANDS), size=rows, p=list(ISLANDS.values()))
    species = np.empty(rows, dtype=object)
    for name, mix in SPECIES_ON.items():
        here = island == name
        species[here] = rng.choice(list(mix), size=int(here.sum()), p=list(mix.values()))
    measures = np.empty((rows, 4))
    for name, shape in SHAPE.items():
        these = species == name
        for k, (mean, sd) in enumerate(shape):
            measures[these, k] = rng.normal(mean, sd, size=int(these.sum()))
    measures[rng.random(measures.shape) < 0.005] = np.nan  # a few measurements were not taken
    sex = rng.choice(np.array(["male", "female"], dtype=object), size=rows)
    sex[rng.random(rows) < 0.03] = None

    def whole(values, step):
        return pd.array(np.where(np.isnan(values), np.nan, np.round(values / step) * step), dtype="Int64")

    return pd.DataFrame(
        {
            "species": species,
            "island": island,
            "bill_length_mm": np.round(measures[:, 0], 1),
            "bill_depth_mm": np.round(measures[:, 1], 1),
            "flipper_length_mm": whole(measures[:, 2], 1),
            "body_mass_g": whole(measures[:, 3], 25),
            "sex": sex,
            "year": rng.integers(2007, 2010, size=rows),
        }
    )


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as CSV (empty cells for missing values)."""
    frame.to_csv(path, index=False, na_rep="", float_format="%.1f")
    return path


def write_parts(frame: pd.DataFrame, directory: Path, *, by: str) -> list[Path]:
    """One CSV per value of column ``by`` (in sorted order), named after the value."""
    directory.mkdir(parents=True, exist_ok=True)
    return [write_csv(part, directory / f"{value}.csv") for value, part in frame.groupby(by, sort=True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="a CSV file, or a directory with --by")
    parser.add_argument("--rows", type=int, default=344)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--by", help="cut into one CSV per value of this column (e.g. island)")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be >= 1")
    frame = make_table(args.rows, seed=args.seed)
    if args.by:
        if args.by not in frame.columns:
            parser.error(f"--by {args.by!r} is not a column; the columns are {', '.join(frame.columns)}")
        for path in write_parts(frame, args.output, by=args.by):
            print(path)
    else:
        write_csv(frame, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
