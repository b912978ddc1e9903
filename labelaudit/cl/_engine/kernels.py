"""Linear-time kernels over the (N, K) probability matrix, in cache-sized row blocks.

Why blocks: every kernel reads each block once from memory and runs its few numpy operations while the block
is still in cache, and temporaries stay O(block) instead of O(N * K) (cleanlab makes several full copies).

Tie rule (``TIE_RULE``): when several rows have exactly the value at a selection cut-off, the rows with the
lowest row numbers are taken first, i.e. the result equals a *stable* sort. cleanlab uses numpy's default
unstable sort there, so its choice among exactly tied rows depends on numpy version and CPU; everything else
matches it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelaudit.cl._engine import jit
from labelaudit.cl._engine.validation import row_blocks

TIE_RULE = "stable: among rows tied exactly at a cut-off value, the lowest row numbers are selected first"
THRESHOLD_FOR_ABSENT_CLASS = 2
CONFIDENT_THRESHOLDS_LOWER_BOUND = 2e-6
FLOATING_POINT_COMPARISON = 1e-6


def compact_labels(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Labels in the narrowest unsigned dtype, so grouping uses numpy's linear-time radix sort."""
    dtype = np.uint8 if num_classes <= 1 << 8 else np.uint16 if num_classes <= 1 << 16 else np.int64
    return labels if labels.dtype == dtype else labels.astype(dtype)


@dataclass(frozen=True)
class LabelGroups:
    """Row numbers grouped by given label, each group in increasing row order.

    ``order[starts[k]:starts[k + 1]]`` are the rows labelled ``k``; ``counts[k]`` their number.
    """

    order: np.ndarray
    starts: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_labels(cls, labels: np.ndarray, num_classes: int) -> LabelGroups:
        small = compact_labels(labels, num_classes)
        order = np.argsort(small, kind="stable")
        counts = np.bincount(small, minlength=num_classes).astype(np.int64)
        starts = np.concatenate(([0], np.cumsum(counts)))
        return cls(order, starts, counts)

    def rows(self, k: int) -> np.ndarray:
        return self.order[self.starts[k] : self.starts[k + 1]]


def self_confidence(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """``pred_probs[i, labels[i]]`` for every row, shape (N,), in the input dtype."""
    return pred_probs[np.arange(len(labels)), labels]


def confident_thresholds(groups: LabelGroups, self_conf: np.ndarray) -> np.ndarray:
    """Per-class mean self-confidence, exactly as ``cleanlab.count.get_confident_thresholds``.

    Equal to the loop ``[np.mean(pred_probs[labels == k, k]) if k in labels else 2 for k in range(K)]``
    clipped below at 2e-6: the mean of each class is taken over the same values in the same order (so numpy's
    pairwise float32 summation gives the same bits).
    """
    sorted_conf = self_conf[groups.order]
    return clip_thresholds(
        [
            np.mean(sorted_conf[groups.starts[k] : groups.starts[k + 1]]) if count else None
            for k, count in enumerate(groups.counts)
        ]
    )


def clip_thresholds(class_means: list) -> np.ndarray:
    """Thresholds from per-class means (``None`` for a class with no rows), with cleanlab's dtype quirk.

    The result is in the input dtype when every class is present and float64 when one is absent (cleanlab puts
    the integer 2 in the list), and is clipped below at 2e-6.
    """
    means = [THRESHOLD_FOR_ABSENT_CLASS if mean is None else mean for mean in class_means]
    return np.clip(means, a_min=CONFIDENT_THRESHOLDS_LOWER_BOUND, a_max=None)


@dataclass(frozen=True)
class ConfidentPass:
    """Result of :func:`confident_pass`.

    counts : np.ndarray (K, K) int64, ``counts[given, guessed_true]`` before the diagonal is clipped.
    off_diagonal : np.ndarray (M,) int64, rows counted off the diagonal, increasing.
    not_top : np.ndarray (S,) int64, rows whose given label does not have the largest probability, increasing.
    predicted : np.ndarray (N,) or None, argmax of each row (first maximum), when requested.
    """

    counts: np.ndarray
    off_diagonal: np.ndarray
    not_top: np.ndarray
    predicted: np.ndarray | None


def confident_pass(labels, pred_probs, self_conf, thresholds, *, keep_predicted=False) -> ConfidentPass:
    """Count the confident joint in one blocked pass, collecting the rows later steps need.

    Equal to the loop (cleanlab's reference loop in ``compute_confident_joint``)::

        for i, row in enumerate(pred_probs):
            confident = row >= thresholds - 1e-6
            if confident.sum() == 1:
                counts[labels[i], np.argmax(confident)] += 1
            elif confident.sum() > 1:
                counts[labels[i], np.argmax(row)] += 1

    with ``thresholds - 1e-6`` evaluated in the thresholds' dtype, as cleanlab does. Shortcut: when the argmax
    class is itself confident the row goes to the argmax whatever the count, so the confident flags of the other
    classes are looked at only for rows whose argmax class is below its threshold.
    """
    num_rows, num_classes = pred_probs.shape
    shifted = thresholds - FLOATING_POINT_COMPARISON
    if jit.worth_it(pred_probs.size):
        return _confident_pass_jit(labels, pred_probs, self_conf, shifted, keep_predicted)
    flat_counts = np.zeros(num_classes * num_classes, dtype=np.int64)
    off_parts, top_parts = [], []
    predicted = np.empty(num_rows, dtype=np.min_scalar_type(num_classes)) if keep_predicted else None
    for rows in row_blocks(num_rows, num_classes, pred_probs.itemsize):
        block, given = pred_probs[rows], labels[rows]
        argmax = block.argmax(axis=1)
        guess = argmax.copy()
        row_max = block[np.arange(len(block)), argmax]
        counted = row_max >= shifted[guess]
        unsure = np.flatnonzero(~counted)
        if len(unsure):
            confident = block[unsure] >= shifted
            num_confident = np.count_nonzero(confident, axis=1)
            guess[unsure[num_confident == 1]] = confident[num_confident == 1].argmax(axis=1)
            counted[unsure] = num_confident > 0
        if predicted is not None:
            predicted[rows] = argmax
        flat_counts += np.bincount((guess * num_classes + given)[counted], minlength=num_classes * num_classes)
        off_parts.append(np.flatnonzero(counted & (guess != given)) + rows.start)
        top_parts.append(np.flatnonzero(self_conf[rows] < row_max) + rows.start)
    # counts[guess, given] is sklearn's confusion_matrix(guess, given); its transpose (column-major, like
    # cleanlab's) is the confident joint indexed [given, guess].
    counts = flat_counts.reshape(num_classes, num_classes).T
    return ConfidentPass(counts, np.concatenate(off_parts), np.concatenate(top_parts), predicted)


def _confident_pass_jit(labels, pred_probs, self_conf, shifted, keep_predicted) -> ConfidentPass:
    """:func:`confident_pass` as one compiled loop (:func:`labelaudit.cl._engine.jit.confident_rows`)."""
    num_rows, num_classes = pred_probs.shape
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)  # [guess, given]
    flags = np.empty(num_rows, dtype=np.uint8)
    predicted = np.empty(num_rows if keep_predicted else 1, dtype=np.min_scalar_type(num_classes))
    jit.confident_rows(pred_probs, labels, shifted, self_conf, counts, flags, predicted, keep_predicted)
    return ConfidentPass(
        counts.T,  # column-major [given, guess], like cleanlab's confusion_matrix(...).T
        np.flatnonzero(flags & 1),
        np.flatnonzero(flags & 2),
        predicted if keep_predicted else None,
    )


