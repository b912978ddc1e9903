"""Estimate the hidden quantities of confident learning: thresholds, confident joint, joint, prior, noise rates.

Mirrors ``cleanlab.count`` (2.9) for single-label classification: same function names, argument names, order
and defaults, and exactly the same numbers (see ``docs/scoring.md``). The heavy part, the confident joint, is one
blocked pass over ``pred_probs`` (:func:`labelaudit.cl._engine.kernels.confident_pass`); the small (K, K) algebra is a
literal port (:mod:`labelaudit.cl._engine.latent`) because its integer rounding depends on every bit.
"""

from __future__ import annotations

import warnings

import numpy as np

from labelaudit.cl._engine import counting, latent
from labelaudit.cl._engine.core import Prepared

FITTING_FUNCTIONS = (
    "estimate_confident_joint_and_cv_pred_proba",
    "estimate_cv_predicted_probabilities",
    "estimate_noise_matrices",
    "estimate_py_noise_matrices_and_cv_pred_proba",
)
"""cleanlab's model-fitting helpers, defined in :mod:`labelaudit.cl._engine.fitting` and loaded on first use, so that
importing this module does not import scikit-learn."""

__all__ = [
    "calibrate_confident_joint",
    "compute_confident_joint",
    "estimate_joint",
    "estimate_latent",
    "estimate_py_and_noise_matrices_from_probabilities",
    "get_confident_thresholds",
    "num_label_issues",
    *FITTING_FUNCTIONS,
]


