"""Input policy for the confident-learning core: every check on ``labels`` and ``pred_probs`` lives here.

Why one module: cleanlab scatters ``assert`` checks (gone under ``python -O``) and loops over every label in
Python; we check in numpy, once, and raise errors that name the offending rows so the person reading the message
can go and fix their file.

Tolerance policy (documented in ``docs/scoring.md``)
----------------------------------------------------
Let ``s`` be a row sum, ``eps`` the machine epsilon of the array's dtype and ``K`` the number of classes.

* NaN or infinite values: rejected (:class:`InvalidPredProbsError`). cleanlab lets NaN through.
* Values below ``-VALUE_ATOL`` (``1e-6``, cleanlab's own tolerance): rejected.
* ``|s - 1| <= accept_tolerance(dtype, K) = 1e-5 + K * eps``: accepted **unchanged** (so results stay
  bit-for-bit equal to cleanlab's; float32 softmax output and float32-computed-then-stored-as-float64
  probabilities such as the published MNIST ones, off by ~1e-6, fall here).
* ``accept_tolerance < |s - 1| <= RENORMALISE_ATOL`` (``1e-3``): the row is off by rounding (e.g. the
  published IMDB probabilities sum to 1.00002 with values up to 1.00001); it is divided by its sum, in the
  input dtype, on a copy, and :class:`ProbabilitiesRenormalisedWarning` names the rows.
* ``|s - 1| > RENORMALISE_ATOL`` (or a value above ``1 + RENORMALISE_ATOL``): rejected.

Labels must be a 1-D array of integers (integral floats such as ``2.0`` are accepted, as in cleanlab) in
``0 .. K-1``, one per row of ``pred_probs``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from labelaudit.errors import InputDataError

VALUE_ATOL = 1e-6
"""Values in ``[-VALUE_ATOL, 0)`` are tolerated as rounding noise (cleanlab's ``FLOATING_POINT_COMPARISON``)."""

ACCEPT_ATOL = 1e-5
"""Row sums within ``ACCEPT_ATOL + K * eps`` of 1 are used unchanged."""

RENORMALISE_ATOL = 1e-3
"""Row sums within this of 1 (but outside the accept tolerance) are renormalised with a warning."""

CHUNK_BYTES = 1 << 20
"""Rows are scanned in blocks of about this many bytes, so each block stays in cache while it is checked."""

_SHOWN_ROWS = 5


class InvalidPredProbsError(InputDataError):
    """``pred_probs`` cannot be scored (wrong shape, NaN, negative, rows not summing to 1)."""


class InvalidLabelsError(InputDataError):
    """``labels`` cannot be scored (wrong shape, not integers, out of range)."""


class CleanlabAssertionError(InputDataError, AssertionError):
    """An argument cleanlab 2.9 checks with ``assert``: a ``ValueError`` that is also an ``AssertionError``.

    Why both: the check is explicit (an ``assert`` vanishes under ``python -O``), and code written against
    cleanlab that catches ``AssertionError`` keeps working after switching.
    """


class ProbabilitiesRenormalisedWarning(UserWarning):
    """Some rows of ``pred_probs`` were off by rounding and were divided by their sums before scoring."""


def accept_tolerance(dtype: np.dtype, num_classes: int) -> float:
    """Largest ``|row sum - 1|`` accepted unchanged for an array of `dtype` with `num_classes` columns."""
    return ACCEPT_ATOL + num_classes * float(np.finfo(dtype).eps)


def row_blocks(num_rows: int, num_classes: int, itemsize: int = 8) -> Iterator[slice]:
    """Yield consecutive row slices of about :data:`CHUNK_BYTES` each (at least 256 rows)."""
    step = max(256, CHUNK_BYTES // max(1, num_classes * itemsize))
    for start in range(0, num_rows, step):
        yield slice(start, min(start + step, num_rows))


def _rows_message(what: str, rows: np.ndarray) -> str:
    return f"{what} ({len(rows)} row{'s' if len(rows) != 1 else ''} in all)"


@dataclass(frozen=True)
class BlockCheck:
    """What :func:`check_block` found in one block of rows (row numbers are global)."""

    bad_rows: dict[str, np.ndarray]
    renormalise_rows: np.ndarray
    row_sums: np.ndarray


def check_block(block: np.ndarray, *, row_offset: int = 0) -> BlockCheck:
    """Check one 2-D block of probabilities against the tolerance policy.

    Parameters
    ----------
    block : np.ndarray (B, K)
        Consecutive rows of ``pred_probs``, float32 or float64.
    row_offset : int, default=0
        Global row number of ``block[0]``, used in messages.

    Returns
    -------
    BlockCheck
        ``bad_rows`` maps a reason to the global numbers of rows failing it (empty when the block is fine);
        ``renormalise_rows`` are the global numbers of rows to divide by their sums and ``row_sums`` those
        rows' sums (numpy's pairwise ``sum``, so the result does not depend on how rows are blocked).
    """
    lowest, highest = block.min(), block.max()
    sums = np.einsum("ij->i", block)  # 2-3x faster than block.sum(axis=1); only compared with tolerances
    deviation = np.abs(sums - 1.0)
    accept = accept_tolerance(block.dtype, block.shape[1])
    clean = np.isfinite(lowest) and np.isfinite(highest) and lowest >= -VALUE_ATOL and highest <= 1 + RENORMALISE_ATOL
    if clean and deviation.max(initial=0.0) <= accept:
        return BlockCheck({}, np.empty(0, dtype=np.int64), np.empty(0, dtype=block.dtype))
    bad: dict[str, np.ndarray] = {}
    reasons = {
        "contain NaN or infinite values": ~np.isfinite(block).all(axis=1),
        f"contain values below -{VALUE_ATOL:g}": (block < -VALUE_ATOL).any(axis=1),
        f"contain values above 1 + {RENORMALISE_ATOL:g}": (block > 1 + RENORMALISE_ATOL).any(axis=1),
        f"do not sum to 1 within {RENORMALISE_ATOL:g}": ~(deviation <= RENORMALISE_ATOL),
    }
    for reason, failing in reasons.items():
        if failing.any():
            bad[reason] = np.flatnonzero(failing) + row_offset
    renorm = np.flatnonzero((deviation > accept) & (deviation <= RENORMALISE_ATOL))
    return BlockCheck(bad, renorm + row_offset, block[renorm].sum(axis=1))


def raise_for_bad_rows(bad: dict[str, list[np.ndarray]]) -> None:
    """Raise :class:`InvalidPredProbsError` naming the first failing rows of the first failing reason."""
    for reason, parts in bad.items():
        rows = np.concatenate(parts)
        if len(rows):
            raise InvalidPredProbsError(
                _rows_message(f"pred_probs rows {reason}", rows),
                column="pred_probs",
                rows=rows[:_SHOWN_ROWS].tolist(),
            )


def warn_renormalised(rows: np.ndarray, *, stacklevel: int = 3) -> None:
    """Emit :class:`ProbabilitiesRenormalisedWarning` naming the first renormalised rows and their count."""
    shown = ", ".join(str(r) for r in rows[:_SHOWN_ROWS])
    more = f" and {len(rows) - _SHOWN_ROWS} more" if len(rows) > _SHOWN_ROWS else ""
    warnings.warn(
        f"pred_probs rows {shown}{more} ({len(rows)} in all) sum to 1 only within {RENORMALISE_ATOL:g}; "
        "they were divided by their sums before scoring",
        ProbabilitiesRenormalisedWarning,
        stacklevel=stacklevel,
    )


def validate_pred_probs(pred_probs: object) -> np.ndarray:
    """Return `pred_probs` as a float32/float64 (N, K) array obeying the tolerance policy.

    The input is returned as is (no copy) when every row passes; when some rows are off by rounding, a copy
    with those rows renormalised is returned and :class:`ProbabilitiesRenormalisedWarning` is emitted.
    Other real dtypes are converted to float64.

    Raises
    ------
    InvalidPredProbsError
        Not a 2-D array with at least 2 columns and 1 row, or a row breaks the policy (message names rows).
    """
    probs = np.asarray(pred_probs)
    if probs.ndim != 2:
        raise InvalidPredProbsError(f"pred_probs must have shape (N, K), got {probs.shape}", column="pred_probs")
    if probs.shape[0] < 1 or probs.shape[1] < 2:
        raise InvalidPredProbsError(
            f"pred_probs needs at least 1 row and 2 columns, got {probs.shape}", column="pred_probs"
        )
    if probs.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(probs.dtype, np.floating) or np.issubdtype(probs.dtype, np.integer)):
            raise InvalidPredProbsError(f"pred_probs must be numeric, got dtype {probs.dtype}", column="pred_probs")
        probs = probs.astype(np.float64)
    bad: dict[str, list[np.ndarray]] = {}
    renorm_rows, renorm_sums = [], []
    for rows in row_blocks(*probs.shape, probs.itemsize):
        found = check_block(probs[rows], row_offset=rows.start)
        for reason, where in found.bad_rows.items():
            bad.setdefault(reason, []).append(where)
        if len(found.renormalise_rows):
            renorm_rows.append(found.renormalise_rows)
            renorm_sums.append(found.row_sums)
    raise_for_bad_rows(bad)
    if renorm_rows:
        rows_fixed = np.concatenate(renorm_rows)
        probs = probs.copy()
        probs[rows_fixed] /= np.concatenate(renorm_sums).astype(probs.dtype)[:, None]
        warn_renormalised(rows_fixed)
    return probs


def validate_labels(labels: object, num_rows: int, num_classes: int) -> np.ndarray:
    """Return `labels` as a 1-D integer array of length `num_rows` with values in ``0 .. num_classes-1``.

    Integer input is returned without a copy; integral floats are converted to int64.

    Raises
    ------
    InvalidLabelsError
        Wrong shape or length, non-integer values, or values outside ``0 .. num_classes-1`` (message names rows).
    """
    if hasattr(labels, "to_numpy"):
        labels = labels.to_numpy()
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InvalidLabelsError(f"labels must be 1-D, got shape {arr.shape}", column="labels")
    if len(arr) != num_rows:
        raise InvalidLabelsError(f"labels has {len(arr)} entries but pred_probs has {num_rows} rows", column="labels")
    return check_label_values(arr, num_classes)


def check_label_values(labels: np.ndarray, num_classes: int, *, row_offset: int = 0) -> np.ndarray:
    """Return 1-D `labels` as integers in ``0 .. num_classes-1`` (integral floats converted to int64).

    Used on the whole array in memory and on each batch out of core (`row_offset` numbers the batch's rows).

    Raises
    ------
    InvalidLabelsError
        Non-integer values or values outside ``0 .. num_classes-1`` (message names rows).
    """
    arr = labels.astype(np.int64) if labels.dtype == bool else labels
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating):
            raise InvalidLabelsError(f"labels must be integers, got dtype {arr.dtype}", column="labels")
        fractional = np.flatnonzero(~np.isfinite(arr) | (np.mod(arr, 1) != 0))
        if len(fractional):
            raise InvalidLabelsError(
                _rows_message("labels must be integers", fractional),
                column="labels",
                rows=(fractional[:_SHOWN_ROWS] + row_offset).tolist(),
            )
        arr = arr.astype(np.int64)
    if len(arr) and (arr.min() < 0 or arr.max() >= num_classes):
        outside = np.flatnonzero((arr < 0) | (arr >= num_classes))
        raise InvalidLabelsError(
            _rows_message(f"labels must be in 0..{num_classes - 1} (pred_probs has {num_classes} columns)", outside),
            column="labels",
            rows=(outside[:_SHOWN_ROWS] + row_offset).tolist(),
        )
    return arr


def validate_inputs(labels: object, pred_probs: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate both inputs once; see :func:`validate_pred_probs` and :func:`validate_labels`."""
    probs = validate_pred_probs(pred_probs)
    return validate_labels(labels, *probs.shape), probs
