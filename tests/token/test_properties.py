"""Property tests against cleanlab 2.9 on small random sets of sentences."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from labelaudit.cl import token_classification as tc
from tests.token._data import cl_filter, cl_rank, oracle, token_data

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    labels, probs, tokens = token_data(
        draw(st.integers(1, 25)),
        draw(st.integers(2, 5)),
        max_length=draw(st.integers(1, 6)),
        signal=draw(st.sampled_from([0.5, 3.0])),
        noise=draw(st.sampled_from([0.0, 0.2, 0.5])),
        tied=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    return labels, probs, tokens


@SETTINGS
@given(problems(), st.sampled_from(["prune_by_noise_rate", "confident_learning", "predicted_neq_given"]))
def test_issues_equal_cleanlab(problem, filter_by):
    labels, probs, _ = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = tc.find_label_issues(labels, probs, filter_by=filter_by)
    assume(len({k for row in labels for k in row}) > 1)  # cleanlab refuses a single given class; we do not
    assert ours == oracle(cl_filter.find_label_issues, labels, probs, filter_by=filter_by, n_jobs=1)
    assert all(0 <= j < len(labels[i]) for i, j in ours)


@SETTINGS
@given(problems(), st.sampled_from(["min", "softmin"]))
def test_sentence_scores_equal_cleanlab_and_bound_by_tokens(problem, method):
    labels, probs, _ = problem
    ours, tokens = tc.get_label_quality_scores(labels, probs, sentence_score_method=method)
    theirs, _ = oracle(cl_rank.get_label_quality_scores, labels, probs, sentence_score_method=method)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    lowest = np.array([t.min() for t in tokens])
    highest = np.array([t.max() for t in tokens])
    assert ((ours >= lowest - 1e-12) & (ours <= highest + 1e-12)).all()


@SETTINGS
@given(problems())
def test_audit_is_consistent(problem):
    labels, probs, tokens = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audit = tc.audit_tokens(labels, probs, tokens=tokens)
        issues = tc.find_label_issues(labels, probs)
    assert audit.issues == issues
    assert audit.token_issue_mask.sum() == len(issues) == audit.per_class["issues"].sum()
    assert set(np.flatnonzero(audit.sentence_has_issue)) == {i for i, _ in issues}
