"""The benchmarks' data: a generated tabular batch with known label noise, and its inferred definition.

``make_batch`` draws ``rows`` points from scikit-learn's ``make_classification`` (20 numeric features, 10 of
them informative, ``classes`` well-separated classes of one cluster each, so logistic regression reaches about
98 % on the clean labels; fixed seed), flips ``noise`` of the labels to another class chosen at
random, and writes ``<folder>/synthetic.csv`` (``row_id``, ``label`` as text ``c0``.., ``f00``..``f19``). The
dataset definition is inferred from that file by :func:`labelaudit.inputs.infer_definition.write_definition`, as
``labelaudit init`` would, into ``<folder>/expectations/synthetic/``.

    python benchmarks/synthetic.py /tmp/synth --rows 100000     # just write the data
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DATASET = "synthetic"


@dataclass(frozen=True)
class SyntheticBatch:
    csv: Path
    expectations: Path
    dataset: str
    frame: pd.DataFrame  # as written
    flipped: np.ndarray  # boolean, True where the label was changed


def make_batch(
    folder: Path, rows: int = 100_000, *, classes: int = 4, noise: float = 0.1, seed: int = 0
) -> SyntheticBatch:
    from sklearn.datasets import make_classification

    from labelaudit.inputs.infer_definition import write_definition

    folder.mkdir(parents=True, exist_ok=True)
    x, y = make_classification(
        n_samples=rows, n_features=20, n_informative=10, n_redundant=4, n_classes=classes,
        n_clusters_per_class=1, class_sep=2.0, random_state=seed,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    flipped = rng.random(rows) < noise
    y_noisy = y.copy()
    y_noisy[flipped] = (y[flipped] + rng.integers(1, classes, flipped.sum())) % classes
    frame = pd.DataFrame(np.round(x, 4), columns=[f"f{i:02d}" for i in range(x.shape[1])])
    frame.insert(0, "label", [f"c{v}" for v in y_noisy])
    frame.insert(0, "row_id", [f"r{i:07d}" for i in range(rows)])
    csv = folder / f"{DATASET}.csv"
    frame.to_csv(csv, index=False)
    expectations = folder / "expectations"
    write_definition(str(csv), DATASET, expectations, label_column="label", id_column="row_id", overwrite=True)
    return SyntheticBatch(csv, expectations, DATASET, frame, flipped)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    batch = make_batch(args.folder, args.rows)
    print(f"wrote {batch.csv} ({args.rows} rows, {batch.flipped.mean():.1%} labels flipped) and {batch.expectations}")
