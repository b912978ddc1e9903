"""Label drift: has this batch's class mix moved away from the dataset's accepted history?

Two numbers answer two questions, and drift is reported only when both say so:

- **is the difference real?** Pearson's chi-square test of homogeneity on the 2 x K table of counts (this
  batch, the history), :func:`scipy.stats.chi2_contingency` (Yates' correction only for two classes, scipy's
  default). A p-value below ``alpha`` (default 0.01) rejects "same class mix".
- **is it large?** The population-stability index, ``PSI = sum_k (b_k - h_k) * ln(b_k / h_k)`` over the class
  shares ``b`` (batch) and ``h`` (history), with every share floored at ``epsilon`` = 1e-4 so an empty class
  adds a large but finite term (shares are not renormalised after flooring). The usual reading: below 0.1 no
  real change, 0.1-0.25 a moderate shift, above 0.25 a large one; the default limit is 0.1.

With a large batch, the test alone rejects shifts too small to matter; with a small one, PSI alone wanders by
chance (its expectation under no drift is about ``(K - 1) * (1/n_batch + 1/n_history)``). Requiring both
keeps false alarms below ``alpha`` (a test checks 20 same-distribution batches raise none).

**New classes** are in the batch but never in the history. **Vanished classes** are in the history but not in
the batch, where a batch of that size would miss the class by chance with probability below ``alpha``
(``(1 - h_k) ** n_batch``); a rare class absent from a small batch is not reported.

Counts are whatever the label kind counts: rows per class (multiclass), tags (multi-label: a row counts for
each of its tags, so the test's independence assumption is approximate), tokens per tag (token).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency

DEFAULT_ALPHA = 0.01
DEFAULT_MAX_PSI = 0.1
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class LabelDrift:
    """This batch's class mix against the history: batch-level, one row of its own table.

    ``classes`` has one row per class seen in either (``label, batch_count, batch_share, history_count,
    history_share, psi_term, status``; status ``kept``, ``new``, ``vanished`` or ``absent`` (missing from
    the batch, plausibly by chance)). Without history, the test is not run: ``p_value`` and ``psi`` are NaN
    and ``is_drift`` is false.
    """

    classes: pd.DataFrame
    batch_rows: int
    history_rows: int
    chi2: float
    dof: int
    p_value: float
    psi: float
    alpha: float
    max_psi: float

    @property
    def new_classes(self) -> list[str]:
        return self.classes.loc[self.classes["status"] == "new", "label"].tolist()

    @property
    def vanished_classes(self) -> list[str]:
        return self.classes.loc[self.classes["status"] == "vanished", "label"].tolist()

    @property
    def significant(self) -> bool:
        return bool(self.p_value < self.alpha)  # NaN compares false

    @property
    def is_drift(self) -> bool:
        """Both a significant test and a PSI above the limit."""
        return self.significant and bool(self.psi > self.max_psi)

    @property
    def gated_psi(self) -> float:
        """The PSI the gate compares with ``max_label_drift_psi``: 0 when the test finds no real difference.

        So the gate's margin reads as usual (limit minus measured) and a noisy small batch cannot fail it.
        """
        return float(self.psi) if self.significant else 0.0


def label_drift(
    batch_counts: Mapping[str, int] | pd.Series,
    history_counts: Mapping[str, int] | pd.Series,
    *,
    alpha: float = DEFAULT_ALPHA,
    max_psi: float = DEFAULT_MAX_PSI,
    epsilon: float = PSI_EPSILON,
) -> LabelDrift:
    """Compare a batch's class counts with the history's.

    Parameters
    ----------
    batch_counts : mapping of str to int (K_b,)
        Count per class in this batch.
    history_counts : mapping of str to int (K_h,)
        Count per class over the dataset's accepted earlier runs (summed), this run excluded.
    alpha : float, default=0.01
        Significance level of the chi-square test and of the vanished-class rule.
    max_psi : float, default=0.1
        PSI above which a significant difference is drift.
    epsilon : float, default=1e-4
        Floor of a share inside the PSI's logarithm.

    Returns
    -------
    LabelDrift
    """
    if not 0 < alpha < 1 or max_psi < 0 or not 0 < epsilon < 1:
        raise ValueError(f"need 0 < alpha < 1, max_psi >= 0 and 0 < epsilon < 1; got {alpha}, {max_psi}, {epsilon}")
    table = _count_table(batch_counts, history_counts)
    n_b, n_h = int(table["batch_count"].sum()), int(table["history_count"].sum())
    table["batch_share"] = table["batch_count"] / n_b if n_b else 0.0
    table["history_share"] = table["history_count"] / n_h if n_h else 0.0
    b = np.maximum(table["batch_share"].to_numpy(), epsilon)
    h = np.maximum(table["history_share"].to_numpy(), epsilon)
    table["psi_term"] = (b - h) * np.log(b / h) if n_b and n_h else np.nan
    table["status"] = _statuses(table, n_b, n_h, alpha)
    chi2, dof, p_value = _chi_square(table) if n_b and n_h else (np.nan, 0, np.nan)
    psi = float(table["psi_term"].sum()) if n_b and n_h else np.nan
    return LabelDrift(table, n_b, n_h, chi2, dof, p_value, psi, alpha, max_psi)


def _count_table(batch_counts, history_counts) -> pd.DataFrame:
    batch = _counts(batch_counts, "batch")
    history = _counts(history_counts, "history")
    table = pd.concat([batch, history], axis=1).fillna(0).astype("int64")
    table = table[(table["batch_count"] > 0) | (table["history_count"] > 0)]
    table.index.name = "label"
    return table.reset_index()


def _counts(counts, what: str) -> pd.Series:
    series = pd.Series(counts, dtype="float64")
    series.index = series.index.astype(str)
    if series.isna().any() or (series < 0).any() or (series != np.round(series)).any():
        raise ValueError(f"{what} counts must be whole numbers >= 0, got {series.to_dict()}")
    if series.index.duplicated().any():
        raise ValueError(f"{what} counts name a class twice: {sorted(series.index[series.index.duplicated()])}")
    return series.rename(f"{what}_count")


def _statuses(table: pd.DataFrame, n_b: int, n_h: int, alpha: float) -> np.ndarray:
    in_batch = table["batch_count"].to_numpy() > 0
    in_history = table["history_count"].to_numpy() > 0
    chance_of_missing = (1.0 - table["history_share"].to_numpy()) ** n_b
    status = np.full(len(table), "kept", dtype=object)
    if n_h:
        status[in_batch & ~in_history] = "new"
    status[~in_batch & in_history & (chance_of_missing < alpha)] = "vanished"
    status[~in_batch & in_history & (chance_of_missing >= alpha)] = "absent"
    return status


def _chi_square(table: pd.DataFrame) -> tuple[float, int, float]:
    counts = table[["batch_count", "history_count"]].to_numpy().T
    if counts.shape[1] < 2:
        return 0.0, 0, 1.0  # one class in all: nothing can have moved
    result = chi2_contingency(counts)
    return float(result.statistic), int(result.dof), float(result.pvalue)
