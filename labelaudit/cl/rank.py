"""Label-quality scores: one number per row, lower meaning the given label is more likely wrong.

Mirrors ``cleanlab.rank`` (2.9): same function names, argument names, order and defaults, and the same values
(bit-for-bit for ``self_confidence`` and ``normalized_margin``; to float rounding for
``confidence_weighted_entropy``). Scores are computed in cache-sized row blocks, so the extra memory is one
block instead of cleanlab's full copies (``np.delete`` copy for the margin, full adjusted matrix).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import xlogy

from labelaudit.cl._engine.core import Prepared
from labelaudit.cl._engine.kernels import stable_rank
from labelaudit.cl._engine.validation import CleanlabAssertionError, row_blocks

CLIPPING_LOWER_BOUND = 1e-6

__all__ = [
    "find_top_issues",
    "get_confidence_weighted_entropy_for_each_label",
    "get_label_quality_ensemble_scores",
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
        raise ValueError(
            f"{method} is not a valid scoring method for rank_by! Please choose a valid rank_by: "
            f"{', '.join(SCORERS)} (method must be one of {sorted(SCORERS)})"
        )
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
    """Self-confidence: the probability the model gives the row's own label.

    Equal to the loop ``[pred_probs[i, labels[i]] for i in range(N)]``.

    Parameters
    ----------
    labels : np.ndarray (N,)
        Given labels as class indices ``0..K-1``.
    pred_probs : np.ndarray (N, K)
        Out-of-fold predicted probabilities; rows sum to 1.

    Returns
    -------
    label_quality_scores : np.ndarray (N,)
        One score per row in [0, 1]; lower means the given label is more likely wrong.
    """
    return _public_scorer("self_confidence")(labels, pred_probs)


def get_normalized_margin_for_each_label(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Normalised margin: how far the given label's probability is above the best other class.

    Equal to the loop ``(P[k] - max_{j != k} P[j] + 1) / 2`` per row, with ``P = pred_probs[i]``,
    ``k = labels[i]``.

    Parameters
    ----------
    labels : np.ndarray (N,)
        Given labels as class indices ``0..K-1``.
    pred_probs : np.ndarray (N, K)
        Out-of-fold predicted probabilities; rows sum to 1.

    Returns
    -------
    label_quality_scores : np.ndarray (N,)
        One score per row in [0, 1]; lower means the given label is more likely wrong.
    """
    return _public_scorer("normalized_margin")(labels, pred_probs)


