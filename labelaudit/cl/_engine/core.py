"""Validated inputs plus the work every public function shares, computed once and on demand.

Why: cleanlab recomputes thresholds and the confident joint in each public function and copies every class's
rows; here :class:`Prepared` validates once, groups rows by label once (linear-time radix sort) and caches the
thresholds, so :func:`labelaudit.cl.filter.confident_learning_summary` does one confident-joint pass for
everything.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from labelaudit.cl._engine import jit, kernels
from labelaudit.cl._engine.validation import row_blocks, validate_inputs


@dataclass(frozen=True)
class Prepared:
    """Validated ``labels`` (N,) and ``pred_probs`` (N, K) with lazily computed shared statistics."""

    labels: np.ndarray
    pred_probs: np.ndarray
    keep_predicted: bool = False

    @classmethod
    def from_inputs(cls, labels: object, pred_probs: object, *, keep_predicted: bool = False) -> Prepared:
        """Validate both inputs (see :mod:`labelaudit.cl._engine.validation`); `keep_predicted` stores row argmaxes."""
        checked_labels, checked_probs = validate_inputs(labels, pred_probs)
        return cls(checked_labels, checked_probs, keep_predicted)

    @property
    def num_rows(self) -> int:
        return self.pred_probs.shape[0]

    @property
    def num_classes(self) -> int:
        return self.pred_probs.shape[1]

    @cached_property
    def groups(self) -> kernels.LabelGroups:
        return kernels.LabelGroups.from_labels(self.labels, self.num_classes)

    @cached_property
    def label_counts(self) -> np.ndarray:
        return self.groups.counts

    @cached_property
    def self_confidence(self) -> np.ndarray:
        return kernels.self_confidence(self.labels, self.pred_probs)

    @cached_property
    def thresholds(self) -> np.ndarray:
        return kernels.confident_thresholds(self.groups, self.self_confidence)

    def confident_pass(self, thresholds=None, *, keep_predicted: bool = False) -> kernels.ConfidentPass:
        chosen = self.thresholds if thresholds is None else np.asarray(thresholds).reshape(-1)
        if chosen.shape != (self.num_classes,):
            raise ValueError(f"thresholds must have {self.num_classes} values, got {np.shape(thresholds)}")
        return kernels.confident_pass(
            self.labels, self.pred_probs, self.self_confidence, chosen, keep_predicted=keep_predicted
        )

    @cached_property
    def default_pass(self) -> kernels.ConfidentPass:
        """The confident-joint pass with the default thresholds, shared by every caller."""
        return self.confident_pass(keep_predicted=self.keep_predicted)

    @cached_property
    def not_top(self) -> np.ndarray:
        """Rows whose given label does not have the largest probability (the only rows cleanlab can keep)."""
        if "default_pass" in self.__dict__:
            return self.default_pass.not_top
        parts = []
        for rows in row_blocks(self.num_rows, self.num_classes, self.pred_probs.itemsize):
            parts.append(np.flatnonzero(self.self_confidence[rows] < self.pred_probs[rows].max(axis=1)) + rows.start)
        return np.concatenate(parts)

    def drop_kept(self, rows: np.ndarray) -> np.ndarray:
        """`rows` minus those cleanlab's final ``_reduce_issues`` step un-flags (see kernels.keep_given_label)."""
        if len(rows) == 0:
            return rows
        kept = np.zeros(len(rows), dtype=bool)
        for part in row_blocks(len(rows), self.num_classes, self.pred_probs.itemsize):
            kept[part] = kernels.keep_given_label(self.labels, self.pred_probs, rows[part])
        return rows[~kept]


def raw_confident_joint(counts: np.ndarray) -> np.ndarray:
    """Confident joint (K, K) from pass counts with the diagonal clipped to >= 1, column-major as cleanlab's."""
    joint = counts.copy(order="K")
    np.fill_diagonal(joint, joint.diagonal().clip(min=1))
    return joint


def warn_small_classes(counts: np.ndarray, min_examples_per_class: int) -> None:
    """cleanlab warns once per class too small to prune; we warn once, naming the classes."""
    small = np.flatnonzero(counts <= min_examples_per_class)
    if len(small):
        shown = ", ".join(str(k) for k in small[:10]) + (" ..." if len(small) > 10 else "")
        warnings.warn(
            f"May not flag all label issues in classes {shown}: they have too few examples "
            f"(see argument: `min_examples_per_class`)",
            stacklevel=4,
        )


def noise_rate_rows(prepared: Prepared, prune_counts: np.ndarray, min_examples_per_class: int) -> np.ndarray:
    """Rows flagged by ``prune_by_noise_rate`` before the final un-flagging, increasing.

    Equal to cleanlab's ``_prune_by_count`` loop under the stable tie rule::

        for k in classes with more than max(min_examples_per_class, 1) rows:
            rows_k = np.flatnonzero(labels == k)
            for j != k with prune_counts[j, k] > 0:
                margin = pred_probs[rows_k, j] - pred_probs[rows_k, k]
                flag rows_k[np.argsort(-margin, kind="stable")[: prune_counts[j, k]]]

    Only rows whose label is not top can have a positive margin, so each cell is solved among their positive
    margins; the whole class is read only for a cell asking for more rows than have a positive margin.
    """
    if jit.worth_it(prepared.num_rows * prepared.num_classes):
        return _noise_rate_rows_jit(prepared, prune_counts, min_examples_per_class)
    labels = prepared.labels
    candidates = kernels.LabelGroups.from_labels(labels[prepared.not_top], prepared.num_classes)
    flagged = np.zeros(prepared.num_rows, dtype=bool)
    for k in np.flatnonzero(prepared.label_counts > max(min_examples_per_class, 1)):
        wanted = prune_counts[:, k].copy()
        wanted[k] = 0
        if wanted.any():
            rows = prepared.not_top[candidates.rows(k)]
            flagged[_class_cells(prepared, k, rows, wanted)] = True
    return np.flatnonzero(flagged)


