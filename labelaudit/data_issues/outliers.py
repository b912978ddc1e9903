"""Outliers: rows far from the rest in feature space, and rows the model is unusually unsure about.

**Feature-space outliers** (``issue_type`` "outlier") follow cleanlab Datalab's ``outlier`` issue on features
(``cleanlab/datalab/internal/issue_manager/outlier.py``, ``OutlierIssueManager``, and
``cleanlab/internal/outlier.py``, ``transform_distances_to_scores``, cleanlab 2.9):

- ``avg`` = each row's mean distance to its k nearest other rows in the scaled, reduced space;
- score = ``exp(-avg / median(avg))``, in (0, 1]: **lower is more outlying** (1 for a row on top of its
  neighbours, 1/e for a typical row). It is a monotone function of ``avg``, so it ranks rows exactly as ``avg``
  does, and is comparable across batches as "times the batch's typical neighbour distance";
- flagged when ``log(avg) > Q3 + 2.5 * IQR`` of the batch's ``log(avg)``. This departs from Datalab, whose fence
  is ``avg > Q3 + (1/0.37037 - 1) * IQR = Q3 + 1.7 IQR`` on ``avg`` itself: distances are positive and skewed to
  the right, and on generated 8-dimensional Gaussian clusters (tests/data_issues/test_outliers.py) Datalab's
  fence flagged 49-72 ordinary tail rows of 3,960 besides the 40 injected outliers (precision 0.36-0.45), while
  the fence on the log flagged 0-1 (precision >= 0.97, recall 1.0, 4 seeds). The score is unchanged, so the
  ranking is Datalab's.

**Model-unsure rows** (``issue_type`` "uncertain"): from the out-of-fold probabilities (a model that never saw the
row), the normalised entropy ``H = -sum p log p / log K`` in [0, 1]; score = ``1 - H`` (lower = more unsure).
Flagged when ``H`` is above Datalab's fence (Q3 + 1.7 IQR, ``H`` is bounded so not logged) of the batch's
entropies *and* ``H >= 0.5`` (the model spreads at
least half the maximal uncertainty): "unusually unsure relative to the batch", but never a confident row just
because the batch is very confident. Datalab's own probability-based outlier score (``OutOfDistribution`` with
labels) mixes in the given label; ours does not, so it stays distinct from the label-quality score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from labelaudit.data_issues.duplicates import finding_rows

OUTLIER = "outlier"
UNCERTAIN = "uncertain"
#: Feature outliers: fence at Q3 + 2.5 IQR of log(mean k-NN distance) (see the module docstring for why).
OUTLIER_IQR_MULTIPLE = 2.5
#: Unsure rows: Datalab's fence, Q3 + (1 / 0.37037 - 1) IQR = Q3 + 1.7 IQR, of the normalised entropies.
UNSURE_IQR_MULTIPLE = 1 / 0.37037 - 1
MIN_UNSURE_ENTROPY = 0.5
_EPSILON = 100 * np.finfo(np.float64).eps


def _fence(values: np.ndarray, iqr_multiple: float) -> float:
    if iqr_multiple < 0:
        raise ValueError(f"iqr_multiple must be non-negative, got {iqr_multiple}")
    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 + iqr_multiple * (q3 - q1))


def outlier_scores(distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean k-NN distance and the outlier score of every row.

    Parameters
    ----------
    distances : np.ndarray (N, k)
        Distances to each row's k nearest other rows (:func:`labelaudit.features.neighbours.nearest_neighbours`).

    Returns
    -------
    avg : np.ndarray (N,)
        Mean distance to the k nearest neighbours.
    score : np.ndarray (N,)
        ``exp(-avg / median(avg))``, lower = more outlying.
    """
    avg = np.asarray(distances, dtype=np.float64).mean(axis=1)
    scale = max(float(np.median(avg)), _EPSILON)
    return avg, np.exp(-avg / scale)


