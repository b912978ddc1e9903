"""Label issues in multi-label data (rows with zero, one or several classes), as cleanlab 2.9 finds them.

Same function names, argument names, order and defaults as cleanlab's ``multilabel_classification.filter``,
``.rank`` and ``.dataset`` (options are keyword-only here), and the same results: identical masks except where
rows tie exactly at a cut-off (``labelaudit.cl.filter.TIE_RULE``), scores equal to float rounding.

How: confident learning one-vs-rest. For each class ``k`` the binary problem "does ``k`` apply?" has labels
``Y[:, k]`` and probabilities ``[1 - p_k, p_k]``; it is solved by the multiclass core
(:func:`labelaudit.cl.filter.find_label_issues`), and a row is an issue when any of its classes is. Per-class scores
are binary label-quality scores, computed for all classes at once, then aggregated per row (exponential moving
average of the sorted scores by default, or softmin, or min).

``labels`` are lists of class indices (``[[0, 2], [1], []]``); ``pred_probs`` is (N, K) of independent
per-class probabilities (rows need not sum to 1). Inputs are checked in :mod:`labelaudit.inputs.label_formats`.
"""

# Over 400 lines (901) on purpose: one module, as cleanlab.multilabel_classification with its filter, rank and
# dataset submodules, so a cleanlab user finds each public function where they expect it
# (labelaudit.cl.PUBLIC_API lists them); the shared kernels are in cl/_engine.
from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy.special import xlogy

from labelaudit.cl import rank as multiclass_rank
from labelaudit.cl._engine import counting, finding
from labelaudit.cl._engine.kernels import smallest, stable_rank
from labelaudit.inputs.label_formats import multilabel_indicator, validate_multilabel_pred_probs

__all__ = [
    "AGGREGATORS",
    "CLASS_SCORERS",
    "MultilabelAudit",
    "audit_multilabel",
    "common_multilabel_issues",
    "exponential_moving_average",
    "find_label_issues",
    "find_multilabel_issues_per_class",
    "get_label_quality_scores",
    "get_label_quality_scores_per_class",
    "multilabel_health_summary",
    "overall_multilabel_health_score",
    "rank_classes_by_multilabel_quality",
    "softmin",
]

DEFAULT_AGGREGATOR = MappingProxyType({"method": "exponential_moving_average", "alpha": 0.8})
"""cleanlab's default ``aggregator_kwargs`` (read-only)."""
NO_KWARGS: Mapping = MappingProxyType({})
SOFTMAX_EPSILON = 1e-6
CLIPPING_LOWER_BOUND = 1e-6
LOWEST_SCORE_FILTERS = ("low_normalized_margin", "low_self_confidence")


# --- validated inputs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Inputs:
    """Validated inputs: ``indicator`` (N, K) int64 (1 where the class is given) and ``pred_probs`` (N, K)."""

    indicator: np.ndarray
    pred_probs: np.ndarray

    @classmethod
    def from_inputs(cls, labels: object, pred_probs: object) -> _Inputs:
        probs = validate_multilabel_pred_probs(pred_probs)
        return cls(multilabel_indicator(labels, *probs.shape), probs)

    def binary(self, k: int) -> np.ndarray:
        """One-vs-rest probabilities of class `k`, (N, 2): ``[1 - p_k, p_k]`` (cleanlab's ``stack_complement``)."""
        column = self.pred_probs[:, k]
        return np.vstack((1 - column, column)).T


# --- per-class scores ----------------------------------------------------------------------------------------


