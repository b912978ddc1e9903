"""The neighbour second opinion: exact on a hand-checked example, and the flag rules that combine it with CL."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from labelaudit.models.neighbour_score import (
    agreement_counts,
    combine_flags,
    knn_class_shares,
    knn_disagrees,
    knn_label_agreement,
)

# five rows, two neighbours each (checked by hand in the comments)
LABELS = np.array([0, 0, 1, 1, 0])
NEIGHBOURS = np.array(
    [
        [1, 4],  # labels 0, 0: agreement 1.0
        [0, 2],  # 0, 1: 0.5, a tie, not a kNN flag
        [3, 4],  # 1, 0: 0.5, a tie
        [0, 1],  # 0, 0: 0.0, flagged
        [2, 3],  # 1, 1: 0.0, flagged
    ]
)
CL_FLAGS = np.array([False, False, True, False, True])
CL_SCORES = np.array([0.9, 0.8, 0.2, 0.6, 0.1])


def test_scores_on_a_hand_checked_example() -> None:
    np.testing.assert_array_equal(knn_label_agreement(LABELS, NEIGHBOURS, 2), [1.0, 0.5, 0.5, 0.0, 0.0])
    np.testing.assert_array_equal(
        knn_class_shares(LABELS, NEIGHBOURS, 2), [[1, 0], [0.5, 0.5], [0.5, 0.5], [1, 0], [0, 1]]
    )
    np.testing.assert_array_equal(knn_disagrees(LABELS, NEIGHBOURS, 2), [False, False, False, True, True])


@pytest.mark.parametrize(
    ("rule", "flags", "scores"),
    [
        ("confident_learning", [False, False, True, False, True], [0.9, 0.8, 0.2, 0.6, 0.1]),
        ("both", [False, False, False, False, True], [0.9, 0.8, 0.2, 0.6, 0.1]),
        ("either", [False, False, True, True, True], [0.9, 0.8, 0.2, 0.6, 0.1]),
        # the mean scores are .95 .65 .35 .3 .05: CL flagged two rows, the two lowest means are rows 4 and 3
        ("rank", [False, False, False, True, True], [0.95, 0.65, 0.35, 0.3, 0.05]),
    ],
)
def test_flag_rules_on_the_hand_checked_example(rule: str, flags: list[bool], scores: list[float]) -> None:
    knn_flags = knn_disagrees(LABELS, NEIGHBOURS, 2)
    knn_scores = knn_label_agreement(LABELS, NEIGHBOURS, 2)
    combined = combine_flags(CL_FLAGS, CL_SCORES, knn_flags, knn_scores, rule=rule)
    np.testing.assert_array_equal(combined.flags, flags)
    np.testing.assert_allclose(combined.scores, scores)


def test_agreement_counts_show_where_the_opinions_differ() -> None:
    counts = agreement_counts(CL_FLAGS, knn_disagrees(LABELS, NEIGHBOURS, 2))
    assert counts == {"both": 1, "confident_learning_only": 1, "neighbours_only": 1, "neither": 2}


def test_vectorised_score_equals_the_reference_loop_on_real_neighbours() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    labels = rng.integers(0, 3, size=60)
    _, found = NearestNeighbors(n_neighbors=6).fit(x).kneighbors(x)
    neighbours = found[:, 1:]  # the first neighbour of a row is itself (distinct points)
    expected = np.array([np.mean(labels[neighbours[i]] == labels[i]) for i in range(60)])
    np.testing.assert_allclose(knn_label_agreement(labels, neighbours, 3), expected)


def test_refuses_neighbour_arrays_that_include_the_row_or_do_not_fit() -> None:
    with pytest.raises(ValueError, match="exclude each row itself"):
        knn_label_agreement(LABELS, np.array([[0], [0], [1], [2], [3]]), 2)
    with pytest.raises(ValueError, match=r"shape \(N, k\) with N = 5"):
        knn_label_agreement(LABELS, NEIGHBOURS[:4], 2)
    with pytest.raises(ValueError, match="flag_rule must be one of"):
        combine_flags(CL_FLAGS, CL_SCORES, CL_FLAGS, CL_SCORES, rule="majority")
