"""A tie at a noise-rate cell's cut-off can change how many rows are flagged, not only which.

Reduced from a benchmark case (scikit-learn digits, random-forest out-of-fold probabilities, which are multiples
of 1/100): in class 6, cell (given 6, true 4) wanted 6 rows, five margins were above the cut and rows 492 and 1322
had the cut margin bit for bit (0.23 - 0.11 == 0.14 - 0.02 == 0x1.eb851eb851eb9p-4). Row 1322 was also the
largest margin of cell (given 6, true 5). cleanlab's unstable argsort took 1322 in both cells (163 rows flagged);
the tie rule takes 492, the lower row, in the first (164 rows). Same here with three classes: rows A and B of
class 0 tie in cell (0, 1) with those exact values, and B alone fills cell (0, 2).
"""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.cl import count, filter
from tests.cl._oracle import cl_find

CLEAN = [[0.8, 0.1, 0.1]] * 4
ROW_A = [0.11, 0.23, 0.66]  # margin to class 1: 0.23 - 0.11
ROW_B = [0.02, 0.14, 0.84]  # margin to class 1: 0.14 - 0.02, bit-equal to A's; the largest margin to class 2
ROW_C = [0.45, 0.5, 0.05]  # the row counted confidently as (0, 1), with a smaller margin than A and B
CLASS_1 = [[0.25, 0.5, 0.25]] * 4
CLASS_2 = [[0.1, 0.1, 0.8]] * 4
LABELS = np.array([0] * 7 + [1] * 4 + [2] * 4)


def _probs(first: list[float], second: list[float]) -> np.ndarray:
    """Rows 0-3 clean class 0, rows 4 and 5 the tied pair in the given order, row 6 C, then classes 1 and 2."""
    return np.array([*CLEAN, first, second, ROW_C, *CLASS_1, *CLASS_2])


def test_the_two_margins_tie_bit_for_bit():
    assert (0.23 - 0.11).hex() == (0.14 - 0.02).hex() == "0x1.eb851eb851eb9p-4"


def test_each_cell_wants_one_row():
    joint = count.compute_confident_joint(LABELS, _probs(ROW_A, ROW_B))
    np.testing.assert_array_equal(joint, [[5, 1, 1], [0, 4, 0], [0, 0, 4]])


@pytest.mark.parametrize(
    ("first", "second", "flagged"),
    [
        (ROW_A, ROW_B, [4, 5]),  # A (row 4) wins the tie in cell (0, 1), B (row 5) fills cell (0, 2): two rows
        (ROW_B, ROW_A, [4]),  # B (row 4) wins the tie and fills cell (0, 2) too: one row
    ],
)
def test_the_lower_tied_row_is_taken_and_the_count_follows(first, second, flagged):
    probs = _probs(first, second)
    mask = filter.find_label_issues(LABELS, probs)
    np.testing.assert_array_equal(np.flatnonzero(mask), flagged)
    np.testing.assert_array_equal(mask, cl_find(LABELS, probs))  # cleanlab with stable selection sorts
    summary = filter.confident_learning_summary(LABELS, probs)
    assert summary.num_issues == len(flagged)
