"""Decide which rows have label issues (confident learning), exactly as ``cleanlab.filter`` 2.9 does.

Same function name, argument names, order and defaults as ``cleanlab.filter.find_label_issues``; identical
masks except where rows tie exactly at a cut-off, where we take the lowest row numbers first (see
``labelaudit.cl._engine.kernels.TIE_RULE`` and ``docs/scoring.md``). ``n_jobs`` and ``verbose`` are accepted and
ignored: the single-threaded blocked pass is faster than cleanlab's worker pool.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from labelaudit.cl._engine import core, finding, latent
from labelaudit.cl._engine.finding import check_options, flagged_rows
from labelaudit.cl._engine.kernels import TIE_RULE
from labelaudit.cl._engine.validation import row_blocks

__all__ = [
    "TIE_RULE",
    "ConfidentLearningSummary",
    "confident_learning_summary",
    "find_label_issues",
    "find_label_issues_using_argmax_confusion_matrix",
    "find_predicted_neq_given",
]


def require_label_lists(labels: object) -> None:
    """cleanlab's check for its legacy ``multi_label=True`` path: labels must be a list of lists."""
    if not isinstance(labels, list):
        raise TypeError("`labels` must be list when `multi_label=True`.")


# Over 60 lines: the signature and numpydoc (50 lines, every option documented) are most of it; the body is 24.
def find_label_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    return_indices_ranked_by: str | None = None,
    rank_by_kwargs: dict | None = None,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    num_to_remove_per_class: list[int] | None = None,
    min_examples_per_class: int = 1,
    confident_joint: np.ndarray | None = None,
    n_jobs: int | None = None,
    verbose: bool = False,
    multi_label: bool = False,
) -> np.ndarray:
    """Flag rows whose given label is probably wrong.

    Parameters
    ----------
    labels : np.ndarray (N,)
        Given labels, integers in ``0 .. K-1``.
    pred_probs : np.ndarray (N, K)
        Out-of-sample predicted probabilities; see ``docs/scoring.md`` for the tolerance policy.
    return_indices_ranked_by : {None, "self_confidence", "normalized_margin", "confidence_weighted_entropy"}
        ``None`` returns a mask; otherwise the flagged row numbers sorted by that score, lowest first
        (equal scores by row number).
    rank_by_kwargs : dict, optional
        ``{"adjust_pred_probs": bool}`` for the ranking score.
    filter_by : {"prune_by_noise_rate", "prune_by_class", "both", "confident_learning", \
"predicted_neq_given", "low_normalized_margin", "low_self_confidence"}, default="prune_by_noise_rate"
        How rows are chosen (cleanlab's definitions).
    frac_noise : float, default=1.0
        Keep only this fraction of each noise count (pruning methods only).
    num_to_remove_per_class : array_like (K,), optional
        Rows to remove per given class (pruning methods only).
    min_examples_per_class : int, default=1
        Classes with at most this many rows (and classes of one row) are never pruned.
    confident_joint : np.ndarray (K, K), optional
        Use this joint instead of computing it (ignored, with a warning, for ``confident_learning``).
    n_jobs, verbose :
        Accepted for compatibility; ignored.
    multi_label : bool, default=False
        cleanlab's legacy multi-label switch: `labels` is then a list of lists of class indices and the call is
        :func:`labelaudit.cl.multilabel_classification.find_label_issues` (with cleanlab's ``DeprecationWarning``).

    Returns
    -------
    label_issues : np.ndarray
        Bool mask (N,), or int row numbers (M,) when `return_indices_ranked_by` is set.
    """
    if multi_label:
        check_options(filter_by, frac_noise, num_to_remove_per_class, confident_joint)
        return _multilabel_find_label_issues(
            labels,
            pred_probs,
            return_indices_ranked_by=return_indices_ranked_by,
            rank_by_kwargs=rank_by_kwargs,
            filter_by=filter_by,
            frac_noise=frac_noise,
            num_to_remove_per_class=num_to_remove_per_class,
            min_examples_per_class=min_examples_per_class,
            confident_joint=confident_joint,
        )
    return finding.find_label_issues(
        labels,
        pred_probs,
        return_indices_ranked_by=return_indices_ranked_by,
        rank_by_kwargs=rank_by_kwargs,
        filter_by=filter_by,
        frac_noise=frac_noise,
        num_to_remove_per_class=num_to_remove_per_class,
        min_examples_per_class=min_examples_per_class,
        confident_joint=confident_joint,
    )


