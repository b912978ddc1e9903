"""Property tests against cleanlab 2.9 (with its selection sorts made stable = our tie rule) over edge cases."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from labelaudit.cl import count, filter, rank
from tests.cl._oracle import FILTERS, SCORES, cl_find, cleanlab, quiet

LABEL_MODES = ("random", "argmax", "subset", "one_per_class", "mostly_argmax")
PROB_MODES = ("dirichlet", "tied", "onehot", "identical_rows")


def _probabilities(rng, n, k, mode, concentration):
    if mode == "dirichlet":
        return rng.dirichlet(np.full(k, concentration), size=n)
    if mode == "tied":
        return rng.multinomial(4, rng.dirichlet(np.full(k, concentration), size=n)) / 4
    if mode == "onehot":
        return np.eye(k)[rng.integers(0, k, n)]
    row = rng.dirichlet(np.full(k, concentration))
    probs = rng.dirichlet(np.full(k, concentration), size=n)
    probs[rng.random(n) < 0.7] = row
    return probs


def _labels(rng, probs, mode):
    n, k = probs.shape
    if mode == "argmax":
        return probs.argmax(axis=1)
    if mode == "subset":
        return rng.choice(rng.choice(k, size=max(2, k // 3), replace=False), size=n)
    if mode == "one_per_class":
        return rng.permutation(np.arange(n) % k)
    if mode == "mostly_argmax":
        labels = probs.argmax(axis=1)
        flip = rng.random(n) < 0.2
        labels[flip] = rng.integers(0, k, flip.sum())
        return labels
    return rng.integers(0, k, n)


SMALL_K = st.sampled_from([2, 3, 7, 20])
SMALL_N = st.integers(1, 250)


@st.composite
def problems(draw, classes=SMALL_K, rows=SMALL_N):
    k = draw(classes)
    label_mode = draw(st.sampled_from(LABEL_MODES))
    n = k * draw(st.integers(1, 3)) if label_mode == "one_per_class" else draw(rows)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    probs = _probabilities(rng, n, k, draw(st.sampled_from(PROB_MODES)), draw(st.sampled_from([0.1, 1.0, 10.0])))
    if draw(st.booleans()) and k > 2:  # a class the model never predicts
        never = rng.integers(0, k)
        probs[:, never] = 0
        empty = probs.sum(axis=1) == 0
        probs[empty, (never + 1) % k] = 1
        probs /= probs.sum(axis=1, keepdims=True)
    labels = _labels(rng, probs, label_mode)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    assume(len(np.unique(labels)) >= 2)  # cleanlab refuses a single given class
    return labels, probs.astype(dtype)


EXAMPLES = int(os.environ.get("LABELAUDIT_HYPOTHESIS_EXAMPLES", "60"))  # raise for a deeper search
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(problems(), st.sampled_from(FILTERS))
def test_masks_equal_cleanlab(problem, filter_by):
    labels, probs = problem
    np.testing.assert_array_equal(
        quiet(filter.find_label_issues, labels, probs, filter_by=filter_by),
        cl_find(labels, probs, filter_by=filter_by),
    )


@SETTINGS
@given(
    problems(),
    st.sampled_from(("prune_by_noise_rate", "prune_by_class", "both")),
    st.sampled_from([0.5, 1.0]),
    st.integers(0, 4),
)
def test_pruning_options_equal_cleanlab(problem, filter_by, frac_noise, min_examples):
    labels, probs = problem
    kwargs = {"filter_by": filter_by, "frac_noise": frac_noise, "min_examples_per_class": min_examples}
    np.testing.assert_array_equal(
        quiet(filter.find_label_issues, labels, probs, **kwargs), cl_find(labels, probs, **kwargs)
    )


@SETTINGS
@given(problems(), st.sampled_from(SCORES), st.booleans())
def test_scores_and_ranking_equal_cleanlab(problem, method, adjust):
    labels, probs = problem
    adjust = adjust and method != "confidence_weighted_entropy"
    ours = rank.get_label_quality_scores(labels, probs, method=method, adjust_pred_probs=adjust)
    theirs = quiet(cleanlab.rank.get_label_quality_scores, labels, probs, method=method, adjust_pred_probs=adjust)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    kwargs = {"return_indices_ranked_by": method, "rank_by_kwargs": {"adjust_pred_probs": adjust}}
    if method != "confidence_weighted_entropy":  # its scores may differ in the last bit, so may its order
        np.testing.assert_array_equal(
            quiet(filter.find_label_issues, labels, probs, **kwargs), cl_find(labels, probs, **kwargs)
        )


@SETTINGS
@given(problems())
def test_counts_and_estimates_equal_cleanlab(problem):
    labels, probs = problem
    for calibrate in (False, True):
        np.testing.assert_array_equal(
            count.compute_confident_joint(labels, probs, calibrate=calibrate),
            quiet(cleanlab.count.compute_confident_joint, labels, probs, calibrate=calibrate),
        )
    for method in ("off_diagonal", "off_diagonal_calibrated"):
        assert count.num_label_issues(labels, probs, estimation_method=method) == quiet(
            cleanlab.count.num_label_issues, labels, probs, estimation_method=method
        )
    np.testing.assert_array_equal(
        count.estimate_joint(labels, probs), quiet(cleanlab.count.estimate_joint, labels, probs)
    )
    joint = count.compute_confident_joint(labels, probs)
    for a, b in zip(
        count.estimate_latent(joint, labels, converge_latent_estimates=True),
        quiet(cleanlab.count.estimate_latent, joint, labels, converge_latent_estimates=True),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=max(6, EXAMPLES // 10), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    problems(classes=st.just(1000), rows=st.integers(1000, 2500)),
    st.sampled_from(("prune_by_noise_rate", "both", "confident_learning", "low_normalized_margin")),
)
def test_thousand_classes(problem, filter_by):
    labels, probs = problem
    np.testing.assert_array_equal(
        quiet(filter.find_label_issues, labels, probs, filter_by=filter_by),
        cl_find(labels, probs, filter_by=filter_by),
    )
    np.testing.assert_array_equal(
        count.compute_confident_joint(labels, probs), quiet(cleanlab.count.compute_confident_joint, labels, probs)
    )
