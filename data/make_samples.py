"""Build the bundled sample batches from the Palmer Penguins data shipped by the ``palmerpenguins`` package.

The data: 344 penguins of three species (Adelie, Chinstrap, Gentoo) measured on three islands of the Palmer
Archipelago, Antarctica (Gorman, Williams & Fraser 2014; CC0). The species is the label; island and sex are
categorical features, the four body measurements numeric ones, with the missing values of the original.

Outputs, under ``data/penguins/`` (re-run ``python data/make_samples.py`` to rebuild them identically):

- ``penguins_clean.csv``: the original labels, with a stable ``penguin_id``;
- ``penguins_batch.csv``: 4 % of the rows relabelled to another species at random (a batch that passes);
- ``penguins_noisy.csv``: 15 % relabelled (a batch that fails the quality gate);
- ``*.injected.csv`` beside each: the ids whose label was changed, with the original and injected labels.

Requires ``pip install palmerpenguins`` (a test dependency of labelaudit).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "penguins"
BATCHES = {"penguins_batch": (0.04, 11), "penguins_noisy": (0.15, 12)}


def load() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    frame = load_penguins()
    frame.insert(0, "penguin_id", [f"P{i:04d}" for i in range(1, len(frame) + 1)])
    return frame


def inject(frame: pd.DataFrame, rate: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Relabel ``rate`` of the rows, each to a different species drawn uniformly."""
    rng = np.random.default_rng(seed)
    species = sorted(frame["species"].unique())
    rows = np.sort(rng.choice(len(frame), size=round(rate * len(frame)), replace=False))
    noisy = frame.copy()
    injected = []
    for row in rows:
        original = frame.at[row, "species"]
        new = rng.choice([s for s in species if s != original])
        noisy.at[row, "species"] = new
        injected.append((frame.at[row, "penguin_id"], original, new))
    return noisy, pd.DataFrame(injected, columns=["penguin_id", "original_label", "injected_label"])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    clean = load()
    clean.to_csv(OUT / "penguins_clean.csv", index=False)
    for name, (rate, seed) in BATCHES.items():
        noisy, injected = inject(clean, rate, seed)
        noisy.to_csv(OUT / f"{name}.csv", index=False)
        injected.to_csv(OUT / f"{name}.injected.csv", index=False)
        print(f"{name}: {len(injected)} of {len(noisy)} labels changed")


if __name__ == "__main__":
    main()
