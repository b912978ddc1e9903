"""Compiled (numba) versions of the two hot loops; the numpy versions in kernels/core are the reference.

Why: both loops are row-local and branchy. In numpy each step is a separate pass over a block (argmax, gather,
compare, count, nonzero), and the noise-rate cells are a Python loop over up to K*(K-1) cells; compiled, each is
one pass. Results are identical to the numpy versions (same comparisons in the same dtypes; the tests run
both). numba is optional: without it (or with ``LABELAUDIT_NO_JIT=1``) the numpy versions run.
"""

from __future__ import annotations

import os

import numpy as np

try:  # pragma: no cover - exercised by the environment, not by a branch in tests
    import numba
except ImportError:  # pragma: no cover
    numba = None


def enabled() -> bool:
    """True when numba is importable and not disabled with ``LABELAUDIT_NO_JIT=1``."""
    return numba is not None and os.environ.get("LABELAUDIT_NO_JIT", "") not in ("1", "true", "yes")


def _confident_rows(probs, labels, shifted, self_conf, counts, flags, predicted, keep_predicted):
    """One pass: confident joint ``counts[guess, given]`` and per-row flags (1 = off-diagonal, 2 = not top)."""
    num_rows, num_classes = probs.shape
    for i in range(num_rows):
        best = 0
        top = probs[i, 0]
        for j in range(1, num_classes):
            if probs[i, j] > top:
                top = probs[i, j]
                best = j
        if keep_predicted:
            predicted[i] = best
        flag = 2 if self_conf[i] < top else 0
        guess = -1
        if top >= shifted[best]:
            guess = best
        else:
            num_confident = 0
            first = -1
            for j in range(num_classes):
                if probs[i, j] >= shifted[j]:
                    num_confident += 1
                    if first < 0:
                        first = j
            if num_confident == 1:
                guess = first
            elif num_confident > 1:
                guess = best
        if guess >= 0:
            given = labels[i]
            counts[guess, given] += 1
            if guess != given:
                flag |= 1
        flags[i] = flag


def _noise_cells(probs, labels, self_conf, rows, wanted, flagged, fallback):
    """Flag, per cell (given k, true j), the ``wanted[k * K + j]`` rows with the largest positive ``p_j - p_k``.

    Equal to the numpy reference ``core._class_cells`` (ties at the cut go to the lowest rows). `rows`
    (increasing) are the rows whose label is not top, the only ones with a positive margin; they are swept in
    address order, which the hardware prefetches (reading them class by class was 3x slower):

    1. each row's largest margin (at its argmax) gives a lower bound of every cell's cut: the ``wanted``-th
       largest of a subset of a cell's margins cannot exceed the ``wanted``-th largest of all of them;
    2. only margins at or above their cell's bound are collected (counted, then laid out cell by cell in row
       order), so almost nothing but the winners is stored;
    3. each cell's cut is found with ``np.partition``; a cell with fewer positive margins than it wants is left
       to the caller (``fallback``).
    """
    num_classes = probs.shape[1]
    cells = num_classes * num_classes
    bound = _cell_bounds(probs, labels, self_conf, rows, wanted)
    counts = np.zeros(cells + 1, dtype=np.int64)
    for r in rows:
        base = labels[r] * num_classes
        for j in range(num_classes):
            if wanted[base + j] > 0:
                margin = probs[r, j] - self_conf[r]
                if margin > 0 and margin >= bound[base + j]:
                    counts[base + j + 1] += 1
    offsets = np.cumsum(counts)
    fill = offsets[:-1].copy()
    values = np.empty(offsets[-1], dtype=probs.dtype)
    where = np.empty(offsets[-1], dtype=np.int64)
    for r in rows:
        base = labels[r] * num_classes
        for j in range(num_classes):
            if wanted[base + j] > 0:
                margin = probs[r, j] - self_conf[r]
                if margin > 0 and margin >= bound[base + j]:
                    values[fill[base + j]] = margin
                    where[fill[base + j]] = r
                    fill[base + j] += 1
    for cell in range(cells):
        want = wanted[cell]
        if want <= 0:
            continue
        if counts[cell + 1] < want:
            fallback[cell] = True
        else:
            _flag_top(
                values[offsets[cell] : offsets[cell + 1]], where[offsets[cell] : offsets[cell + 1]], want, flagged
            )


def _cell_bounds(probs, labels, self_conf, rows, wanted):
    """Per cell, the ``wanted``-th largest of the margins rows have at their argmax (0 when too few)."""
    num_classes = probs.shape[1]
    cells = num_classes * num_classes
    cell_of = np.empty(len(rows), dtype=np.int64)
    margin_of = np.empty(len(rows), dtype=probs.dtype)
    counts = np.zeros(cells + 1, dtype=np.int64)
    for t in range(len(rows)):
        r = rows[t]
        best = 0
        top = probs[r, 0]
        for j in range(1, num_classes):
            if probs[r, j] > top:
                top = probs[r, j]
                best = j
        cell_of[t] = labels[r] * num_classes + best
        margin_of[t] = top - self_conf[r]
        counts[cell_of[t] + 1] += 1
    offsets = np.cumsum(counts)
    fill = offsets[:-1].copy()
    grouped = np.empty(len(rows), dtype=probs.dtype)
    for t in range(len(rows)):
        grouped[fill[cell_of[t]]] = margin_of[t]
        fill[cell_of[t]] += 1
    bound = np.zeros(cells, dtype=probs.dtype)
    for cell in range(cells):
        want, have = wanted[cell], counts[cell + 1]
        if want > 0 and have >= want:
            bound[cell] = np.partition(grouped[offsets[cell] : offsets[cell + 1]], have - want)[have - want]
    return bound


def _flag_top(values, where, want, flagged):
    """Flag the `want` largest `values` (their rows `where`, increasing); ties at the cut: lowest rows first."""
    found = len(values)
    cut = np.partition(values, found - want)[found - want]
    above = 0
    for t in range(found):
        if values[t] > cut:
            above += 1
    ties = want - above
    for t in range(found):
        if values[t] > cut:
            flagged[where[t]] = True
        elif values[t] == cut and ties > 0:
            flagged[where[t]] = True
            ties -= 1


if numba is not None:  # pragma: no branch
    confident_rows = numba.njit(cache=True, nogil=True)(_confident_rows)
    _cell_bounds = numba.njit(cache=True, nogil=True)(_cell_bounds)
    _flag_top = numba.njit(cache=True, nogil=True)(_flag_top)
    noise_cells = numba.njit(cache=True, nogil=True)(_noise_cells)
else:  # pragma: no cover
    confident_rows = _confident_rows
    noise_cells = _noise_cells
