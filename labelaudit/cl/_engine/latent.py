"""Small (K, K) algebra of confident learning, written to give cleanlab 2.9's exact floating-point results.

Why a literal port: these operations are cheap (K x K), but their results feed integer rounding whose ties are
decided by one bit; the same expressions, in the same order, on arrays of the same memory layout (the raw
confident joint is column-major in cleanlab because it is ``confusion_matrix(...).T``) are the only way to get
the same counts. Comments name the cleanlab function each one mirrors.
"""

from __future__ import annotations

import numpy as np

TINY_VALUE = 1e-100
CLIPPING_LOWER_BOUND = 1e-6
FLOATING_POINT_COMPARISON = 1e-6


def round_preserving_sum(values: np.ndarray) -> np.ndarray:
    """Round to integers keeping the (rounded) total; ``cleanlab.internal.util.round_preserving_sum``.

    Entries whose fractional remainders are largest (smallest when decrementing) are adjusted first, in the
    order of numpy's default ``argsort`` on the same array, as cleanlab does.
    """
    floats = np.asarray(values, dtype=float)
    ints = floats.round()
    orig_sum = np.sum(floats).round()
    int_sum = np.sum(ints).round()
    while abs(int_sum - orig_sum) > FLOATING_POINT_COMPARISON:
        diff = np.round(orig_sum - int_sum)
        increment = -1 if int(diff < 0.0) else 1
        changes = min(int(abs(diff)), len(values))
        indices = np.argsort(floats - ints)[::-increment][:changes]
        ints[indices] += increment
        int_sum = np.sum(ints).round()
    return ints.astype(int)


def round_preserving_row_totals(matrix: np.ndarray) -> np.ndarray:
    """Round each row with :func:`round_preserving_sum`; ``cleanlab...round_preserving_row_totals``."""
    return np.apply_along_axis(func1d=round_preserving_sum, axis=1, arr=matrix).astype(int)


def clip_noise_rates(noise_matrix: np.ndarray) -> np.ndarray:
    """Clip off-diagonal rates to [0, 0.9999] and renormalise columns; ``cleanlab...clip_noise_rates``."""
    diagonal = np.diagonal(noise_matrix)
    clipped = np.clip(noise_matrix, 0, 0.9999)
    np.fill_diagonal(clipped, diagonal)
    return clipped / np.clip(clipped.sum(axis=0), a_min=TINY_VALUE, a_max=None)


def clip_values(x: np.ndarray, low: float = 0.0, high: float = 1.0, new_sum: float | None = None) -> np.ndarray:
    """Clip to [low, high] and rescale to `new_sum`; ``cleanlab.internal.util.clip_values``."""
    prev_sum = np.sum(x) if new_sum is None else new_sum
    x = np.clip(x, low, high)
    return x * prev_sum / np.clip(np.sum(x), a_min=TINY_VALUE, a_max=None)