def _given_and_other(indicator: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probability of the given binary label and of the other one, each (N, K), in the input dtype."""
    absent = 1 - probs
    given = indicator.astype(bool)
    return np.where(given, probs, absent), np.where(given, absent, probs)


def _class_self_confidence(indicator: np.ndarray, probs: np.ndarray) -> np.ndarray:
    return _given_and_other(indicator, probs)[0]


def _class_normalized_margin(indicator: np.ndarray, probs: np.ndarray) -> np.ndarray:
    mine, other = _given_and_other(indicator, probs)
    return (mine - other + 1) / 2


def _class_confidence_weighted_entropy(indicator: np.ndarray, probs: np.ndarray) -> np.ndarray:
    mine, _ = _given_and_other(indicator, probs)
    clean = np.clip(probs, 0, 1)
    absent = np.clip(1 - probs, 0, 1)
    entropy = -(xlogy(absent, absent) + xlogy(clean, clean)) / np.log(2)
    scores = entropy / np.clip(mine, a_min=CLIPPING_LOWER_BOUND, a_max=None)
    return np.log(scores + 1) / np.clip(scores, a_min=CLIPPING_LOWER_BOUND, a_max=None)


CLASS_SCORERS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "self_confidence": _class_self_confidence,
    "normalized_margin": _class_normalized_margin,
    "confidence_weighted_entropy": _class_confidence_weighted_entropy,
}
"""method -> (indicator (N, K), pred_probs (N, K)) -> per-class scores (N, K), all classes at once.

Equal to cleanlab's loop ``for k: scores[:, k] = rank.get_<method>_for_each_label(Y[:, k], [1 - p_k, p_k])``.
"""


def _class_scores(inputs: _Inputs, method: str, adjust_pred_probs: bool) -> np.ndarray:
    """Per-class label-quality scores (N, K) float64.

    With `adjust_pred_probs`, each class's binary problem is scored by the multiclass core
    (:func:`labelaudit.cl.rank.get_label_quality_scores`), whose threshold adjustment is exact vs cleanlab.
    """
    if method not in CLASS_SCORERS:
        raise ValueError(f"method must be one of {sorted(CLASS_SCORERS)}, got {method!r}")
    if not adjust_pred_probs:
        return CLASS_SCORERS[method](inputs.indicator, inputs.pred_probs).astype(np.float64, copy=False)
    if method == "confidence_weighted_entropy":
        raise ValueError(f"adjust_pred_probs is not currently supported for {method}.")
    scores = np.zeros(inputs.indicator.shape)
    for k in range(scores.shape[1]):
        scores[:, k] = multiclass_rank.get_label_quality_scores(
            inputs.indicator[:, k], inputs.binary(k), method=method, adjust_pred_probs=True
        )
    return scores


# --- aggregation ---------------------------------------------------------------------------------------------


def exponential_moving_average(s: np.ndarray, *, alpha: float | None = None, axis: int = 1, **_) -> np.ndarray:
    """EMA of each row's scores sorted from largest to smallest, so the worst classes weigh most.

    Parameters
    ----------
    s : np.ndarray (N, K)
    alpha : float in [0, 1], optional
        Weight of each newer (smaller) score; default ``2 / (K + 1)``.

    Returns
    -------
    np.ndarray (N,)
        ``ema_1 = largest``, ``ema_t = alpha * s_t + (1 - alpha) * ema_{t-1}`` (cleanlab's loop, over columns).
    """
    ordered = np.fliplr(np.sort(s, axis=axis))
    if alpha is None:
        alpha = float(2 / (s.shape[1] + 1))
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in the interval [0, 1], got {alpha}")
    ema = ordered[:, 0]
    for column in ordered.T[1:]:
        ema = alpha * column + (1 - alpha) * ema
    return ema


def softmin(s: np.ndarray, *, temperature: float = 0.1, axis: int = 1, **_) -> np.ndarray:
    """Softmin of each row: ``sum_k s_k w_k`` with ``w = softmax((1 - s) / temperature)`` (cleanlab's).

    Returns
    -------
    np.ndarray (N,)
    """
    x = (1 - s) / max(temperature, SOFTMAX_EPSILON)
    x = x - np.max(x, axis=axis, keepdims=True)
    weights = np.exp(x)
    weights = weights / np.sum(weights, axis=axis, keepdims=True)
    return np.einsum("ij,ij->i", s, weights)


def _min(s: np.ndarray, *, axis: int = 1, **_) -> np.ndarray:
    return np.min(s, axis=axis)


AGGREGATORS: dict[str, Callable[..., np.ndarray]] = {
    "exponential_moving_average": exponential_moving_average,
    "softmin": softmin,
    "min": _min,
}
"""Aggregation ``method`` name -> function (N, K) -> (N,). ``"min"`` is ours; cleanlab accepts ``np.min``."""


def _aggregate(class_scores: np.ndarray, aggregator_kwargs: Mapping) -> np.ndarray:
    """cleanlab's ``Aggregator(**aggregator_kwargs)(scores)``; an empty mapping means the default EMA."""
    options = dict(aggregator_kwargs) if aggregator_kwargs else dict(DEFAULT_AGGREGATOR)
    if "method" not in options:
        raise ValueError("aggregator_kwargs needs a 'method' (a name in AGGREGATORS or a callable)")
    method = options.pop("method")
    if isinstance(method, str):
        if method not in AGGREGATORS:
            raise ValueError(f"Invalid aggregation method specified: {method!r}, must be one of {list(AGGREGATORS)}")
        method = AGGREGATORS[method]
    if not callable(method):
        raise TypeError(f"Expected callable method, got {type(method)}")
    return method(class_scores, **{**options, "axis": 1})


def _scores(inputs: _Inputs, method: str, adjust_pred_probs: bool, aggregator_kwargs: Mapping) -> np.ndarray:
    return _aggregate(_class_scores(inputs, method, adjust_pred_probs), aggregator_kwargs)


def get_label_quality_scores(
    labels: list[list[int]],
    pred_probs: np.ndarray,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
    aggregator_kwargs: Mapping = DEFAULT_AGGREGATOR,
) -> np.ndarray:
    """One label-quality score per row in [0, 1]; lower means some class is more likely mis-annotated.

    Parameters
    ----------
    labels : list of list of int (N,)
        Given classes of each row.
    pred_probs : np.ndarray (N, K)
        Out-of-sample probability that each class applies (independent; rows need not sum to 1).
    method : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}, default="self_confidence"
        Binary score of each class annotation (see :data:`CLASS_SCORERS`).
    adjust_pred_probs : bool, default=False
        Subtract each binary problem's confident thresholds first (class imbalance).
    aggregator_kwargs : mapping, default={"method": "exponential_moving_average", "alpha": 0.8}
        ``method`` is a name in :data:`AGGREGATORS` or a callable ``f(scores (N, K), axis=1, **rest)``; the
        other keys go to it (``alpha`` for the EMA, ``temperature`` for softmin).

    Returns
    -------
    label_quality_scores : np.ndarray (N,) float64
    """
    inputs = _Inputs.from_inputs(labels, pred_probs)
    return _scores(inputs, method, adjust_pred_probs, aggregator_kwargs)


def get_label_quality_scores_per_class(
    labels: list[list[int]],
    pred_probs: np.ndarray,
    *,
    method: str = "self_confidence",
    adjust_pred_probs: bool = False,
) -> np.ndarray:
    """Score of each class annotation of each row (cleanlab returns the same matrix).

    Parameters
    ----------
    labels : list of list of int (N,)
        ``labels[i]``: the class indices given to row ``i`` (zero, one or several).
    pred_probs : np.ndarray (N, K)
        Out-of-fold probability that each class applies to each row, classes independent (rows need not sum
        to 1).
    method : {"self_confidence", "normalized_margin", "confidence_weighted_entropy"}, default="self_confidence"
        The binary score of each class, as in :func:`get_label_quality_scores`.
    adjust_pred_probs : bool, default=False
        As in :func:`get_label_quality_scores`.

    Returns
    -------
    scores : np.ndarray (N, K) float64
        ``scores[i, k]`` is high when the model agrees with the given presence/absence of class ``k`` in row
        ``i``.
    """
    return _class_scores(_Inputs.from_inputs(labels, pred_probs), method, adjust_pred_probs)


# --- filtering -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FilterOptions:
    filter_by: str = "prune_by_noise_rate"
    frac_noise: float = 1.0
    num_to_remove_per_class: object = None
    min_examples_per_class: int = 1
    confident_joint: np.ndarray | None = None

    def per_class_joint(self, num_classes: int) -> np.ndarray | None:
        """The (K, 2, 2) one-vs-rest joint, or ``None``; a (K, K) joint is ignored with a warning (as cleanlab)."""
        if self.confident_joint is None:
            return None
        joint = np.asarray(self.confident_joint)
        if joint.shape == (num_classes, num_classes):
            warnings.warn(
                "The new recommended format for `confident_joint` in multi_label settings is (num_classes,2,2); "
                "your K x K confident_joint in the old format is being ignored.",
                stacklevel=4,
            )
            return None
        if joint.shape != (num_classes, 2, 2):
            raise ValueError("confident_joint should be of shape (num_classes, 2, 2)")
        return joint

    def binary_kwargs(self, k: int, joint: np.ndarray | None) -> dict:
        remove = self.num_to_remove_per_class
        return {
            "filter_by": self.filter_by,
            "frac_noise": self.frac_noise,
            "num_to_remove_per_class": None if remove is None else [remove[k], 0],
            "min_examples_per_class": self.min_examples_per_class,
            "confident_joint": None if joint is None else joint[k],
        }


def _per_class_mask(inputs: _Inputs, options: _FilterOptions) -> np.ndarray:
    """(N, K) bool: ``mask[i, k]`` when the annotation of class ``k`` in row ``i`` looks wrong.

    Equal to cleanlab's loop ``for k: mask[:, k] = filter.find_label_issues(Y[:, k], [1 - p_k, p_k], ...)``,
    run on our multiclass core. Its warnings about classes too small to prune are gathered into one.
    """
    num_classes = inputs.indicator.shape[1]
    joint = options.per_class_joint(num_classes)
    mask = np.zeros(inputs.indicator.shape, dtype=bool)
    small = []
    for k in range(num_classes):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mask[:, k] = finding.find_label_issues(
                inputs.indicator[:, k], inputs.binary(k), **options.binary_kwargs(k, joint)
            )
        small.extend([k] if any("too few examples" in str(w.message) for w in caught) else [])
        for w in caught:
            if "too few examples" not in str(w.message):
                warnings.warn(w.message, w.category, stacklevel=3)
    if small:
        warnings.warn(
            f"May not flag all label issues for classes {small[:10]}: they are given (or absent) in too "
            "few rows (see argument: `min_examples_per_class`)",
            stacklevel=3,
        )
    return mask


def _lowest_scores_mask(inputs: _Inputs, options: _FilterOptions) -> np.ndarray:
    """Rows for ``low_*`` filters: as many as ``confident_learning`` flags, with the lowest default scores."""
    if options.frac_noise != 1.0 or options.num_to_remove_per_class is not None:
        warnings.warn(
            f"frac_noise and num_to_remove_per_class are ignored with filter_by={options.filter_by!r}", stacklevel=3
        )
    counted = _per_class_mask(inputs, _FilterOptions(filter_by="confident_learning")).any(axis=1).sum()
    scores = _scores(inputs, "self_confidence", False, DEFAULT_AGGREGATOR)
    mask = np.zeros(len(scores), dtype=bool)
    mask[smallest(scores, int(counted))] = True
    return mask


def _check_rank_kwargs(rank_by_kwargs: Mapping, rank_by: str | None) -> bool:
    """Check the ranking options before any work; return ``adjust_pred_probs``."""
    if rank_by is not None and rank_by not in CLASS_SCORERS:
        raise ValueError(f"return_indices_ranked_by must be None or one of {sorted(CLASS_SCORERS)}, got {rank_by!r}")
    rank_by_kwargs = rank_by_kwargs or {}
    unknown = sorted(set(rank_by_kwargs) - {"adjust_pred_probs"})
    if unknown:
        raise ValueError(f"unsupported rank_by_kwargs: {unknown}")
    return bool(rank_by_kwargs.get("adjust_pred_probs", False))


# Over 60 lines: the signature and numpydoc (48 lines, every option documented) are most of it; the body is 16.
def find_label_issues(
    labels: list[list[int]],
    pred_probs: np.ndarray,
    return_indices_ranked_by: str | None = None,
    rank_by_kwargs: Mapping = NO_KWARGS,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: list[int] | None = None,
    min_examples_per_class: int = 1,
    confident_joint: np.ndarray | None = None,
    n_jobs: int | None = None,
    verbose: bool = False,
    low_memory: bool = False,
) -> np.ndarray:
    """Flag rows where any class annotation is probably wrong (a class missing, or one given wrongly).

    Parameters
    ----------
    labels : list of list of int (N,)
        Given classes of each row, indices in ``0 .. K-1``.
    pred_probs : np.ndarray (N, K)
        Out-of-sample probability that each class applies.
    return_indices_ranked_by : {None, "self_confidence", "normalized_margin", "confidence_weighted_entropy"}
        ``None`` returns a mask; otherwise the flagged rows sorted by the aggregated score of that method,
        lowest first (equal scores by row number).
    rank_by_kwargs : mapping, optional
        ``{"adjust_pred_probs": bool}`` for the ranking score.
    filter_by : str, default="prune_by_noise_rate"
        As in :func:`labelaudit.cl.filter.find_label_issues`, applied to each class one-vs-rest.
        ``low_self_confidence`` / ``low_normalized_margin`` flag the rows with the lowest aggregated
        self-confidence, as many as ``confident_learning`` flags.
    frac_noise, min_examples_per_class :
        As in :func:`labelaudit.cl.filter.find_label_issues`, per class.
    num_to_remove_per_class : array_like (K,), optional
        Rows to un-tag per class (rows wrongly given class ``k``).
    confident_joint : np.ndarray (K, 2, 2), optional
        One-vs-rest confident joints; a (K, K) matrix is ignored with a warning, as in cleanlab.
    n_jobs, verbose, low_memory :
        Accepted for compatibility and ignored (the per-class pass is single-threaded and already lean;
        cleanlab's ``low_memory=True`` switches to its approximate batched method, which we do not copy).

    Every option can be given by position, in this order, as cleanlab's (it has no ``*``).

    Returns
    -------
    label_issues : np.ndarray
        Bool mask (N,), or int row numbers (M,) when `return_indices_ranked_by` is set.
    """
    adjust = _check_rank_kwargs(rank_by_kwargs, return_indices_ranked_by)
    inputs = _Inputs.from_inputs(labels, pred_probs)
    options = _FilterOptions(filter_by, frac_noise, num_to_remove_per_class, min_examples_per_class, confident_joint)
    if filter_by in LOWEST_SCORE_FILTERS:
        mask = _lowest_scores_mask(inputs, options)
    else:
        mask = _per_class_mask(inputs, options).any(axis=1)
    if return_indices_ranked_by is None:
        return mask
    rows = np.flatnonzero(mask)
    if filter_by in LOWEST_SCORE_FILTERS and rows.size:
        # cleanlab scores only the flagged rows here, so adjusted scores use their thresholds, not all rows'
        flagged = _Inputs(inputs.indicator[rows], inputs.pred_probs[rows])
        return rows[stable_rank(_scores(flagged, return_indices_ranked_by, adjust, DEFAULT_AGGREGATOR))]
    scores = _scores(inputs, return_indices_ranked_by, adjust, DEFAULT_AGGREGATOR)
    return rows[stable_rank(scores[rows])]


def find_multilabel_issues_per_class(
    labels: list[list[int]],
    pred_probs: np.ndarray,
    return_indices_ranked_by: str | None = None,
    rank_by_kwargs: Mapping = NO_KWARGS,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: list[int] | None = None,
    min_examples_per_class: int = 1,
    confident_joint: np.ndarray | None = None,
    n_jobs: int | None = None,
    verbose: bool = False,
    low_memory: bool = False,
):
    """Which class annotations look wrong: the per-class masks behind :func:`find_label_issues`.

    Parameters
    ----------
    labels : list of list of int (N,)
        ``labels[i]``: the class indices given to row ``i`` (zero, one or several).
    pred_probs : np.ndarray (N, K)
        Out-of-fold probability that each class applies to each row, classes independent (rows need not sum
        to 1).
    return_indices_ranked_by, rank_by_kwargs, filter_by, frac_noise, num_to_remove_per_class :
        As in :func:`find_label_issues`, applied to each class one-vs-rest.
    min_examples_per_class, confident_joint, n_jobs, verbose, low_memory :
        As in :func:`find_label_issues` (``confident_joint`` (K, 2, 2)).

    Returns
    -------
    per_class_label_issues : np.ndarray (N, K) bool
        When `return_indices_ranked_by` is ``None``. ``[i, k]``: class ``k`` of row ``i`` looks wrong.
    (label_issues_list, labels_list, pred_probs_list) : tuple of K-lists
        Otherwise, as cleanlab: flagged rows of each class ranked by that class's binary score (stable),
        its binary labels (N,) and its one-vs-rest probabilities (N, 2).
    """
    adjust = _check_rank_kwargs(rank_by_kwargs, return_indices_ranked_by)
    inputs = _Inputs.from_inputs(labels, pred_probs)
    options = _FilterOptions(filter_by, frac_noise, num_to_remove_per_class, min_examples_per_class, confident_joint)
    mask = _per_class_mask(inputs, options)
    if return_indices_ranked_by is None:
        return mask
    issues, binary_labels, binary_probs = [], [], []
    for k in range(mask.shape[1]):
        probs = inputs.binary(k)
        issues.append(
            multiclass_rank.order_label_issues(
                mask[:, k],
                inputs.indicator[:, k],
                probs,
                rank_by=return_indices_ranked_by,
                rank_by_kwargs={"adjust_pred_probs": adjust},
            )
        )
        binary_labels.append(inputs.indicator[:, k])
        binary_probs.append(probs)
    return issues, binary_labels, binary_probs


# --- one-vs-rest estimates: cleanlab's count / filter functions with multi_label=True --------------------------


def _binary_problems(inputs: _Inputs):
    """Yield ``(k, Y[:, k], [1 - p_k, p_k])`` for every class: cleanlab's one-vs-rest reduction."""
    for k in range(inputs.indicator.shape[1]):
        yield k, inputs.indicator[:, k], inputs.binary(k)


def predicted_neq_given_mask(labels: list[list[int]], pred_probs: np.ndarray) -> np.ndarray:
    """(N,) bool: some class ``k`` has ``p_k > 1 - p_k`` disagreeing with whether ``k`` is given.

    Equal to cleanlab's ``filter.find_predicted_neq_given(..., multi_label=True)``: the argmax of
    ``[1 - p_k, p_k]`` is 1 exactly when ``p_k > 1 - p_k`` (in the input dtype; a tie is class 0, absent).
    """
    inputs = _Inputs.from_inputs(labels, pred_probs)
    predicted = inputs.pred_probs > 1 - inputs.pred_probs
    return (predicted != inputs.indicator.astype(bool)).any(axis=1)


def confident_thresholds_one_vs_rest(labels: list[list[int]], pred_probs: np.ndarray) -> np.ndarray:
    """(K, 2) thresholds of each class's binary problem (column 0: absent, 1: present), as cleanlab's."""
    inputs = _Inputs.from_inputs(labels, pred_probs)
    thresholds = np.empty((inputs.indicator.shape[1], 2))
    for k, given, probs in _binary_problems(inputs):
        thresholds[k] = counting.get_confident_thresholds(given, probs)
    return thresholds


def confident_joint_one_vs_rest(
    labels: list[list[int]],
    pred_probs: np.ndarray,
    *,
    thresholds=None,
    calibrate: bool = True,
    return_indices_of_off_diagonals: bool = False,
):
    """(K, 2, 2) int64 confident joint of each class's binary problem, and optionally each class's off-diagonal rows.

    `thresholds` is passed unchanged to every binary problem, as cleanlab does.
    """
    inputs = _Inputs.from_inputs(labels, pred_probs)
    joints = np.empty((inputs.indicator.shape[1], 2, 2), dtype=np.int64)
    off_diagonal = []
    for k, given, probs in _binary_problems(inputs):
        joints[k], rows = counting.compute_confident_joint(
            given, probs, thresholds=thresholds, calibrate=calibrate, return_indices_of_off_diagonals=True
        )
        off_diagonal.append(rows)
    return (joints, off_diagonal) if return_indices_of_off_diagonals else joints


def _one_vs_rest_joint(confident_joint: object, num_classes: int) -> np.ndarray:
    joint = np.asarray(confident_joint)
    if joint.shape != (num_classes, 2, 2):
        raise ValueError(f"confident_joint should be of shape (num_classes, 2, 2) = ({num_classes}, 2, 2)")
    return joint


def calibrate_one_vs_rest(confident_joint: np.ndarray, labels: list[list[int]]) -> np.ndarray:
    """(K, 2, 2) int64: each class's (2, 2) joint calibrated against that class's binary labels."""
    num_classes = len(np.asarray(confident_joint))
    joint = _one_vs_rest_joint(confident_joint, num_classes)
    indicator = multilabel_indicator(labels, len(labels), num_classes)
    calibrated = np.empty((num_classes, 2, 2), dtype=np.int64)
    for k in range(num_classes):
        calibrated[k] = counting.calibrate_confident_joint(joint[k], indicator[:, k])
    return calibrated


def joint_one_vs_rest(labels: list[list[int]], pred_probs: np.ndarray, confident_joint=None) -> np.ndarray:
    """(K, 2, 2) float: each class's ``P(given, true)``, from a (K, 2, 2) confident joint calibrated per class."""
    inputs = _Inputs.from_inputs(labels, pred_probs)
    num_classes = inputs.indicator.shape[1]
    if confident_joint is None:
        confident_joint = confident_joint_one_vs_rest(labels, pred_probs)
    joint = _one_vs_rest_joint(confident_joint, num_classes)
    result = np.empty((num_classes, 2, 2))
    for k, given, probs in _binary_problems(inputs):
        result[k] = counting.estimate_joint(given, probs, confident_joint=joint[k])
    return result


# --- dataset-level summaries ---------------------------------------------------------------------------------


def _issue_counts(indicator: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per class: flagged rows where the class is given (``extra``) and where it is absent (``missing``)."""
    given = indicator.astype(bool)
    return (mask & given).sum(axis=0), (mask & ~given).sum(axis=0)


def _common_issues_frame(extra, missing, num_rows: int, class_names) -> pd.DataFrame:
    """cleanlab's table: two rows per class (given-not-suggested, then suggested-not-given), most frequent first.

    Equal to cleanlab's loop appending, for each class, ``(k, True, False, extra_k, extra_k / N)`` then
    ``(k, False, True, missing_k, missing_k / N)``, sorted by probability descending (stable here).
    """
    num_classes = len(extra)
    counts = np.column_stack((extra, missing)).ravel()
    frame = pd.DataFrame(
        {
            "Class Index": np.repeat(np.arange(num_classes), 2),
            "In Given Label": np.tile([True, False], num_classes),
            "In Suggested Label": np.tile([False, True], num_classes),
            "Num Examples": counts,
            "Issue Probability": counts / num_rows,
        }
    )
    if class_names is not None:
        frame.insert(0, "Class Name", np.repeat(np.asarray(class_names, dtype=object)[:num_classes], 2))
    return frame.sort_values("Issue Probability", ascending=False, kind="stable").reset_index(drop=True)


def _required(labels: object, pred_probs: object) -> None:
    """The dataset-level functions default both to ``None`` (cleanlab's signatures) but need them."""
    missing = [name for name, value in (("labels", labels), ("pred_probs", pred_probs)) if value is None]
    if missing:
        raise ValueError(f"{' and '.join(missing)} must be given (lists of class indices and an (N, K) array)")


def common_multilabel_issues(
    labels: list[list[int]] | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    class_names: list[str] | None = None,
    confident_joint: np.ndarray | None = None,
) -> pd.DataFrame:
    """How often each class is wrongly given (extra) or wrongly left out (missing), most frequent first.

    Parameters
    ----------
    labels : list of list of int (N,)
        ``labels[i]``: the class indices given to row ``i`` (zero, one or several).
    pred_probs : np.ndarray (N, K)
        Out-of-fold probability that each class applies to each row, classes independent (rows need not sum
        to 1).
    class_names : list of str (K,), optional
        Adds the ``Class Name`` column.
    confident_joint : np.ndarray (K, 2, 2), optional
        The one-vs-rest confident joint, if already computed.

    Returns
    -------
    pd.DataFrame (2K rows)
        Columns ``Class Name`` (if `class_names`), ``Class Index``, ``In Given Label``, ``In Suggested Label``,
        ``Num Examples``, ``Issue Probability`` (= Num Examples / N), as cleanlab; rows with equal
        probability keep class order (cleanlab's order among them is unspecified).
    """
    _required(labels, pred_probs)
    inputs = _Inputs.from_inputs(labels, pred_probs)
    mask = _per_class_mask(inputs, _FilterOptions(confident_joint=confident_joint))
    extra, missing = _issue_counts(inputs.indicator, mask)
    return _common_issues_frame(extra, missing, len(mask), class_names)


def rank_classes_by_multilabel_quality(
    labels: list[list[int]] | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    class_names: list[str] | None = None,
    joint: np.ndarray | None = None,
    confident_joint: np.ndarray | None = None,
) -> pd.DataFrame:
    """Classes ordered by label quality ``1 - extra_k / N``, worst first.

    `joint` is passed on as the one-vs-rest confident joint and `confident_joint` is unused, exactly as in
    cleanlab 2.9 (which mixes the two up).

    Parameters
    ----------
    labels : list of list of int (N,)
        ``labels[i]``: the class indices given to row ``i`` (zero, one or several).
    pred_probs : np.ndarray (N, K)
        Out-of-fold probability that each class applies to each row, classes independent (rows need not sum
        to 1).
    class_names : list of str (K,), optional
        Adds the ``Class Name`` column.
    joint : np.ndarray (K, 2, 2), optional
        Used as the one-vs-rest confident joint (see above).
    confident_joint : np.ndarray (K, 2, 2), optional
        Unused (see above).

    Returns
    -------
    pd.DataFrame (K rows)
        ``Class Name`` (if `class_names`), ``Class Index``, ``Label Issues`` (``int(extra_k / N * N)``),
        ``Inverse Label Issues`` (missing), ``Label Noise``, ``Inverse Label Noise``, ``Label Quality Score``.
    """
    issues = common_multilabel_issues(labels, pred_probs, class_names=class_names, confident_joint=joint)
    num_rows = len(labels)
    given = issues[issues["In Given Label"]].set_index("Class Index")
    absent = issues[~issues["In Given Label"]].set_index("Class Index")
    order = given.index  # cleanlab fills its dict in the order of the common-issues table
    frame = pd.DataFrame(
        {
            "Class Index": order,
            "Label Issues": [int(p * num_rows) for p in given["Issue Probability"]],
            "Inverse Label Issues": [int(p * num_rows) for p in absent.loc[order, "Issue Probability"]],
            "Label Noise": given["Issue Probability"].to_numpy(),
            "Inverse Label Noise": absent.loc[order, "Issue Probability"].to_numpy(),
            "Label Quality Score": 1 - given["Issue Probability"].to_numpy(),
        }
    )
    if class_names is not None:
        frame.insert(0, "Class Name", given["Class Name"].to_numpy())
    return frame.sort_values("Label Quality Score", kind="stable").reset_index(drop=True)


def overall_multilabel_health_score(
    labels: list[list[int]] | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    confident_joint: np.ndarray | None = None,
) -> float:
    """Share of rows with no label issue: ``1 - find_label_issues(...).mean()``.

    Parameters
    ----------
    labels : list of list of int (N,)
        ``labels[i]``: the class indices given to row ``i`` (zero, one or several).
    pred_probs : np.ndarray (N, K)
        Out-of-fold probability that each class applies to each row, classes independent (rows need not sum
        to 1).
    confident_joint : np.ndarray (K, 2, 2), optional
        The one-vs-rest confident joint, if already computed.

    Returns
    -------
    health_score : float
        In [0, 1]; 1 when no row is flagged.
    """
    _required(labels, pred_probs)
    issues = find_label_issues(labels, pred_probs, confident_joint=confident_joint)
    return 1.0 - issues.sum() / len(issues)


def _print_health_summary_header(num_examples: int) -> None:
    """cleanlab's banner, character for character."""
    longest_line = f"|   for your dataset with {num_examples:,} examples "
    print(
        "-" * (len(longest_line) - 1)
        + "\n"
        + f"|  Generating a Cleanlab Dataset Health Summary{' ' * (len(longest_line) - 49)}|\n"
        + longest_line
        + f"|  Note, Cleanlab is not a medical doctor... yet.{' ' * (len(longest_line) - 51)}|\n"
        + "-" * (len(longest_line) - 1)
        + "\n",
    )


def multilabel_health_summary(
    labels: list[list[int]] | None = None,
    pred_probs: np.ndarray | None = None,
    *,
    class_names: list[str] | None = None,
    num_examples: int | None = None,
    confident_joint: np.ndarray | None = None,
    verbose: bool = True,
) -> dict:
    """The three summaries in one dict (cleanlab's keys), printed as cleanlab prints them when `verbose`.

    Parameters
    ----------
    labels, pred_probs, class_names, confident_joint :
        As in :func:`common_multilabel_issues`: (N,) lists of class indices, (N, K) probabilities, (K,) names,
        (K, 2, 2) one-vs-rest confident joint.
    num_examples : int, optional
        Shown in the banner; default ``len(labels)``.
    verbose : bool, default=True
        Print the banner, both tables and the health score's footer (to stdout, like cleanlab).

    Returns
    -------
    dict
        ``overall_multilabel_health_score`` (float), ``classes_by_multilabel_quality`` and
        ``common_multilabel_issues`` (pd.DataFrame).
    """
    _required(labels, pred_probs)
    if num_examples is None:
        num_examples = len(labels)
    if verbose:
        _print_health_summary_header(num_examples)
    by_class = rank_classes_by_multilabel_quality(
        labels, pred_probs, class_names=class_names, confident_joint=confident_joint
    )
    if verbose:
        print("Overall Class Quality and Noise across your dataset (below)")
        print("-" * 60, "\n", flush=True)
        print(by_class)
    common = common_multilabel_issues(labels, pred_probs, class_names=class_names, confident_joint=confident_joint)
    if verbose:
        print("\nCommon multilabel issues are" + "\n" + "-" * 83 + "\n", flush=True)
        print(common)
        print()
    health = overall_multilabel_health_score(labels, pred_probs, confident_joint=confident_joint)
    if verbose:
        print("\nGenerated with <3 from Cleanlab.\n")
    return {
        "overall_multilabel_health_score": health,
        "classes_by_multilabel_quality": by_class,
        "common_multilabel_issues": common,
    }


# --- one call for the audit flow -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MultilabelAudit:
    """Everything the audit flow stores for a multi-label batch, from one per-class pass.

    Attributes
    ----------
    issue_mask : np.ndarray (N,) bool, rows with any issue (equals :func:`find_label_issues`)
    per_class_mask : np.ndarray (N, K) bool, which class annotation of a row looks wrong
    label_quality : np.ndarray (N,) float, aggregated score (:func:`get_label_quality_scores`)
    class_scores : np.ndarray (N, K) float, per-class self-confidence
    cells : pd.DataFrame, one row per flagged (row, class): ``row``, ``class_index``, ``class_name``,
        ``kind`` ("missing": absent but probably applies; "extra": given but probably does not),
        ``probability`` (model's p_k), ``class_score``; worst first
    per_class : pd.DataFrame, one row per class: ``class_index``, ``class_name``, ``given`` (rows with the class),
        ``missing``, ``extra``, ``issues``, ``missing_rate`` / ``extra_rate`` (per row of the batch), ``issue_rate``
        (issues / N); most issues first
    """

    issue_mask: np.ndarray
    per_class_mask: np.ndarray
    label_quality: np.ndarray
    class_scores: np.ndarray
    cells: pd.DataFrame
    per_class: pd.DataFrame


def _cells_frame(inputs: _Inputs, mask: np.ndarray, class_scores: np.ndarray, names: list[str]) -> pd.DataFrame:
    rows, classes = np.nonzero(mask)
    frame = pd.DataFrame(
        {
            "row": rows,
            "class_index": classes,
            "class_name": np.asarray(names, dtype=object)[classes],
            "kind": np.where(inputs.indicator[rows, classes] == 1, "extra", "missing"),
            "probability": inputs.pred_probs[rows, classes].astype(np.float64),
            "class_score": class_scores[rows, classes],
        }
    )
    return frame.sort_values("class_score", kind="stable").reset_index(drop=True)


# Over 60 lines: the signature and numpydoc (27 lines, every option documented) are most of it; the body is 35.
def audit_multilabel(
    labels: list[list[int]],
    pred_probs: np.ndarray,
    *,
    class_names: list[str] | None = None,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    min_examples_per_class: int = 1,
    aggregator_kwargs: Mapping = DEFAULT_AGGREGATOR,
) -> MultilabelAudit:
    """Find and describe multi-label issues in one validated pass (what the flow should call).

    Parameters
    ----------
    labels : list of list of int (N,)
    pred_probs : np.ndarray (N, K)
    class_names : list of str (K,), optional
        Default ``["0", "1", ...]``.
    filter_by, frac_noise, min_examples_per_class :
        As in :func:`find_label_issues` (per-class methods only; not ``low_*``).
    aggregator_kwargs : mapping
        As in :func:`get_label_quality_scores`.

    Returns
    -------
    MultilabelAudit
    """
    if filter_by in LOWEST_SCORE_FILTERS:
        raise ValueError(f"audit_multilabel needs a per-class filter_by, got {filter_by!r}")
    inputs = _Inputs.from_inputs(labels, pred_probs)
    num_rows, num_classes = inputs.indicator.shape
    names = [str(k) for k in range(num_classes)] if class_names is None else list(class_names)
    if len(names) != num_classes:
        raise ValueError(f"class_names has {len(names)} names but pred_probs has {num_classes} columns")
    mask = _per_class_mask(inputs, _FilterOptions(filter_by, frac_noise, None, min_examples_per_class))
    class_scores = _class_scores(inputs, "self_confidence", False)
    extra, missing = _issue_counts(inputs.indicator, mask)
    per_class = (
        pd.DataFrame(
            {
                "class_index": np.arange(num_classes),
                "class_name": names,
                "given": inputs.indicator.sum(axis=0),
                "missing": missing,
                "extra": extra,
                "issues": missing + extra,
                "missing_rate": missing / num_rows,
                "extra_rate": extra / num_rows,
                "issue_rate": (missing + extra) / num_rows,
            }
        )
        .sort_values("issues", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    return MultilabelAudit(
        issue_mask=mask.any(axis=1),
        per_class_mask=mask,
        label_quality=_aggregate(class_scores, aggregator_kwargs),
        class_scores=class_scores,
        cells=_cells_frame(inputs, mask, class_scores, names),
        per_class=per_class,
    )
