"""Parity with cleanlab 2.9 on fixed data sets: every filter, option, score and estimate."""

from __future__ import annotations

import numpy as np
import pytest

from labelaudit.cl import count, filter, rank
from tests.cl._oracle import FILTERS, SCORES, cl_find, cleanlab, noisy_data, quiet, tied_data

DATASETS = {
    "f32-k10": lambda: noisy_data(3000, 10, dtype=np.float32, seed=1),
    "f64-k4": lambda: noisy_data(2000, 4, dtype=np.float64, seed=2),
    "f32-k3-weak": lambda: noisy_data(2000, 3, signal=0.5, dtype=np.float32, seed=3),
    "f64-k30": lambda: noisy_data(3000, 30, signal=4.0, dtype=np.float64, seed=4),
    "tied-k5": lambda: tied_data(2000, 5, steps=10, seed=5),
    "tied-f32-k3": lambda: tied_data(1500, 3, steps=4, dtype=np.float32, seed=6),
}


@pytest.fixture(params=sorted(DATASETS), scope="module")
def data(request):
    return DATASETS[request.param]()


@pytest.mark.parametrize("filter_by", FILTERS)
def test_find_label_issues_matches_stable_cleanlab(data, filter_by):
    labels, probs = data
    ours = quiet(filter.find_label_issues, labels, probs, filter_by=filter_by)
    np.testing.assert_array_equal(ours, cl_find(labels, probs, filter_by=filter_by))


@pytest.mark.parametrize("filter_by", FILTERS)
def test_continuous_data_matches_unpatched_cleanlab(filter_by):
    labels, probs = noisy_data(4000, 8, seed=11)
    ours = quiet(filter.find_label_issues, labels, probs, filter_by=filter_by)
    np.testing.assert_array_equal(ours, cl_find(labels, probs, filter_by=filter_by, stable=False))


@pytest.mark.parametrize("filter_by", ("prune_by_noise_rate", "prune_by_class", "both"))
@pytest.mark.parametrize("frac_noise", (0.3, 0.75))
def test_frac_noise(data, filter_by, frac_noise):
    labels, probs = data
    ours = quiet(filter.find_label_issues, labels, probs, filter_by=filter_by, frac_noise=frac_noise)
    np.testing.assert_array_equal(ours, cl_find(labels, probs, filter_by=filter_by, frac_noise=frac_noise))


@pytest.mark.parametrize("filter_by", ("prune_by_noise_rate", "prune_by_class", "both"))
def test_num_to_remove_per_class(data, filter_by):
    labels, probs = data
    k = probs.shape[1]
    remove = [int(i % 4) + 1 for i in range(k)]
    ours = quiet(filter.find_label_issues, labels, probs, filter_by=filter_by, num_to_remove_per_class=remove)
    theirs = cl_find(labels, probs, filter_by=filter_by, num_to_remove_per_class=remove)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("filter_by", ("prune_by_noise_rate", "prune_by_class", "both"))
@pytest.mark.parametrize("min_examples", (0, 5, 150, 10_000))
def test_min_examples_per_class(data, filter_by, min_examples):
    labels, probs = data
    ours = quiet(filter.find_label_issues, labels, probs, filter_by=filter_by, min_examples_per_class=min_examples)
    theirs = cl_find(labels, probs, filter_by=filter_by, min_examples_per_class=min_examples)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("rank_by", SCORES)
@pytest.mark.parametrize("filter_by", ("prune_by_noise_rate", "confident_learning", "low_self_confidence"))
def test_ranked_indices(data, rank_by, filter_by):
    labels, probs = data
    ours = quiet(filter.find_label_issues, labels, probs, filter_by=filter_by, return_indices_ranked_by=rank_by)
    theirs = cl_find(labels, probs, filter_by=filter_by, return_indices_ranked_by=rank_by)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("rank_by", ("self_confidence", "normalized_margin"))
def test_ranked_indices_with_adjusted_scores(data, rank_by):
    labels, probs = data
    kwargs = {"return_indices_ranked_by": rank_by, "rank_by_kwargs": {"adjust_pred_probs": True}}
    ours = quiet(filter.find_label_issues, labels, probs, **kwargs)
    np.testing.assert_array_equal(ours, cl_find(labels, probs, **kwargs))


def test_given_confident_joint_is_used(data):
    labels, probs = data
    joint = quiet(cleanlab.count.compute_confident_joint, labels, probs, calibrate=False)
    ours = quiet(filter.find_label_issues, labels, probs, confident_joint=joint)
    np.testing.assert_array_equal(ours, cl_find(labels, probs, confident_joint=joint))


