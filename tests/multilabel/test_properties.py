"""Property tests against cleanlab 2.9 on small random multi-label problems (ties, rare and absent classes)."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelaudit.cl import multilabel_classification as ml
from tests.multilabel._data import cl_filter, cl_rank, oracle


@st.composite
def problems(draw):
    n, k = draw(st.integers(4, 40)), draw(st.integers(2, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    probs = rng.random((n, k))
    if draw(st.booleans()):
        probs = np.round(probs, 1)  # exact ties, exact 0 and 1
    given = rng.random((n, k)) < draw(st.sampled_from([0.1, 0.4, 0.7]))
    if draw(st.booleans()):
        given = given ^ (probs > 0.5)  # labels correlated with the model
    given[0], given[1] = True, False  # cleanlab refuses a class given in every row (or in none, for some filters)
    return [np.flatnonzero(row).tolist() for row in given], probs


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(problems(), st.sampled_from(["prune_by_noise_rate", "prune_by_class", "both", "confident_learning"]))
def test_mask_equals_cleanlab(problem, filter_by):
    labels, probs = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = ml.find_label_issues(labels, probs, filter_by=filter_by)
    np.testing.assert_array_equal(
        ours, oracle(cl_filter.find_label_issues, labels, probs, filter_by=filter_by, n_jobs=1)
    )


@SETTINGS
@given(
    problems(),
    st.sampled_from(["self_confidence", "normalized_margin", "confidence_weighted_entropy"]),
    st.sampled_from([{}, {"method": "softmin"}, {"method": "exponential_moving_average", "alpha": 0.5}]),
)
def test_scores_equal_cleanlab_and_stay_in_unit_interval(problem, method, aggregator):
    labels, probs = problem
    ours = ml.get_label_quality_scores(labels, probs, method=method, aggregator_kwargs=aggregator)
    theirs = oracle(cl_rank.get_label_quality_scores, labels, probs, method=method, aggregator_kwargs=aggregator)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    assert ((ours >= -1e-12) & (ours <= 1 + 1e-12)).all()


@SETTINGS
@given(problems())
def test_row_flagged_iff_some_class_flagged(problem):
    labels, probs = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per_class = ml.find_multilabel_issues_per_class(labels, probs)
        audit = ml.audit_multilabel(labels, probs)
        flagged = ml.find_label_issues(labels, probs)
    np.testing.assert_array_equal(per_class.any(axis=1), flagged)
    np.testing.assert_array_equal(audit.per_class_mask, per_class)
    assert len(audit.cells) == per_class.sum()
    assert audit.per_class["issues"].sum() == per_class.sum()
