"""Label-quality scores: one number per row, lower meaning the given label is more likely wrong.

Mirrors ``cleanlab.rank`` (2.9): same function names, argument names, order and defaults, and the same values
(bit-for-bit for ``self_confidence`` and ``normalized_margin``; to float rounding for
``confidence_weighted_entropy``). Scores are computed in cache-sized row blocks, so the extra memory is one
block instead of cleanlab's full copies (``np.delete`` copy for the margin, full adjusted matrix).
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from labelaudit._cl.core import Prepared
from labelaudit._cl.kernels import stable_rank
from labelaudit._cl.validation import row_blocks

CLIPPING_LOWER_BOUND = 1e-6

__all__ = [
    "get_confidence_weighted_entropy_for_each_label",
    "get_label_quality_scores",
    "get_normalized_margin_for_each_label",
    "get_self_confidence_for_each_label",
    "order_label_issues",
]


def _self_confidence(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    return probs[np.arange(len(labels)), labels]


def _normalized_margin(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    self_conf = _self_confidence(labels, probs)
    others = probs.copy()
    others[np.arange(len(labels)), labels] = -np.inf
    return (self_conf - others.max(axis=1) + 1) / 2


def _confidence_weighted_entropy(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    self_conf = np.clip(_self_confidence(labels, probs), a_min=CLIPPING_LOWER_BOUND, a_max=None)
    clean = np.clip(probs, 0, 1)  # values within the input tolerance of [0, 1]; cleanlab rejects them here
    scores = -np.sum(xlogy(clean, clean), axis=1) / np.log(probs.shape[1]) / self_conf
    return np.log(scores + 1) / np.clip(scores, a_min=CLIPPING_LOWER_BOUND, a_max=None)


SCORERS = {
    "self_confidence": _self_confidence,
    "normalized_margin": _normalized_margin,
    "confidence_weighted_entropy": _confidence_weighted_entropy,
}


def _adjust(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """cleanlab's ``_subtract_confident_thresholds``: subtract thresholds, shift positive, renormalise rows."""
    adjusted = probs - thresholds
    adjusted += thresholds.max()
    adjusted /= adjusted.sum(axis=1, keepdims=True)
    return adjusted


def _check_method(method: str, adjust_pred_probs: bool) -> None:
    if method not in SCORERS:
        raise ValueError(f"method must be one of {sorted(SCORERS)}, got {method!r}")
    if adjust_pred_probs and method == "confidence_weighted_entropy":
        raise ValueError(f"adjust_pred_probs is not currently supported for {method}.")


def scores_for_rows(prepared: Prepared, rows: np.ndarray | None, method: str, adjust_pred_probs: bool):
    """Scores of `rows` (all rows when ``None``), shape (len(rows),), computed block by block.

    Equal to ``get_label_quality_scores(labels, pred_probs, method=..., adjust_pred_probs=...)[rows]``.
    """
    _check_method(method, adjust_pred_probs)
    scorer = SCORERS[method]
    thresholds = prepared.thresholds if adjust_pred_probs else None
    count = prepared.num_rows if rows is None else len(rows)
    out = None
    for part in row_blocks(count, prepared.num_classes, prepared.pred_probs.itemsize):
        picked = part if rows is None else rows[part]
        block = prepared.pred_probs[picked]
        if thresholds is not None:
            block = _adjust(block, thresholds)
        scores = scorer(prepared.labels[picked], block)
        if out is None:
            out = np.empty(count, dtype=scores.dtype)
        out[part] = scores
    return out if out is not None else np.empty(0, dtype=prepared.pred_probs.dtype)


def get_label_quality_scores(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
) -> np.ndarray:
    """Return a label-quality score for each row; lower means the given label is more likely wrong.

    Parameters
    ----------
    labels : np.ndarray (N,)
        Given labels, integers in ``0 .. K-1``.
    pred_probs : np.ndarray (N, K)
        Out-of-sample predicted probabilities (see ``docs/scoring.md`` for the tolerance policy).
    method : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}, default="self_confidence"
        ``self_confidence``: ``P[k]``; ``normalized_margin``: ``(P[k] - max_{j != k} P[j] + 1) / 2``;
        ``confidence_weighted_entropy``: ``log(1 + s) / s`` with ``s = entropy(P) / log(K) / P[k]``.
    adjust_pred_probs : bool, default=False
        Subtract each class's confident threshold and renormalise first, to account for class imbalance
        (not supported for ``confidence_weighted_entropy``, as in cleanlab).

    Returns
    -------
    label_quality_scores : np.ndarray (N,)
        In the dtype cleanlab returns (the input dtype, or float64 after adjustment with a missing class).
    """
    return scores_for_rows(Prepared.from_inputs(labels, pred_probs), None, method, adjust_pred_probs)


def order_label_issues(
    label_issues_mask: np.ndarray,
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    rank_by: str = "self_confidence",
    rank_by_kwargs: dict | None = None,
) -> np.ndarray:
    """Return the indices of the flagged rows sorted by label-quality score, lowest first.

    Parameters
    ----------
    label_issues_mask : np.ndarray (N,) bool
        Rows to rank.
    labels, pred_probs :
        As in :func:`get_label_quality_scores`.
    rank_by : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}, default="self_confidence"
    rank_by_kwargs : dict, optional
        Keyword arguments for :func:`get_label_quality_scores` (``adjust_pred_probs``).

    Returns
    -------
    label_issues_idx : np.ndarray (M,) int
        Equal rows are ordered by row number (stable sort; cleanlab's order among equal scores is arbitrary).
    """
    prepared = Prepared.from_inputs(labels, pred_probs)
    mask = np.asarray(label_issues_mask, dtype=bool)
    if mask.shape != (prepared.num_rows,):
        raise ValueError(f"label_issues_mask must have shape ({prepared.num_rows},), got {mask.shape}")
    return rank_rows(prepared, np.flatnonzero(mask), rank_by, rank_by_kwargs)


def rank_rows(prepared: Prepared, rows: np.ndarray, rank_by: str, rank_by_kwargs: dict | None) -> np.ndarray:
    """`rows` ordered by their scores under the tie rule (stable)."""
    options = dict(rank_by_kwargs or {})
    adjust = bool(options.pop("adjust_pred_probs", False))
    if options:
        raise ValueError(f"unsupported rank_by_kwargs: {sorted(options)}")
    return rows[stable_rank(scores_for_rows(prepared, rows, rank_by, adjust))]


def _public_scorer(method: str):
    def score(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
        return scores_for_rows(Prepared.from_inputs(labels, pred_probs), None, method, False)

    return score


def get_self_confidence_for_each_label(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """``pred_probs[i, labels[i]]`` for each row, shape (N,)."""
    return _public_scorer("self_confidence")(labels, pred_probs)


def get_normalized_margin_for_each_label(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """``(P[k] - max_{j != k} P[j] + 1) / 2`` for each row, shape (N,)."""
    return _public_scorer("normalized_margin")(labels, pred_probs)


def get_confidence_weighted_entropy_for_each_label(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """``log(1 + s) / max(s, 1e-6)`` with ``s = normalized entropy / max(P[k], 1e-6)``, shape (N,)."""
    return _public_scorer("confidence_weighted_entropy")(labels, pred_probs)
