"""The multiclass bodies of :mod:`labelaudit.cl.count`: thresholds, confident joint, calibration, joint, latent
estimates and the issue count, on single-label inputs only.

Why a separate module: ``count``'s public functions take cleanlab's legacy ``multi_label=True`` and hand it to
:mod:`labelaudit.cl.multilabel_classification`, which itself solves one binary (multiclass) problem per class.
With the bodies here, both import this module and neither imports the other back (no import cycle).
"""

from __future__ import annotations

import numpy as np

from labelaudit.cl._engine import latent
from labelaudit.cl._engine.core import Prepared, raw_confident_joint
from labelaudit.cl._engine.validation import validate_labels

__all__ = [
    "calibrate_confident_joint",
    "compute_confident_joint",
    "confident_joint_from",
    "estimate_joint",
    "estimate_latent",
    "get_confident_thresholds",
    "issue_count",
    "square",
]


def square(matrix: object, name: str) -> np.ndarray:
    """``matrix`` as a (K, K) array; a ValueError naming it otherwise."""
    arr = np.asarray(matrix)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a (K, K) matrix, got shape {arr.shape}")
    return arr


def get_confident_thresholds(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """:func:`labelaudit.cl.count.get_confident_thresholds` for single-label inputs: (N,), (N, K) -> (K,)."""
    return Prepared.from_inputs(labels, pred_probs).thresholds


def confident_joint_from(prepared: Prepared, *, thresholds=None, calibrate: bool = True):
    """Shared body of :func:`compute_confident_joint`: (confident joint, pass result)."""
    passed = prepared.default_pass if thresholds is None else prepared.confident_pass(thresholds)
    joint = raw_confident_joint(passed.counts)
    if calibrate:
        joint = latent.calibrate(joint, prepared.label_counts)
    return joint, passed


def compute_confident_joint(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    *,
    thresholds=None,
    calibrate: bool = True,
    return_indices_of_off_diagonals: bool = False,
):
    """:func:`labelaudit.cl.count.compute_confident_joint` for single-label inputs: (N,), (N, K) -> (K, K)."""
    joint, passed = confident_joint_from(
        Prepared.from_inputs(labels, pred_probs), thresholds=thresholds, calibrate=calibrate
    )
    return (joint, passed.off_diagonal) if return_indices_of_off_diagonals else joint


def calibrate_confident_joint(confident_joint: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """:func:`labelaudit.cl.count.calibrate_confident_joint` for single-label inputs: (K, K), (N,) -> (K, K)."""
    joint = square(confident_joint, "confident_joint")
    checked = validate_labels(labels, len(np.asarray(labels)), len(joint))
    return latent.calibrate(joint, np.bincount(checked, minlength=len(joint)))


def estimate_joint(labels: np.ndarray, pred_probs: np.ndarray, *, confident_joint=None) -> np.ndarray:
    """:func:`labelaudit.cl.count.estimate_joint` for single-label inputs: (N,), (N, K) -> (K, K), sums to 1."""
    if confident_joint is None:
        calibrated, _ = confident_joint_from(Prepared.from_inputs(labels, pred_probs))
    elif labels is not None:
        calibrated = calibrate_confident_joint(confident_joint, labels)
    else:
        calibrated = square(confident_joint, "confident_joint")
    return calibrated / np.clip(float(np.sum(calibrated)), a_min=latent.TINY_VALUE, a_max=None)


def estimate_latent(
    confident_joint: np.ndarray,
    labels: np.ndarray,
    *,
    py_method: str = "cnt",
    converge_latent_estimates: bool = False,
):
    """:func:`labelaudit.cl.count.estimate_latent`: (K, K), (N,) -> prior (K,), noise and inverse (K, K)."""
    joint = square(confident_joint, "confident_joint")
    checked = validate_labels(labels, len(np.asarray(labels)), len(joint))
    return latent.latent_estimates(
        joint,
        np.bincount(checked, minlength=len(joint)),
        py_method=py_method,
        converge_latent_estimates=converge_latent_estimates,
    )


def issue_count(prepared: Prepared, estimation_method: str, confident_joint=None) -> int:
    """Body of :func:`num_label_issues` on prepared inputs (reuses the cached default pass)."""
    if estimation_method == "off_diagonal":
        return len(prepared.drop_kept(prepared.default_pass.off_diagonal))
    if estimation_method == "off_diagonal_calibrated":
        confident_joint = latent.calibrate(raw_confident_joint(prepared.default_pass.counts), prepared.label_counts)
    elif confident_joint is None:
        raise ValueError(
            "No `confident_joint` provided. For estimation_method='off_diagonal_custom' you need to provide "
            "pre-calculated `confident_joint` matrix."
        )
    calibrated = latent.calibrate(square(confident_joint, "confident_joint"), prepared.label_counts)
    joint = calibrated / np.clip(float(np.sum(calibrated)), a_min=latent.TINY_VALUE, a_max=None)
    return int(np.rint((1.0 - joint.trace()) * prepared.num_rows))