def __getattr__(name: str):
    if name in FITTING_FUNCTIONS:
        from labelaudit.cl._engine import fitting

        return getattr(fitting, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


ESTIMATION_METHODS = ("off_diagonal", "off_diagonal_calibrated", "off_diagonal_custom")


def _one_vs_rest():
    """The multi-label module, for cleanlab's legacy ``multi_label=True`` (imported late: it imports this module)."""
    from labelaudit.cl import multilabel_classification

    return multilabel_classification


def _require_label_lists(labels: object) -> None:
    if not isinstance(labels, list):
        raise TypeError("`labels` must be list when `multi_label=True`.")


def get_confident_thresholds(labels: np.ndarray, pred_probs: np.ndarray, multi_label: bool = False) -> np.ndarray:
    """Per-class threshold: mean predicted probability of class ``k`` over rows labelled ``k``.

    Parameters
    ----------
    labels : np.ndarray (N,)
    pred_probs : np.ndarray (N, K)
    multi_label : bool, default=False
        With ``True``, `labels` are lists of class indices and each class's one-vs-rest thresholds are returned.

    Returns
    -------
    confident_thresholds : np.ndarray (K,), or (K, 2) with `multi_label`
        Clipped below at 2e-6; 2 for a class with no given rows (so nothing is confidently counted into it).
    """
    if multi_label:
        _require_label_lists(labels)
        return _one_vs_rest().confident_thresholds_one_vs_rest(labels, pred_probs)
    return counting.get_confident_thresholds(labels, pred_probs)


def compute_confident_joint(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    thresholds: np.ndarray | list | None = None,
    calibrate: bool = True,
    multi_label: bool = False,
    return_indices_of_off_diagonals: bool = False,
):
    """Count rows confidently belonging to each (given label, true label) pair.

    Parameters
    ----------
    labels : np.ndarray (N,)
    pred_probs : np.ndarray (N, K)
    thresholds : array_like (K,), optional
        Per-class thresholds; default :func:`get_confident_thresholds`.
    calibrate : bool, default=True
        Rescale so rows sum to the label counts (see :func:`calibrate_confident_joint`).
    multi_label : bool, default=False
        With ``True``, `labels` are lists of class indices and the joint is one-vs-rest, (K, 2, 2).
    return_indices_of_off_diagonals : bool, default=False
        Also return the rows counted off the diagonal.

    Returns
    -------
    confident_joint : np.ndarray (K, K) int, or (K, 2, 2) with `multi_label`
        ``[given, true]`` counts; the diagonal is at least 1 before calibration.
    indices_off_diagonal : np.ndarray (M,) int, only if `return_indices_of_off_diagonals`
        Increasing row numbers (with `multi_label`, a list of K such arrays).

    Notes
    -----
    Equal to cleanlab's reference loop: a row is counted when at least one class ``j`` has
    ``pred_probs[i, j] >= thresholds[j] - 1e-6``, into that class if it is the only one, otherwise into the
    row's argmax (even if the argmax class itself is below its threshold).
    """
    if multi_label:
        _require_label_lists(labels)
        return _one_vs_rest().confident_joint_one_vs_rest(
            labels,
            pred_probs,
            thresholds=thresholds,
            calibrate=calibrate,
            return_indices_of_off_diagonals=return_indices_of_off_diagonals,
        )
    return counting.compute_confident_joint(
        labels,
        pred_probs,
        thresholds=thresholds,
        calibrate=calibrate,
        return_indices_of_off_diagonals=return_indices_of_off_diagonals,
    )


def calibrate_confident_joint(confident_joint: np.ndarray, labels: np.ndarray, *, multi_label: bool = False):
    """Rescale a confident joint so row ``k`` sums to the number of rows labelled ``k`` and round to integers.

    Parameters
    ----------
    confident_joint : np.ndarray (K, K), or (K, 2, 2) with `multi_label`
    labels : np.ndarray (N,), or list of lists of class indices with `multi_label`
    multi_label : bool, default=False
        With ``True``, each class's (2, 2) joint is calibrated against that class's binary labels.

    Returns
    -------
    calibrated_cj : np.ndarray (K, K) int, or (K, 2, 2) with `multi_label`
        Rows sum to the label counts; the total is N.
    """
    if multi_label:
        _require_label_lists(labels)
        return _one_vs_rest().calibrate_one_vs_rest(confident_joint, labels)
    return counting.calibrate_confident_joint(confident_joint, labels)


def estimate_joint(labels: np.ndarray, pred_probs: np.ndarray, *, confident_joint=None, multi_label: bool = False):
    """Estimate the joint distribution ``P(given label = i, true label = j)``.

    Parameters
    ----------
    labels : np.ndarray (N,) or None
        With `confident_joint` given, ``None`` means "already calibrated".
    pred_probs : np.ndarray (N, K)
        Used only when `confident_joint` is not given.
    confident_joint : np.ndarray (K, K), optional
        Calibrated again against `labels` when both are given (as cleanlab does).
    multi_label : bool, default=False
        With ``True``, `labels` are lists of class indices, `confident_joint` is (K, 2, 2) and each class's
        binary joint is returned.

    Returns
    -------
    joint : np.ndarray (K, K) float, or (K, 2, 2) with `multi_label`
        Sums to 1 (per class with `multi_label`); rows sum to the given-label frequencies.
    """
    if multi_label:
        _require_label_lists(labels)
        return _one_vs_rest().joint_one_vs_rest(labels, pred_probs, confident_joint)
    return counting.estimate_joint(labels, pred_probs, confident_joint=confident_joint)


def estimate_latent(
    confident_joint: np.ndarray,
    labels: np.ndarray,
    *,
    py_method: str = "cnt",
    converge_latent_estimates: bool = False,
):
    """Prior of the true labels, noise matrix and inverse noise matrix from a confident joint.

    Parameters
    ----------
    confident_joint : np.ndarray (K, K)
        ``[given, true]`` counts, usually calibrated.
    labels : np.ndarray (N,)
    py_method : {"cnt", "eqn", "marginal", "marginal_ps"}, default="cnt"
    converge_latent_estimates : bool, default=False
        Iterate the three estimates into algebraic agreement.

    Returns
    -------
    py : np.ndarray (K,)
        ``P(true label = k)``.
    noise_matrix : np.ndarray (K, K)
        ``P(given = i | true = j)``; columns sum to 1.
    inverse_noise_matrix : np.ndarray (K, K)
        ``P(true = i | given = j)``; columns sum to 1.
    """
    return counting.estimate_latent(
        confident_joint, labels, py_method=py_method, converge_latent_estimates=converge_latent_estimates
    )


def estimate_py_and_noise_matrices_from_probabilities(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    thresholds=None,
    converge_latent_estimates: bool = True,
    py_method: str = "cnt",
    calibrate: bool = True,
):
    """:func:`compute_confident_joint` then :func:`estimate_latent`, sharing one validation and one pass.

    Parameters
    ----------
    labels : np.ndarray (N,)
        Given labels as class indices ``0..K-1``.
    pred_probs : np.ndarray (N, K)
        Out-of-fold predicted probabilities.
    thresholds : array_like (K,), optional
        As in :func:`compute_confident_joint`.
    converge_latent_estimates : bool, default=True
        As in :func:`estimate_latent`.
    py_method : {"cnt", "eqn", "marginal", "marginal_ps"}, default="cnt"
        As in :func:`estimate_latent`.
    calibrate : bool, default=True
        As in :func:`compute_confident_joint`.

    Returns
    -------
    tuple
        ``(py, noise_matrix, inverse_noise_matrix, confident_joint)``, shapes (K,), (K, K), (K, K), (K, K).
    """
    prepared = Prepared.from_inputs(labels, pred_probs)
    joint, _ = counting.confident_joint_from(prepared, thresholds=thresholds, calibrate=calibrate)
    py, noise, inverse = latent.latent_estimates(
        joint, prepared.label_counts, py_method=py_method, converge_latent_estimates=converge_latent_estimates
    )
    return py, noise, inverse, joint


def num_label_issues(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    confident_joint: np.ndarray | None = None,
    estimation_method: str = "off_diagonal",
    multi_label: bool = False,
) -> int:
    """Estimate how many rows have label issues, without saying which.

    Parameters
    ----------
    labels : np.ndarray (N,)
    pred_probs : np.ndarray (N, K)
    confident_joint : np.ndarray (K, K), optional
        Used only with ``estimation_method="off_diagonal_custom"`` (ignored with a warning otherwise).
    estimation_method : {"off_diagonal", "off_diagonal_calibrated", "off_diagonal_custom"}, default="off_diagonal"
        ``off_diagonal``: rows counted off the diagonal of the confident joint, less those whose given label
        wins after a 1e-6 nudge (equals ``find_label_issues(filter_by="confident_learning").sum()``);
        ``off_diagonal_calibrated``: ``round(N * (1 - trace(joint)))`` from the calibrated joint (calibrated
        twice, as cleanlab does); ``off_diagonal_custom``: the same from the given `confident_joint`.
    multi_label : bool, default=False
        With ``True`` (`labels` lists of class indices), the number of rows
        ``find_label_issues(..., multi_label=True, filter_by="confident_learning")`` flags, as cleanlab counts
        them (`estimation_method` is then not used).

    Returns
    -------
    num_issues : int
    """
    if estimation_method not in ESTIMATION_METHODS:
        raise ValueError(
            f"{estimation_method} is not a valid estimation method! Please choose a valid estimation method: "
            f"{list(ESTIMATION_METHODS)} (estimation_method)"
        )
    if confident_joint is not None and estimation_method != "off_diagonal_custom":
        warnings.warn(
            "The supplied `confident_joint` is ignored as `confident_joint` is recomputed internally; use "
            "estimation_method='off_diagonal_custom' to use it.",
            stacklevel=2,
        )
    if multi_label:
        from labelaudit.cl.filter import find_label_issues

        issues = find_label_issues(
            labels, pred_probs, confident_joint=confident_joint, multi_label=True, filter_by="confident_learning"
        )
        return int(np.sum(issues))
    return counting.issue_count(Prepared.from_inputs(labels, pred_probs), estimation_method, confident_joint)