def _multilabel_find_label_issues(labels, pred_probs, **options) -> np.ndarray:
    """cleanlab's legacy ``multi_label=True`` path, routed to the multi-label module (imported here: it imports us)."""
    require_label_lists(labels)
    warnings.warn(
        "The multi_label argument to filter.find_label_issues() is deprecated and will be removed in future "
        "versions. Please use `multilabel_classification.filter.find_label_issues()` instead.",
        DeprecationWarning,
        stacklevel=3,
    )
    from labelaudit.cl import multilabel_classification

    return multilabel_classification.find_label_issues(labels, pred_probs, **options)


def find_predicted_neq_given(labels: np.ndarray | list, pred_probs: np.ndarray, *, multi_label: bool = False):
    """The simplest baseline: a row is an issue when the model's argmax is not its given label.

    Parameters
    ----------
    labels : np.ndarray (N,), or list of lists of int with `multi_label`
    pred_probs : np.ndarray (N, K)
    multi_label : bool, default=False
        One-vs-rest: a row is an issue when, for some class ``k``, ``p_k > 1 - p_k`` disagrees with whether
        ``k`` is given (cleanlab's per-class argmax of ``[1 - p_k, p_k]``; a tie counts as absent).

    Returns
    -------
    label_issues_mask : np.ndarray (N,) bool
        Equal to ``np.argmax(pred_probs, axis=1) != labels`` (first maximum, as numpy's argmax).
    """
    if multi_label:
        require_label_lists(labels)
        from labelaudit.cl import multilabel_classification

        return multilabel_classification.predicted_neq_given_mask(labels, pred_probs)
    prepared = core.Prepared.from_inputs(labels, pred_probs)
    mask = np.empty(prepared.num_rows, dtype=bool)
    for part in row_blocks(prepared.num_rows, prepared.num_classes, prepared.pred_probs.itemsize):
        mask[part] = prepared.pred_probs[part].argmax(axis=1) != prepared.labels[part]
    return mask


def find_label_issues_using_argmax_confusion_matrix(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    calibrate: bool = True,
    filter_by: str = "prune_by_noise_rate",
) -> np.ndarray:
    """Confident learning with the confusion matrix of (given label, argmax) in place of the confident joint.

    A baseline: no per-class thresholds, every row counts where the model's argmax puts it.

    Parameters
    ----------
    labels : np.ndarray (N,)
    pred_probs : np.ndarray (N, K)
    calibrate : bool, default=True
        Rescale the matrix so its rows sum to the label counts (:func:`labelaudit.cl.count.calibrate_confident_joint`).
    filter_by : str, default="prune_by_noise_rate"
        As in :func:`find_label_issues`.

    Returns
    -------
    label_issues_mask : np.ndarray (N,) bool
        Equal to cleanlab's ``find_label_issues(labels, pred_probs, confident_joint=confusion_matrix(argmax,
        labels).T, filter_by=filter_by)``; the matrix is (K, K) even when a class is neither given nor predicted.
    """
    prepared = core.Prepared.from_inputs(labels, pred_probs)
    k = prepared.num_classes
    predicted = np.empty(prepared.num_rows, dtype=np.intp)
    for part in row_blocks(prepared.num_rows, k, prepared.pred_probs.itemsize):
        predicted[part] = prepared.pred_probs[part].argmax(axis=1)
    joint = np.bincount(prepared.labels.astype(np.intp) * k + predicted, minlength=k * k).reshape(k, k)
    if calibrate:
        joint = latent.calibrate(joint, prepared.label_counts)
    check_options(filter_by, 1.0, None, joint)
    rows = flagged_rows(prepared, filter_by=filter_by, confident_joint=joint)
    mask = np.zeros(prepared.num_rows, dtype=bool)
    mask[rows] = True
    return mask