def keep_given_label(labels: np.ndarray, pred_probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Which of `rows` cleanlab un-flags at the end (``cleanlab.count._reduce_issues``), shape (len(rows),).

    A row is un-flagged when its given label wins the argmax (first maximum) after ``1e-6`` is added to its
    probability in the input dtype. Evaluated only on candidate rows: a row whose given label already has the
    top probability always wins, so it never needs checking.
    """
    block = pred_probs[rows]
    given = labels[rows]
    block[np.arange(len(rows)), given] += FLOATING_POINT_COMPARISON
    return block.argmax(axis=1) == given


def sorted_unique_rows(parts: list[np.ndarray]) -> np.ndarray:
    """The row numbers of `parts` together, increasing, each once (a row can be chosen by several cells).

    Not ``np.unique``: numpy 2's unique hashes, about 1 us a row (16 s of driver time at 1e8 rows with 12M
    flagged); a sort and a neighbour test take about 1/15 of it, and copy nothing more when no row repeats.
    """
    if not parts:
        return np.empty(0, dtype=np.int64)
    rows = np.concatenate(parts)
    rows.sort()
    repeated = rows[1:] == rows[:-1]
    return np.delete(rows, np.flatnonzero(repeated) + 1) if repeated.any() else rows


def largest(values: np.ndarray, count: int) -> np.ndarray:
    """Positions (increasing) of the `count` largest `values`; ties at the cut-off go to the lowest positions.

    Equal to ``np.sort(np.argsort(-values, kind="stable")[:count])``, in O(len(values)) via ``np.partition``.
    """
    size = len(values)
    if count >= size:
        return np.arange(size)
    if count <= 0:
        return np.empty(0, dtype=np.intp)
    cut = np.partition(values, size - count)[size - count]
    return _break_ties(values, np.flatnonzero(values >= cut), cut, count)


def smallest(values: np.ndarray, count: int) -> np.ndarray:
    """Positions (increasing) of the `count` smallest `values`; ties at the cut-off go to the lowest positions.

    Equal to ``np.sort(np.argsort(values, kind="stable")[:count])``, in O(len(values)).
    """
    size = len(values)
    if count >= size:
        return np.arange(size)
    if count <= 0:
        return np.empty(0, dtype=np.intp)
    cut = np.partition(values, count - 1)[count - 1]
    return _break_ties(values, np.flatnonzero(values <= cut), cut, count)


def _break_ties(values: np.ndarray, chosen: np.ndarray, cut, count: int) -> np.ndarray:
    """Trim `chosen` (every position on the right side of `cut`, inclusive) to `count` by the tie rule."""
    if len(chosen) == count:
        return chosen
    tied = values[chosen] == cut
    surplus = len(chosen) - count
    drop = np.flatnonzero(tied)[-surplus:]
    return np.delete(chosen, drop)


def stable_rank(scores: np.ndarray) -> np.ndarray:
    """Positions sorting `scores` ascending, ties by position (the tie rule for ranked output)."""
    return np.argsort(scores, kind="stable")