@pytest.mark.parametrize("method", SCORES)
@pytest.mark.parametrize("adjust", (False, True))
def test_label_quality_scores(data, method, adjust):
    labels, probs = data
    if adjust and method == "confidence_weighted_entropy":
        with pytest.raises(ValueError, match="adjust_pred_probs"):
            rank.get_label_quality_scores(labels, probs, method=method, adjust_pred_probs=adjust)
        return
    ours = rank.get_label_quality_scores(labels, probs, method=method, adjust_pred_probs=adjust)
    theirs = quiet(cleanlab.rank.get_label_quality_scores, labels, probs, method=method, adjust_pred_probs=adjust)
    assert ours.dtype == theirs.dtype
    if method == "confidence_weighted_entropy":
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    else:
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize(
    "name",
    (
        "get_self_confidence_for_each_label",
        "get_normalized_margin_for_each_label",
        "get_confidence_weighted_entropy_for_each_label",
    ),
)
def test_per_label_score_functions(data, name):
    labels, probs = data
    np.testing.assert_allclose(
        getattr(rank, name)(labels, probs), getattr(cleanlab.rank, name)(labels, probs), rtol=1e-12, atol=0
    )


@pytest.mark.parametrize("calibrate", (False, True))
def test_confident_joint_and_off_diagonals(data, calibrate):
    labels, probs = data
    ours, ours_idx = count.compute_confident_joint(
        labels, probs, calibrate=calibrate, return_indices_of_off_diagonals=True
    )
    theirs, theirs_idx = quiet(
        cleanlab.count.compute_confident_joint,
        labels,
        probs,
        calibrate=calibrate,
        return_indices_of_off_diagonals=True,
    )
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours_idx, theirs_idx)


def test_thresholds_bitwise(data):
    labels, probs = data
    ours, theirs = count.get_confident_thresholds(labels, probs), cleanlab.count.get_confident_thresholds(labels, probs)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_estimates(data):
    labels, probs = data
    np.testing.assert_array_equal(
        count.estimate_joint(labels, probs), quiet(cleanlab.count.estimate_joint, labels, probs)
    )
    joint = count.compute_confident_joint(labels, probs)
    for converge in (False, True):
        for py_method in ("cnt", "eqn", "marginal", "marginal_ps"):
            ours = count.estimate_latent(joint, labels, py_method=py_method, converge_latent_estimates=converge)
            theirs = quiet(
                cleanlab.count.estimate_latent, joint, labels, py_method=py_method, converge_latent_estimates=converge
            )
            for a, b in zip(ours, theirs, strict=True):
                np.testing.assert_array_equal(a, b)
    ours = count.estimate_py_and_noise_matrices_from_probabilities(labels, probs)
    theirs = quiet(cleanlab.count.estimate_py_and_noise_matrices_from_probabilities, labels, probs)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_calibrate_and_joint_from_given_confident_joint(data):
    labels, probs = data
    raw = count.compute_confident_joint(labels, probs, calibrate=False)
    np.testing.assert_array_equal(
        count.calibrate_confident_joint(raw, labels), cleanlab.count.calibrate_confident_joint(raw, labels)
    )
    np.testing.assert_array_equal(
        count.estimate_joint(labels, probs, confident_joint=raw),
        cleanlab.count.estimate_joint(labels, probs, confident_joint=raw),
    )


@pytest.mark.parametrize("method", ("off_diagonal", "off_diagonal_calibrated"))
def test_num_label_issues(data, method):
    labels, probs = data
    ours = count.num_label_issues(labels, probs, estimation_method=method)
    assert ours == quiet(cleanlab.count.num_label_issues, labels, probs, estimation_method=method)


def test_num_label_issues_custom(data):
    labels, probs = data
    joint = count.compute_confident_joint(labels, probs)
    ours = count.num_label_issues(labels, probs, confident_joint=joint, estimation_method="off_diagonal_custom")
    theirs = quiet(
        cleanlab.count.num_label_issues, labels, probs, confident_joint=joint, estimation_method="off_diagonal_custom"
    )
    assert ours == theirs


@pytest.mark.parametrize("filter_by", ("prune_by_noise_rate", "both", "confident_learning"))
def test_summary_shares_the_same_answers(data, filter_by):
    labels, probs = data
    summary = quiet(filter.confident_learning_summary, labels, probs, filter_by=filter_by)
    np.testing.assert_array_equal(
        summary.issue_mask, quiet(filter.find_label_issues, labels, probs, filter_by=filter_by)
    )
    np.testing.assert_array_equal(summary.label_quality, rank.get_label_quality_scores(labels, probs))
    np.testing.assert_array_equal(summary.suggested_label, probs.argmax(axis=1))
    np.testing.assert_array_equal(summary.confident_joint, count.compute_confident_joint(labels, probs))
    np.testing.assert_array_equal(summary.joint, count.estimate_joint(labels, probs))
    py, noise, inverse = count.estimate_latent(summary.confident_joint, labels)
    np.testing.assert_array_equal(summary.py, py)
    np.testing.assert_array_equal(summary.noise_matrix, noise)
    np.testing.assert_array_equal(summary.inverse_noise_matrix, inverse)
    assert summary.num_issues == summary.issue_mask.sum()
    assert "lowest row" in summary.tie_rule
