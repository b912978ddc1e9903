"""Build a simulated labeler pool for the penguins sample: long-format annotations with known truth.

Input: ``data/penguins/penguins_clean.csv`` (the original species, taken as the truth). Outputs, under
``data/penguins_crowd/`` (re-run ``python data/make_annotator_sample.py`` to rebuild them identically):

- ``penguins_annotations.csv``: one row per (penguin, annotator): ``item_id`` (the ``penguin_id``),
  ``annotator_id``, ``label`` and ``timestamp``. Nine in ten penguins are labelled by three annotators drawn at
  random, one in ten by a single annotator.
- ``penguins_annotators_truth.csv``: per annotator, how the simulation made them err, their volume and their
  measured accuracy against the truth; what a test compares labelaudit's estimates with.

The pool (``POOL``): five annotators who err at random at different rates, and two "confusers" who are careful
except that they write Chinstrap for an Adelie penguin 60 % of the time (one systematic confusion of two
species, the kind a labeler profile must surface). Audit it with the ``penguins_crowd`` definition::

    labelaudit audit data/penguins/penguins_clean.csv --dataset penguins_crowd \\
        --annotations data/penguins_crowd/penguins_annotations.csv

These files live in their own folder so that ``data/make_samples.py`` keeps owning ``data/penguins/``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "penguins" / "penguins_clean.csv"
OUT = ROOT / "penguins_crowd"
SEED = 6
#: annotator id -> (accuracy on random errors, systematic confusion (true, written, rate) or None)
POOL: dict[str, tuple[float, tuple[str, str, float] | None]] = {
    "ann-01": (0.97, None),
    "ann-02": (0.93, None),
    "ann-03": (0.88, None),
    "ann-04": (0.80, None),
    "ann-05": (0.68, None),
    "ann-06": (0.97, ("Adelie", "Chinstrap", 0.6)),
    "ann-07": (0.97, ("Adelie", "Chinstrap", 0.6)),
}
PER_ITEM = 3


def simulate(truth: pd.DataFrame, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``truth`` has ``penguin_id`` and ``species``; returns (annotations, per-annotator truth)."""
    rng = np.random.default_rng(seed)
    classes = sorted(truth["species"].unique())
    names = list(POOL)
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    rows = []
    for i, (item, species) in enumerate(zip(truth["penguin_id"], truth["species"], strict=True)):
        count = 1 if i % 10 == 0 else PER_ITEM
        for who in rng.choice(len(names), count, replace=False):
            accuracy, confusion = POOL[names[who]]
            label = species
            if confusion is not None and species == confusion[0] and rng.random() < confusion[2]:
                label = confusion[1]
            elif rng.random() > accuracy:
                label = rng.choice([c for c in classes if c != species])
            stamp = start + timedelta(minutes=int(rng.integers(0, 60 * 24 * 5)))
            rows.append((item, names[who], label, stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), label == species))
    frame = pd.DataFrame(rows, columns=["item_id", "annotator_id", "label", "timestamp", "right"])
    stats = frame.groupby("annotator_id").agg(volume=("right", "size"), true_accuracy=("right", "mean"))
    stats["simulated_accuracy"] = [POOL[a][0] for a in stats.index]
    stats["confuses_true"] = [(POOL[a][1] or ("", "", 0))[0] or None for a in stats.index]
    stats["confuses_as"] = [(POOL[a][1] or ("", "", 0))[1] or None for a in stats.index]
    stats["confusion_rate"] = [(POOL[a][1] or ("", "", 0.0))[2] for a in stats.index]
    return frame.drop(columns="right"), stats.reset_index()


def main() -> None:
    truth = pd.read_csv(SOURCE, dtype={"penguin_id": str, "species": str})
    annotations, stats = simulate(truth)
    OUT.mkdir(parents=True, exist_ok=True)
    annotations.to_csv(OUT / "penguins_annotations.csv", index=False)
    stats.round(4).to_csv(OUT / "penguins_annotators_truth.csv", index=False)
    print(f"{len(annotations)} annotations of {annotations['item_id'].nunique()} penguins by {len(stats)} annotators")
    print(stats.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