CELL_BLOCK_BYTES = 2 << 20
"""The not-top rows of consecutive classes are copied into blocks of about this size for the compiled cells."""


def _noise_rate_rows_jit(prepared, prune_counts, min_examples_per_class) -> np.ndarray:
    """:func:`noise_rate_rows` with the cells compiled (:func:`labelaudit.cl._engine.jit.noise_cells`).

    The candidate rows are scattered over the whole array; copying them class by class into a small reused
    block with ``np.take`` (one memcpy per row) and scanning that block is 3x faster than reading them in place.
    """
    wanted = np.ascontiguousarray(prune_counts.T, dtype=np.int64)  # [given, true]
    np.fill_diagonal(wanted, 0)
    wanted[prepared.label_counts <= max(min_examples_per_class, 1)] = 0
    candidates = kernels.LabelGroups.from_labels(prepared.labels[prepared.not_top], prepared.num_classes)
    rows = prepared.not_top[candidates.order]
    flagged = np.zeros(prepared.num_rows, dtype=bool)
    fallback = np.zeros(wanted.shape, dtype=bool)
    probs, starts = prepared.pred_probs, candidates.starts
    block_rows = max(1, CELL_BLOCK_BYTES // (prepared.num_classes * probs.itemsize))
    buffer = np.empty((min(block_rows, len(rows)), prepared.num_classes), dtype=probs.dtype)
    first = 0
    while first < prepared.num_classes:
        last = first + 1  # classes first..last-1 share a block
        while last < prepared.num_classes and starts[last + 1] - starts[first] <= block_rows:
            last += 1
        part = rows[starts[first] : starts[last]]
        block = buffer[: len(part)] if len(part) <= len(buffer) else np.empty((len(part), buffer.shape[1]), probs.dtype)
        np.take(probs, part, axis=0, out=block, mode="clip")  # rows are valid; "clip" avoids a buffered copy
        jit.noise_cells(
            block,
            prepared.self_confidence[part],
            part,
            starts[first : last + 1] - starts[first],
            first,
            wanted,
            flagged,
            fallback,
        )
        first = last
    for k, j in zip(*np.nonzero(fallback), strict=True):
        class_rows = prepared.groups.rows(k)
        whole = prepared.pred_probs[class_rows, j] - prepared.self_confidence[class_rows]
        flagged[class_rows[kernels.largest(whole, int(wanted[k, j]))]] = True
    return np.flatnonzero(flagged)


def _class_cells(prepared: Prepared, k: int, rows: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Rows of class `k` flagged by any cell ``(j, k)``, each cell wanting ``wanted[j]`` rows.

    `rows` (increasing) are the class's rows whose label is not top. A cell with exactly as many positive
    margins ``p_j - p_k`` as it wants takes them all; one with more takes its largest via ``np.partition`` on
    its positive margins (grouped by cell with a linear-time stable sort, so each group stays in row order);
    one with fewer falls back to the margins of the whole class.
    """
    margins = prepared.pred_probs[rows] - prepared.self_confidence[rows, None]
    position, cell = np.nonzero(margins > 0)
    num_positive = np.bincount(cell, minlength=len(wanted))
    take_all = (wanted > 0) & (num_positive == wanted)
    chosen = [rows[position[take_all[cell]]]]
    partial = (wanted > 0) & (num_positive > wanted)
    if partial.any():
        keep = partial[cell]
        position, cell = position[keep], cell[keep]
        by_cell = np.argsort(kernels.compact_labels(cell, len(wanted)), kind="stable")
        position = position[by_cell]
        values = margins[position, cell[by_cell]]
        bounds = np.concatenate(([0], np.cumsum(np.bincount(cell, minlength=len(wanted)))))
        for j in np.flatnonzero(partial):
            start, stop = bounds[j], bounds[j + 1]
            chosen.append(rows[position[start:stop][kernels.largest(values[start:stop], int(wanted[j]))]])
    for j in np.flatnonzero(num_positive < wanted):
        class_rows = prepared.groups.rows(k)
        whole = prepared.pred_probs[class_rows, j] - prepared.self_confidence[class_rows]
        chosen.append(class_rows[kernels.largest(whole, int(wanted[j]))])
    return np.concatenate(chosen)


def class_rows_flagged(prepared: Prepared, prune_counts: np.ndarray, min_examples_per_class: int) -> np.ndarray:
    """Rows flagged by ``prune_by_class`` before the final un-flagging, increasing.

    Equal to cleanlab's ``_prune_by_class`` under the stable tie rule: in each class ``k`` with more than
    ``max(min_examples_per_class, 1)`` rows, the ``count_k - prune_counts[k, k]`` rows with the smallest
    ``pred_probs[:, k]``.
    """
    flagged = []
    for k in np.flatnonzero(prepared.label_counts > max(min_examples_per_class, 1)):
        num_issues = prepared.label_counts[k] - prune_counts[k, k]
        if num_issues >= 1:
            rows = prepared.groups.rows(k)
            flagged.append(rows[kernels.smallest(prepared.self_confidence[rows], num_issues)])
    return np.sort(np.concatenate(flagged)) if flagged else np.empty(0, dtype=np.int64)
