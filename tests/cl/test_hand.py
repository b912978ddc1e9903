"""Tiny cases computed by hand, and the tie rule on purpose-built ties."""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.cl import count, filter, rank
from labelaudit.cl._engine import kernels

LABELS = np.array([0, 0, 1, 1, 2, 2])
PROBS = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.2, 0.7, 0.1],  # labelled 0, confidently 1: the one label error
        [0.1, 0.8, 0.1],
        [0.1, 0.6, 0.3],  # below every threshold: not counted
        [0.1, 0.1, 0.8],
        [0.3, 0.1, 0.6],  # below every threshold: not counted
    ]
)


def test_thresholds_are_class_means_of_self_confidence():
    np.testing.assert_allclose(count.get_confident_thresholds(LABELS, PROBS), [0.5, 0.7, 0.7])


def test_confident_joint_by_hand():
    joint, off = count.compute_confident_joint(LABELS, PROBS, calibrate=False, return_indices_of_off_diagonals=True)
    np.testing.assert_array_equal(joint, [[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(off, [1])
    # calibrated: each row rescaled to its label count (2), total 6
    np.testing.assert_array_equal(count.compute_confident_joint(LABELS, PROBS), [[1, 1, 0], [0, 2, 0], [0, 0, 2]])


@pytest.mark.parametrize("filter_by", ["prune_by_noise_rate", "prune_by_class", "both", "confident_learning"])
def test_the_label_error_is_found(filter_by):
    np.testing.assert_array_equal(filter.find_label_issues(LABELS, PROBS, filter_by=filter_by), [0, 1, 0, 0, 0, 0])


def test_predicted_neq_given_by_hand():
    np.testing.assert_array_equal(
        filter.find_label_issues(LABELS, PROBS, filter_by="predicted_neq_given"), [0, 1, 0, 0, 0, 0]
    )


def test_scores_by_hand():
    np.testing.assert_allclose(rank.get_label_quality_scores(LABELS, PROBS), [0.8, 0.2, 0.8, 0.6, 0.8, 0.6])
    margin = rank.get_label_quality_scores(LABELS, PROBS, method="normalized_margin")
    np.testing.assert_allclose(margin, [0.85, 0.25, 0.85, 0.65, 0.85, 0.65])


def test_num_label_issues_by_hand():
    assert count.num_label_issues(LABELS, PROBS) == 1
    assert count.num_label_issues(LABELS, PROBS, estimation_method="off_diagonal_calibrated") == 1


def test_latent_estimates_by_hand():
    py, noise, inverse = count.estimate_latent(count.compute_confident_joint(LABELS, PROBS), LABELS)
    # true class 1 holds 3 of the 6 confident rows; 1 of them was given label 0
    np.testing.assert_allclose(noise[:, 1], [1 / 3, 2 / 3, 0])
    np.testing.assert_allclose(inverse[:, 0], [0.5, 0.5, 0])
    np.testing.assert_allclose(py.sum(), 1)


@pytest.mark.parametrize(
    ("values", "count", "largest", "smallest"),
    [
        ([0.5, 0.9, 0.5, 0.5, 0.1], 2, [0, 1], [0, 4]),
        ([0.5, 0.5, 0.5], 2, [0, 1], [0, 1]),
        ([0.0, -0.0, 1.0], 2, [0, 2], [0, 1]),
        ([0.3, 0.1], 5, [0, 1], [0, 1]),
        ([0.3, 0.1], 0, [], []),
    ],
)
def test_tie_rule_lowest_rows_first(values, count, largest, smallest):
    values = np.array(values)
    np.testing.assert_array_equal(kernels.largest(values, count), largest)
    np.testing.assert_array_equal(kernels.smallest(values, count), smallest)


def test_tie_rule_end_to_end_on_identical_rows():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    probs = np.array([[0.9, 0.1]] + [[0.3, 0.7]] * 3 + [[0.2, 0.8]] * 4)
    with np.errstate(all="ignore"):  # class 1 has no noise counts: cleanlab's formula divides 0 by 0 there too
        mask = filter.find_label_issues(labels, probs, filter_by="prune_by_class", num_to_remove_per_class=[2, 1])
    np.testing.assert_array_equal(mask, [0, 1, 1, 0, 0, 0, 0, 0])  # rows 1-3 tie: the two lowest are taken


def test_ranked_ties_keep_row_order():
    labels = np.array([0, 0, 0, 1, 1])
    probs = np.array([[0.2, 0.8]] * 3 + [[0.1, 0.9]] * 2)
    ranked = filter.find_label_issues(
        labels, probs, filter_by="predicted_neq_given", return_indices_ranked_by="self_confidence"
    )
    np.testing.assert_array_equal(ranked, [0, 1, 2])


def test_unknown_options_are_rejected():
    with pytest.raises(ValueError, match="filter_by"):
        filter.find_label_issues(LABELS, PROBS, filter_by="nope")
    with pytest.raises(ValueError, match="method"):
        rank.get_label_quality_scores(LABELS, PROBS, method="nope")
    with pytest.raises(ValueError, match="estimation_method"):
        count.num_label_issues(LABELS, PROBS, estimation_method="nope")
    with pytest.raises(ValueError, match="num_to_remove_per_class"), pytest.warns(UserWarning):
        filter.find_label_issues(LABELS, PROBS, filter_by="confident_learning", num_to_remove_per_class=[1, 1, 1])
    with pytest.raises(TypeError, match="must be list when `multi_label=True`"):
        filter.find_label_issues(LABELS, PROBS, multi_label=True)  # cleanlab's check: lists of class lists


def test_summary_is_frozen():
    summary = filter.confident_learning_summary(LABELS, PROBS)
    with pytest.raises(AttributeError):
        summary.num_issues = 3
    assert summary.num_issues == 1 and summary.suggested_label.tolist() == [0, 1, 1, 1, 2, 2]


def test_given_thresholds_are_used_and_checked():
    joint = count.compute_confident_joint(LABELS, PROBS, thresholds=[0.15, 0.15, 0.15], calibrate=False)
    # every row passes two or more thresholds, so each goes to its argmax
    np.testing.assert_array_equal(joint, [[1, 1, 0], [0, 2, 0], [0, 0, 2]])
    with pytest.raises(ValueError, match="3 values"):
        count.compute_confident_joint(LABELS, PROBS, thresholds=[0.5, 0.5])