def get_confidence_weighted_entropy_for_each_label(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Confidence-weighted entropy: uncertain rows whose given label is unlikely score lowest.

    Equal to the loop ``log(1 + s) / max(s, 1e-6)`` per row, with ``s = normalized entropy(P) / max(P[k],
    1e-6)``, ``P = pred_probs[i]``, ``k = labels[i]`` (entropy normalised by ``log K``).

    Parameters
    ----------
    labels : np.ndarray (N,)
        Given labels as class indices ``0..K-1``.
    pred_probs : np.ndarray (N, K)
        Out-of-fold predicted probabilities; rows sum to 1.

    Returns
    -------
    label_quality_scores : np.ndarray (N,)
        One score per row in [0, 1]; lower means the given label is more likely wrong.
    """
    return _public_scorer("confidence_weighted_entropy")(labels, pred_probs)


# --- ensembles and top issues --------------------------------------------------------------------------------

LOG_LOSS_SEARCH_T_VALUES = (1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 2e2)
"""cleanlab's default temperatures for ``weight_ensemble_members_by="log_loss_search"``."""


def _log_loss_weights(labels: np.ndarray, pred_probs_list: list, t_values) -> np.ndarray:
    """Weights ``exp(-t * log_loss_m)`` (normalised) for the ``t`` whose weighted average has the lowest log loss.

    cleanlab's search: members are clipped at 1e-6 and renormalised before their own log loss; the average is
    scored unclipped; the first ``t`` reaching the lowest loss wins.
    """
    from sklearn.metrics import log_loss

    member_losses = []
    for probs in pred_probs_list:
        clipped = np.clip(probs, a_min=CLIPPING_LOWER_BOUND, a_max=None)
        clipped /= clipped.sum(axis=1)[:, np.newaxis]
        member_losses.append(log_loss(labels, clipped))
    best_loss, best_weights = float("inf"), None
    for t in t_values:
        exp_losses = [np.exp(-t * loss) for loss in member_losses]
        weights = np.array(exp_losses) / sum(exp_losses)
        average = sum(weights[i] * p for i, p in enumerate(pred_probs_list))
        loss = log_loss(labels, average)
        if best_loss > loss:
            best_loss, best_weights = loss, weights.copy()
    if best_weights is None:
        raise ValueError("log_loss_search found no finite log loss: check pred_probs_list and labels")
    return best_weights


def _check_ensemble(pred_probs_list, weight_ensemble_members_by: str, custom_weights) -> None:
    if not isinstance(pred_probs_list, list):
        raise CleanlabAssertionError(
            f"pred_probs_list needs to be a list. Provided pred_probs_list is a {type(pred_probs_list)}"
        )
    if len(pred_probs_list) == 0:
        raise CleanlabAssertionError("pred_probs_list is empty.")
    if custom_weights is not None and weight_ensemble_members_by != "custom":
        raise ValueError('custom_weights provided but weight_ensemble_members_by is not "custom"!')
    if weight_ensemble_members_by not in ENSEMBLE_WEIGHTINGS:
        raise ValueError(
            f"{weight_ensemble_members_by} is not a valid weighting method for weight_ensemble_members_by! "
            f"Please choose a valid weight_ensemble_members_by: {', '.join(ENSEMBLE_WEIGHTINGS)}"
        )
    if weight_ensemble_members_by == "custom":
        if custom_weights is None:
            raise CleanlabAssertionError("custom_weights is None! Please pass a valid custom_weights.")
        if len(custom_weights) != len(pred_probs_list):
            raise CleanlabAssertionError(
                "Length of custom_weights array must match the number of models: len(pred_probs_list)."
            )


ENSEMBLE_WEIGHTINGS = ("uniform", "accuracy", "log_loss_search", "custom")


def get_label_quality_ensemble_scores(
    labels: np.ndarray,
    pred_probs_list: list[np.ndarray],
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    weight_ensemble_members_by: str = "accuracy",
    custom_weights: np.ndarray | None = None,
    log_loss_search_T_values: list[float] = LOG_LOSS_SEARCH_T_VALUES,
    verbose: bool = True,
) -> np.ndarray:
    """Label-quality scores from several models: a weighted average of each model's scores.

    Parameters
    ----------
    labels : np.ndarray (N,)
    pred_probs_list : list of np.ndarray (N, K)
        One out-of-sample probability matrix per model (each checked as in :func:`get_label_quality_scores`).
    method, adjust_pred_probs :
        As in :func:`get_label_quality_scores`.
    weight_ensemble_members_by : {"uniform", "accuracy", "log_loss_search", "custom"}, default="accuracy"
        ``accuracy``: each model's share of the summed accuracies (argmax == label); ``log_loss_search``:
        ``exp(-t * log_loss)`` with the ``t`` of `log_loss_search_T_values` whose weighted average fits the
        labels best; ``custom``: `custom_weights` as given.
    custom_weights : np.ndarray (M,), optional
        Only with ``"custom"``.
    log_loss_search_T_values : sequence of float
    verbose : bool, default=True
        Print the weighting scheme and the weights, as cleanlab does.

    Returns
    -------
    label_quality_scores : np.ndarray (N,)
    """
    _check_ensemble(pred_probs_list, weight_ensemble_members_by, custom_weights)
    if len(pred_probs_list) == 1:
        warnings.warn(
            "pred_probs_list only has one element. Consider using get_label_quality_scores() if you only have a "
            "single array of pred_probs.",
            stacklevel=2,
        )
    prepared = [Prepared.from_inputs(labels, probs) for probs in pred_probs_list]
    checked_labels = prepared[0].labels
    scores = np.vstack([scores_for_rows(p, None, method, adjust_pred_probs) for p in prepared]).T
    accuracy = [(p.pred_probs.argmax(axis=1) == checked_labels).mean() for p in prepared]
    if weight_ensemble_members_by == "uniform":
        weights = None
    elif weight_ensemble_members_by == "accuracy":
        weights = np.array(accuracy) / sum(accuracy)
    elif weight_ensemble_members_by == "log_loss_search":
        weights = _log_loss_weights(checked_labels, [p.pred_probs for p in prepared], log_loss_search_T_values)
    else:
        weights = custom_weights
    if verbose:
        _print_ensemble_weights(weight_ensemble_members_by, weights, accuracy)
    return scores.mean(axis=1) if weights is None else (scores * weights).sum(axis=1)


def _print_ensemble_weights(scheme: str, weights, accuracy) -> None:
    """cleanlab's printout of the weighting (``verbose=True``)."""
    print(f"Weighting scheme for ensemble: {scheme}")
    if scheme == "accuracy":
        print("Ensemble members will be weighted by their relative accuracy")
        for i, acc in enumerate(accuracy):
            print(f"  Model {i} accuracy : {acc}")
            print(f"  Model {i} weight   : {weights[i]}")
    elif scheme == "log_loss_search":
        print("Ensemble members will be weighted by log-loss between their predicted probabilities and given labels")
        for i, weight in enumerate(weights):
            print(f"  Model {i} weight   : {weight}")


def find_top_issues(quality_scores: np.ndarray, *, top: int = 10) -> np.ndarray:
    """Row numbers of the `top` lowest `quality_scores`, lowest first (equal scores by row number).

    Parameters
    ----------
    quality_scores : np.ndarray (N,)
        Any per-row quality score (label quality, outlier score, ...); lower is worse.
    top : int or None, default=10
        ``None`` or more than N returns all N rows.

    Returns
    -------
    top_issue_indices : np.ndarray (min(top, N),) int
    """
    scores = np.asarray(quality_scores)
    if scores.ndim != 1:
        raise ValueError(f"quality_scores must be 1-D, got shape {scores.shape}")
    if top is None or top > len(scores):
        top = len(scores)
    return stable_rank(scores)[:top]
