"""Compiled (numba) versions of the two hot loops; the numpy versions in kernels/core are the reference.

Why: both loops are row-local and branchy. In numpy each step is a separate pass over a block (argmax, gather,
compare, count, nonzero), and the noise-rate cells are a Python loop over up to K*(K-1) cells; compiled, each is
one pass. Results are identical to the numpy versions (same comparisons in the same dtypes; the tests run
both). numba is optional: without it (or with ``LABELAUDIT_NO_JIT=1``) the numpy versions run. The loops are
compiled on first use and cached on disk (``cache=True``): 1.5-4.5 s once per environment and dtype.
"""

from __future__ import annotations

import os

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - numba is optional
    numba = None


#: Below this many probabilities the numpy kernels already take milliseconds, and loading (or, in a fresh
#: environment, compiling) the numba kernels would cost more than it saves. ``LABELAUDIT_JIT_MIN_ELEMENTS``
#: overrides it (the tests set 0 to run the compiled kernels on small arrays).
DEFAULT_MIN_ELEMENTS = 1_000_000


def enabled() -> bool:
    """True when numba is installed and not disabled with ``LABELAUDIT_NO_JIT=1``."""
    return numba is not None and os.environ.get("LABELAUDIT_NO_JIT", "") not in ("1", "true", "yes")


def worth_it(num_elements: int) -> bool:
    """Use the compiled kernels for an array of ``num_elements`` probabilities?"""
    minimum = int(os.environ.get("LABELAUDIT_JIT_MIN_ELEMENTS", DEFAULT_MIN_ELEMENTS))
    return enabled() and num_elements >= minimum


def _compiled(func):
    """`func` compiled lazily (at its first call) when numba is installed, else `func` itself."""
    return numba.njit(cache=True, nogil=True)(func) if numba is not None else func


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


def _kth_smallest(work, kth):
    """The `kth` smallest (0-based) of `work`, which it reorders: iterative quickselect, median-of-3 pivot.

    Hand-written because numba's ``np.partition`` took ~10 s to compile; only the value is used, and the value
    is the same whatever the algorithm.
    """
    lo, hi = 0, len(work) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        a, b, c = work[lo], work[mid], work[hi]
        pivot = max(min(a, b), min(max(a, b), c))
        i, j = lo, hi
        while i <= j:
            while work[i] < pivot:
                i += 1
            while work[j] > pivot:
                j -= 1
            if i <= j:
                work[i], work[j] = work[j], work[i]
                i += 1
                j -= 1
        if kth <= j:
            hi = j
        elif kth >= i:
            lo = i
        else:
            return work[kth]
    return work[kth]


def _noise_cells(block, block_conf, block_rows, starts, first_class, wanted, flagged, fallback):
    """Flag, per cell (given k, true j), the ``wanted[k, j]`` rows with the largest positive ``p_j - p_k``.

    Equal to the numpy reference ``core._class_cells``. `block` (R, K) holds consecutive classes' rows whose
    label is not top (the only rows with a positive margin), class ``first_class + c`` in
    ``block[starts[c]:starts[c + 1]]``, each class in increasing row order; `block_rows` are their row numbers.
    Each class's margins are laid out as a (K, rows) array so every cell scans one contiguous line (15% faster
    than scanning the block's columns); the cut is the ``wanted``-th largest positive margin and ties at the cut
    go to the lowest rows. A cell with fewer positive margins than wanted is left to the caller (``fallback``).
    """
    num_classes = block.shape[1]
    for c in range(len(starts) - 1):
        k = first_class + c
        lo, hi = starts[c], starts[c + 1]
        if not wanted[k].any():
            continue
        margins = np.empty((num_classes, hi - lo), dtype=block.dtype)
        for t in range(lo, hi):
            for j in range(num_classes):
                margins[j, t - lo] = block[t, j] - block_conf[t]
        values = np.empty(hi - lo, dtype=block.dtype)
        where = np.empty(hi - lo, dtype=np.int64)
        for j in range(num_classes):
            want = wanted[k, j]
            if want <= 0:
                continue
            found = 0
            for t in range(hi - lo):
                if margins[j, t] > 0:
                    values[found] = margins[j, t]
                    where[found] = block_rows[lo + t]
                    found += 1
            if found < want:
                fallback[k, j] = True
                continue
            cut = _kth_smallest(values[:found].copy(), found - want)
            ties = want
            for t in range(found):
                if values[t] > cut:
                    ties -= 1
            for t in range(found):
                if values[t] > cut:
                    flagged[where[t]] = True
                elif values[t] == cut and ties > 0:
                    flagged[where[t]] = True
                    ties -= 1


_kth_smallest = _compiled(_kth_smallest)  # rebound first: the compiled _noise_cells calls this name
confident_rows = _compiled(_confident_rows)
noise_cells = _compiled(_noise_cells)