@dataclass(frozen=True)
class ConfidentLearningSummary:
    """Everything the audit flow needs from one confident-learning run.

    Attributes
    ----------
    issue_mask : np.ndarray (N,) bool, or None when the rows were written out (see `output`)
    label_quality : np.ndarray (N,) float, self-confidence of the given label (None when written out)
    suggested_label : np.ndarray (N,) int, argmax of each row, first maximum (None when written out)
    confident_joint : np.ndarray (K, K) int, calibrated counts ``[given, true]``
    joint : np.ndarray (K, K) float, ``P(given, true)``, rows = given, columns = true
    noise_matrix : np.ndarray (K, K), ``P(given | true)``, columns sum to 1
    inverse_noise_matrix : np.ndarray (K, K), ``P(true | given)``, columns sum to 1
    py : np.ndarray (K,), ``P(true)``
    num_issues : int, ``issue_mask.sum()``
    tie_rule : str, how rows tied at a cut-off were chosen
    filter_by : str, the method used
    num_rows : int, N
    output : str or None, where the per-row results were written by the out-of-core path
    """

    issue_mask: np.ndarray | None
    label_quality: np.ndarray | None
    suggested_label: np.ndarray | None
    confident_joint: np.ndarray
    joint: np.ndarray
    noise_matrix: np.ndarray
    inverse_noise_matrix: np.ndarray
    py: np.ndarray
    num_issues: int
    tie_rule: str
    filter_by: str
    num_rows: int
    output: str | None = None


def summary_from_parts(
    *,
    issue_mask,
    label_quality,
    suggested_label,
    calibrated,
    label_counts,
    filter_by,
    num_issues,
    converge_latent_estimates=False,
    output=None,
) -> ConfidentLearningSummary:
    """Assemble a summary from per-row results and the calibrated joint (shared with the out-of-core path)."""
    joint = calibrated / np.clip(float(np.sum(calibrated)), a_min=latent.TINY_VALUE, a_max=None)
    py, noise, inverse = latent.latent_estimates(
        calibrated, label_counts, converge_latent_estimates=converge_latent_estimates
    )
    return ConfidentLearningSummary(
        issue_mask=issue_mask,
        label_quality=label_quality,
        suggested_label=suggested_label,
        confident_joint=calibrated,
        joint=joint,
        noise_matrix=noise,
        inverse_noise_matrix=inverse,
        py=py,
        num_issues=int(num_issues),
        tie_rule=TIE_RULE,
        filter_by=filter_by,
        num_rows=int(label_counts.sum()),
        output=output,
    )


def confident_learning_summary(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    filter_by: str = "prune_by_noise_rate",
    frac_noise: float = 1.0,
    min_examples_per_class: int = 1,
    converge_latent_estimates: bool = False,
) -> ConfidentLearningSummary:
    """Run confident learning once and return the mask, scores, suggestions and every estimate.

    Validates once and makes one confident-joint pass (which also records each row's argmax); the mask equals
    ``find_label_issues(labels, pred_probs, filter_by=...)``, the joint equals ``estimate_joint`` and
    ``(py, noise_matrix, inverse_noise_matrix)`` equal ``estimate_latent(confident_joint, labels, ...)``.

    Parameters
    ----------
    labels : np.ndarray (N,)
    pred_probs : np.ndarray (N, K)
    filter_by : str, default="prune_by_noise_rate"
        As in :func:`find_label_issues`.
    frac_noise : float, default=1.0
    min_examples_per_class : int, default=1
    converge_latent_estimates : bool, default=False
        As in :func:`labelaudit.cl.count.estimate_latent`.

    Returns
    -------
    ConfidentLearningSummary
    """
    check_options(filter_by, frac_noise, None, None)
    prepared = core.Prepared.from_inputs(labels, pred_probs, keep_predicted=True)
    passed = prepared.default_pass
    rows = flagged_rows(
        prepared, filter_by=filter_by, frac_noise=frac_noise, min_examples_per_class=min_examples_per_class
    )
    mask = np.zeros(prepared.num_rows, dtype=bool)
    mask[rows] = True
    calibrated = latent.calibrate(core.raw_confident_joint(passed.counts), prepared.label_counts)
    return summary_from_parts(
        issue_mask=mask,
        label_quality=prepared.self_confidence,
        suggested_label=passed.predicted.astype(np.intp),
        calibrated=calibrated,
        label_counts=prepared.label_counts,
        filter_by=filter_by,
        num_issues=len(rows),
        converge_latent_estimates=converge_latent_estimates,
    )