def calibrate(confident_joint: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
    """Rescale rows to the label counts and round; ``cleanlab.count.calibrate_confident_joint``."""
    calibrated = (
        confident_joint.T / np.clip(confident_joint.sum(axis=1), a_min=TINY_VALUE, a_max=None) * label_counts
    ).T
    calibrated = calibrated / np.clip(np.sum(calibrated), a_min=TINY_VALUE, a_max=None) * sum(label_counts)
    return round_preserving_row_totals(calibrated)


def compute_inv_noise_matrix(py: np.ndarray, noise_matrix: np.ndarray, *, ps: np.ndarray | None = None):
    """``P(true|given)`` from the prior and noise matrix; ``cleanlab...compute_inv_noise_matrix``."""
    joint = noise_matrix * py
    ps = joint.sum(axis=1) if ps is None else ps
    return clip_noise_rates(joint.T / np.clip(ps, a_min=TINY_VALUE, a_max=None))


def compute_noise_matrix_from_inverse(ps: np.ndarray, inverse_noise_matrix: np.ndarray, *, py=None):
    """``P(given|true)`` from the inverse; ``cleanlab...compute_noise_matrix_from_inverse``."""
    joint = (inverse_noise_matrix * ps).T
    py = joint.sum(axis=0) if py is None else py
    return clip_noise_rates(joint / np.clip(py, a_min=TINY_VALUE, a_max=None))


def _py_cnt(ps, noise_matrix, inverse_noise_matrix, true_counts):
    return inverse_noise_matrix.diagonal() / np.clip(noise_matrix.diagonal(), a_min=TINY_VALUE, a_max=None) * ps


def _py_eqn(ps, noise_matrix, inverse_noise_matrix, true_counts):
    return np.linalg.inv(noise_matrix).dot(ps)


def _py_marginal(ps, noise_matrix, inverse_noise_matrix, true_counts):
    if true_counts is None:
        raise ValueError('py_method "marginal" needs the true-label counts of the confident joint')
    return true_counts / np.clip(float(sum(true_counts)), a_min=TINY_VALUE, a_max=None)


def _py_marginal_ps(ps, noise_matrix, inverse_noise_matrix, true_counts):
    return np.dot(inverse_noise_matrix, ps)


PY_METHODS = {"cnt": _py_cnt, "eqn": _py_eqn, "marginal": _py_marginal, "marginal_ps": _py_marginal_ps}


def compute_py(ps, noise_matrix, inverse_noise_matrix, *, py_method="cnt", true_labels_class_counts=None):
    """Latent prior ``p(true label)``; ``cleanlab.internal.latent_algebra.compute_py``."""
    if py_method not in PY_METHODS:
        raise ValueError(f"py_method {py_method!r} should be in {sorted(PY_METHODS)}")
    py = PY_METHODS[py_method](ps, noise_matrix, inverse_noise_matrix, true_labels_class_counts)
    return clip_values(py, low=CLIPPING_LOWER_BOUND, high=1.0, new_sum=1.0)


def converge_estimates(ps, py, noise_matrix, inverse_noise_matrix, *, inv_iterations=5, noise_iterations=3):
    """Make prior and both noise matrices agree; ``cleanlab.count._converge_estimates``."""
    for _ in range(noise_iterations):
        for _ in range(inv_iterations):
            inverse_noise_matrix = compute_inv_noise_matrix(py=py, noise_matrix=noise_matrix, ps=ps)
            py = compute_py(ps, noise_matrix, inverse_noise_matrix)
        noise_matrix = compute_noise_matrix_from_inverse(ps=ps, inverse_noise_matrix=inverse_noise_matrix, py=py)
    return py, noise_matrix, inverse_noise_matrix


def latent_estimates(confident_joint, label_counts, *, py_method="cnt", converge_latent_estimates=False):
    """Prior, noise matrix and inverse noise matrix; the body of ``cleanlab.count.estimate_latent``."""
    ps = label_counts / float(label_counts.sum())
    given_counts = confident_joint.sum(axis=1).astype(float)
    true_counts = confident_joint.sum(axis=0).astype(float)
    noise_matrix = confident_joint / np.clip(true_counts, a_min=TINY_VALUE, a_max=None)
    inv_noise_matrix = confident_joint.T / np.clip(given_counts, a_min=TINY_VALUE, a_max=None)
    py = compute_py(ps, noise_matrix, inv_noise_matrix, py_method=py_method, true_labels_class_counts=true_counts)
    noise_matrix = clip_noise_rates(noise_matrix)
    inv_noise_matrix = clip_noise_rates(inv_noise_matrix)
    if converge_latent_estimates:
        py, noise_matrix, inv_noise_matrix = converge_estimates(ps, py, noise_matrix, inv_noise_matrix)
        py = clip_values(py, low=1e-5, high=1.0, new_sum=1.0)
        noise_matrix = clip_noise_rates(noise_matrix)
        inv_noise_matrix = clip_noise_rates(inv_noise_matrix)
    return py, noise_matrix, inv_noise_matrix


def reduce_prune_counts(prune_count_matrix: np.ndarray, frac_noise: float = 1.0) -> np.ndarray:
    """Scale off-diagonals by `frac_noise`, keeping column totals; ``cleanlab.filter._reduce_prune_counts``."""
    new_mat = prune_count_matrix * frac_noise
    np.fill_diagonal(new_mat, prune_count_matrix.diagonal())
    np.fill_diagonal(new_mat, prune_count_matrix.diagonal() + np.sum(prune_count_matrix - new_mat, axis=0))
    return new_mat.astype(int)


def keep_at_least_n_per_class(prune_count_matrix: np.ndarray, n: int, *, frac_noise: float = 1.0) -> np.ndarray:
    """Raise each diagonal to at least `n`, taking it from the column's noise counts, then apply `frac_noise`.

    ``cleanlab.filter._keep_at_least_n_per_class``; `prune_count_matrix` is the transposed confident joint.
    """
    diagonal = np.diagonal(prune_count_matrix)
    new_diagonal = np.maximum(diagonal, n)
    diff_per_col = new_diagonal - diagonal
    num_noise_rates_per_col = np.maximum(np.count_nonzero(prune_count_matrix, axis=0) - 1.0, 1.0)
    new_mat = prune_count_matrix - diff_per_col / num_noise_rates_per_col
    new_mat[new_mat < 0] = 0
    np.fill_diagonal(new_mat, new_diagonal)
    new_mat = reduce_prune_counts(new_mat, frac_noise)
    return round_preserving_row_totals(new_mat).astype(int)


def prune_counts_for_removal(prune_count_matrix, num_to_remove_per_class, label_counts) -> np.ndarray:
    """Rescale noise counts so each given class loses `num_to_remove_per_class`; as in cleanlab's filter."""
    psy = prune_count_matrix / np.sum(prune_count_matrix, axis=1)
    noise_per_s = psy.sum(axis=1) - psy.diagonal()
    tmp = (psy.T * num_to_remove_per_class / noise_per_s).T
    np.fill_diagonal(tmp, label_counts - num_to_remove_per_class)
    return round_preserving_row_totals(tmp)
