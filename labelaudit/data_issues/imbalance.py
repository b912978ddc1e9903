"""Class imbalance: the classes far below an even share of the batch.

With ``K`` classes an even share is ``1/K``. A class is imbalanced when its share is below
``threshold * 1/K`` (default ``threshold`` 0.1: a class with less than a tenth of an even share). This is
cleanlab Datalab's rule (``ClassImbalanceIssueManager``, ``threshold=0.1``: ``class_probs[rarest] <
threshold * (1 / K)``), with one difference: Datalab reports only the rarest class, here every class below the
line is named, because a reviewer wants all of them. ``K`` counts every class passed in, so a declared class
with no row at all is imbalanced (share 0).

The gate reads :attr:`ClassImbalance.min_ratio` (the smallest ``share * K``) against ``min_class_share`` in
``quality.json``. Batch-level: the result goes to its own table, not to the row-level findings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_THRESHOLD = 0.1


@dataclass(frozen=True)
class ClassImbalance:
    """Per class (``label, count, share, ratio, is_imbalanced``; ``ratio`` = share / even share), rarest first."""

    classes: pd.DataFrame
    threshold: float

    @property
    def imbalanced_classes(self) -> list[str]:
        return self.classes.loc[self.classes["is_imbalanced"], "label"].tolist()

    @property
    def min_ratio(self) -> float:
        """The rarest class's share as a fraction of an even share (1.0 = perfectly even; NaN without rows)."""
        return float(self.classes["ratio"].min()) if len(self.classes) else float("nan")


def class_imbalance(counts: Mapping[str, int] | pd.Series, *, threshold: float = DEFAULT_THRESHOLD) -> ClassImbalance:
    """Name the classes whose share is below ``threshold`` times an even share.

    Parameters
    ----------
    counts : mapping of str to int (K,)
        Count per class: every declared class, zeros included (rows per class, tags, or tokens per tag).
    threshold : float, default=0.1
        Fraction of an even share ``1/K`` below which a class is imbalanced, in (0, 1].

    Returns
    -------
    ClassImbalance
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    series = pd.Series(counts, dtype="float64")
    if series.isna().any() or (series < 0).any():
        raise ValueError(f"class counts must be numbers >= 0, got {series.to_dict()}")
    total, k = float(series.sum()), len(series)
    share = series / total if total else series * 0.0
    ratio = share * k
    table = pd.DataFrame(
        {
            "label": series.index.astype(str),
            "count": series.to_numpy(dtype=np.int64),
            "share": share.to_numpy(),
            "ratio": ratio.to_numpy(),
            "is_imbalanced": (ratio < threshold).to_numpy() if total else np.zeros(k, dtype=bool),
        }
    )
    return ClassImbalance(table.sort_values(["ratio", "label"], kind="stable", ignore_index=True), threshold)