def find_outliers(
    distances: np.ndarray,
    *,
    row_ids: Sequence[object] | np.ndarray,
    run_id: str,
    iqr_multiple: float = OUTLIER_IQR_MULTIPLE,
) -> pd.DataFrame:
    """Feature-space outlier findings of every row, in the shape of the ``data_issues`` view.

    Parameters
    ----------
    distances : np.ndarray (N, k)
        Distances to each row's k nearest other rows.
    row_ids : sequence (N,)
        The batch's row ids, written as text.
    run_id : str
        The audit run.
    iqr_multiple : float, default=2.5
        A row is flagged when the log of its mean neighbour distance exceeds Q3 + iqr_multiple * IQR of the
        batch's logs.

    Returns
    -------
    pd.DataFrame (N rows)
        ``issue_type`` "outlier", ``score`` as :func:`outlier_scores`, ``is_issue`` beyond the fence,
        ``group_id`` null, ``detail`` JSON of the mean distance and the fence (flagged rows only).
    """
    if distances.shape[0] != len(row_ids):
        raise ValueError(f"distances {distances.shape} and row_ids ({len(row_ids)}) disagree")
    avg, score = outlier_scores(distances)
    fence = float(np.exp(_fence(np.log(np.maximum(avg, _EPSILON)), iqr_multiple)))
    flagged = avg > fence
    detail = _details(flagged, {"mean_knn_distance": avg}, fence)
    return finding_rows(run_id, row_ids, OUTLIER, score, flagged, np.full(flagged.size, -1), detail)


def normalised_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy of each row's class probabilities over log K, in [0, 1].

    Parameters
    ----------
    probs : np.ndarray (N, K)
        Out-of-fold predicted probabilities, rows summing to 1.

    Returns
    -------
    np.ndarray (N,)
        0 for a one-hot row, 1 for a uniform row.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError(f"probabilities must be (N, K) with K >= 2, got shape {probs.shape}")
    safe = np.clip(probs, 1e-300, 1.0)
    return -(probs * np.log(safe)).sum(axis=1) / np.log(probs.shape[1])


def find_uncertain(
    probs: np.ndarray,
    *,
    row_ids: Sequence[object] | np.ndarray,
    run_id: str,
    iqr_multiple: float = UNSURE_IQR_MULTIPLE,
    min_entropy: float = MIN_UNSURE_ENTROPY,
) -> pd.DataFrame:
    """Rows the model is unusually unsure about, in the shape of the ``data_issues`` view.

    Parameters
    ----------
    probs : np.ndarray (N, K)
        Out-of-fold predicted probabilities.
    row_ids, run_id :
        As :func:`find_outliers`.
    iqr_multiple : float, default=1.7
        Flagged above Q3 + iqr_multiple * IQR of the batch's normalised entropies (Datalab's fence).
    min_entropy : float, default=0.5
        A row is flagged only at or above this normalised entropy.

    Returns
    -------
    pd.DataFrame (N rows)
        ``issue_type`` "uncertain", ``score`` ``1 - H`` (lower = more unsure), ``detail`` JSON with ``H`` and
        the fence (flagged rows only).
    """
    if probs.shape[0] != len(row_ids):
        raise ValueError(f"probabilities {probs.shape} and row_ids ({len(row_ids)}) disagree")
    entropy = normalised_entropy(probs)
    fence = max(_fence(entropy, iqr_multiple), min_entropy)
    flagged = entropy >= fence
    detail = _details(flagged, {"normalised_entropy": entropy}, fence)
    return finding_rows(run_id, row_ids, UNCERTAIN, 1.0 - entropy, flagged, np.full(flagged.size, -1), detail)


def _details(flagged: np.ndarray, values: dict[str, np.ndarray], fence: float) -> list[str | None]:
    import json

    detail: list[str | None] = [None] * flagged.size
    for row in np.flatnonzero(flagged):
        shown = {name: round(float(v[row]), 6) for name, v in values.items()}
        detail[row] = json.dumps({**shown, "fence": round(fence, 6)})
    return detail
