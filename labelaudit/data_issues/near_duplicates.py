"""Near duplicates: rows that lie atypically close together in the feature space, and the groups they form.

The rule is cleanlab Datalab's ``near_duplicate`` issue (``cleanlab/datalab/internal/issue_manager/duplicate.py``,
``NearDuplicateIssueManager``, cleanlab 2.9), on our scaled, reduced space
(:func:`labelaudit.features.space.feature_space`):

- the scale of "close" is the batch's own: ``median_nn`` = the median over rows of the distance to the nearest
  other row (at least 1e-12, so a batch of many copies still has a scale);
- rows ``i`` and ``j`` are near duplicates when ``j`` is among ``i``'s k nearest neighbours (or the reverse) at
  a distance ``< threshold * median_nn``, ``threshold`` = 0.13 as in Datalab;
- the groups are the connected components of that symmetric graph (``scipy.sparse.csgraph``), so a chain
  a~b~c is one group even if a and c are farther apart; a row is flagged when it is in a group;
- the score is Datalab's: ``1 - exp(-d_nn / median_nn)``, in [0, 1), 0 for an exact copy; **lower is more of a
  near duplicate** (the convention of Datalab's scores and of labelaudit's label-quality scores).

Exact duplicates (same features after normalisation; ``labelaudit.data_issues`` hashing, another module) are at
distance 0 here, so each exact-duplicate group is inside one near-duplicate group, possibly with rows that are
merely close: near-duplicate groups are a superset of exact ones. A report can show the exact groups and the
near-only rows apart by joining on ``row_id``.

Text features reach this space through TF-IDF (lower-cased words and word pairs): texts differing only in case,
spacing or punctuation are identical there; texts differing by a word are usually *not* within the threshold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from labelaudit.data_issues.duplicates import finding_rows

NEAR_DUPLICATE = "near_duplicate"
DEFAULT_THRESHOLD = 0.13
_EPSILON = 1e-12


def near_duplicate_groups(
    distances: np.ndarray, indices: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD
) -> tuple[np.ndarray, float]:
    """The near-duplicate group of every row, from its k nearest neighbours.

    Parameters
    ----------
    distances : np.ndarray (N, k)
        Distances to each row's nearest other rows, nearest first
        (:func:`labelaudit.features.neighbours.nearest_neighbours`).
    indices : np.ndarray (N, k)
        Their row positions.
    threshold : float, default=0.13
        Fraction of the median nearest-neighbour distance below which two rows are near duplicates.

    Returns
    -------
    group : np.ndarray (N,) int64
        Group number (0, 1, ... in order of each group's first row), -1 for a row in no group.
    median_nn : float
        The batch's median nearest-neighbour distance (the scale of the rule).
    """
    if threshold < 0:
        raise ValueError(f"threshold must be non-negative, got {threshold}")
    n = distances.shape[0]
    median_nn = max(float(np.median(distances[:, 0])), _EPSILON)
    close = distances < threshold * median_nn
    rows = np.repeat(np.arange(n), close.sum(axis=1))
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, indices[close])), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="weak")
    in_group = np.zeros(n, dtype=bool)
    in_group[rows] = True
    in_group[indices[close]] = True
    return _renumber(labels, in_group), median_nn


def _renumber(labels: np.ndarray, in_group: np.ndarray) -> np.ndarray:
    # Components numbered by their first row, singletons -1: the same data gives the same group numbers.
    group = np.full(labels.size, -1, dtype=np.int64)
    members = np.flatnonzero(in_group)
    _, first = np.unique(labels[members], return_index=True)
    order = np.argsort(members[first], kind="stable")
    number = np.empty(order.size, dtype=np.int64)
    number[order] = np.arange(order.size)
    _, inverse = np.unique(labels[members], return_inverse=True)
    group[members] = number[inverse]
    return group


def find_near_duplicates(
    distances: np.ndarray,
    indices: np.ndarray,
    *,
    row_ids: Sequence[object] | np.ndarray,
    run_id: str,
    threshold: float = DEFAULT_THRESHOLD,
) -> pd.DataFrame:
    """Near-duplicate findings of every row, in the shape of the ``data_issues`` view.

    Parameters
    ----------
    distances, indices : np.ndarray (N, k)
        Each row's nearest other rows (see :func:`near_duplicate_groups`).
    row_ids : sequence (N,)
        The batch's row ids (the definition's id column, or 1-based row numbers), written as text.
    run_id : str
        The audit run the findings belong to.
    threshold : float, default=0.13
        See :func:`near_duplicate_groups`.

    Returns
    -------
    pd.DataFrame (N rows)
        ``issue_type`` "near_duplicate"; ``score`` ``1 - exp(-d_nn / median_nn)`` (lower = closer copy);
        ``is_issue`` the row is in a group; ``group_id`` its group (null if none); ``detail`` JSON with the
        nearest row's id, the distance and the group size (flagged rows only).
    """
    if distances.shape != indices.shape or distances.shape[0] != len(row_ids):
        raise ValueError(f"distances {distances.shape}, indices {indices.shape} and row_ids ({len(row_ids)}) disagree")
    group, median_nn = near_duplicate_groups(distances, indices, threshold=threshold)
    nearest = distances[:, 0].astype(np.float64)
    score = 1.0 - np.exp(-nearest / median_nn)
    score[np.isclose(nearest, 0)] = 0.0
    flagged = group >= 0
    ids = np.asarray(row_ids).astype(str)
    sizes = np.bincount(group[flagged]) if flagged.any() else np.zeros(0, dtype=np.int64)
    detail: list[str | None] = [None] * len(group)
    for row in np.flatnonzero(flagged):
        detail[row] = json.dumps(
            {
                "nearest_row_id": ids[indices[row, 0]],
                "distance": round(float(nearest[row]), 6),
                "group_size": int(sizes[group[row]]),
                "radius": round(threshold * median_nn, 6),
            }
        )
    return finding_rows(run_id, ids, NEAR_DUPLICATE, score, flagged, group, detail)
