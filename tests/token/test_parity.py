"""Parity of labelaudit.cl.token_classification with cleanlab 2.9 on generated sentences."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from labelaudit.cl import token_classification as tc
from tests.token._data import cl_filter, cl_rank, cl_summary, oracle, token_data

DATASETS = {
    "f64-k5": lambda: token_data(250, 5, seed=1),
    "f32-k9": lambda: token_data(300, 9, dtype=np.float32, seed=2),
    "tied-k4": lambda: token_data(250, 4, tied=True, seed=3),
    "short-k3": lambda: token_data(400, 3, max_length=2, signal=1.0, noise=0.2, seed=4),
}
FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)
METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")


@pytest.fixture(params=sorted(DATASETS), scope="module")
def data(request):
    return DATASETS[request.param]()


def quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@pytest.mark.parametrize("filter_by", FILTERS)
def test_issues_match_cleanlab(data, filter_by):
    labels, probs, _ = data
    ours = quiet(tc.find_label_issues, labels, probs, filter_by=filter_by)
    assert ours == oracle(cl_filter.find_label_issues, labels, probs, filter_by=filter_by, n_jobs=1)


@pytest.mark.parametrize("rank_by", METHODS)
def test_ranked_issues_match_cleanlab(data, rank_by):
    labels, probs, _ = data
    ours = quiet(tc.find_label_issues, labels, probs, return_indices_ranked_by=rank_by)
    assert ours == oracle(cl_filter.find_label_issues, labels, probs, return_indices_ranked_by=rank_by, n_jobs=1)


def test_unranked_issues_are_the_same_tokens_in_reading_order(data):
    labels, probs, _ = data
    ours = quiet(tc.find_label_issues, labels, probs, return_indices_ranked_by=None)
    assert ours == sorted(oracle(cl_filter.find_label_issues, labels, probs, n_jobs=1))


SENTENCE_OPTIONS = (
    ("min", {}),
    ("softmin", {}),
    ("softmin", {"temperature": 0.5}),
    ("softmin", {"temperature": 0}),
    ("softmin", {"temperature": np.inf}),
)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("option", range(len(SENTENCE_OPTIONS)))
def test_scores_match_cleanlab(data, method, option):
    labels, probs, tokens = data
    sentence_method, kwargs = SENTENCE_OPTIONS[option]
    options = {
        "token_score_method": method,
        "sentence_score_method": sentence_method,
        "sentence_score_kwargs": kwargs,
        "tokens": tokens,
    }
    ours, our_tokens = tc.get_label_quality_scores(labels, probs, **options)
    theirs, their_tokens = oracle(cl_rank.get_label_quality_scores, labels, probs, **options)
    tolerance = 1e-9 if probs[0].dtype == np.float64 else 1e-6  # softmin sums in the input dtype
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=tolerance)
    if sentence_method == "min":
        np.testing.assert_array_equal(ours, theirs)
        for mine, cl in zip(our_tokens, their_tokens, strict=True):
            pd.testing.assert_series_equal(mine, cl)


def test_issues_from_scores_match_cleanlab(data):
    labels, probs, _ = data
    sentence_scores, token_scores = tc.get_label_quality_scores(labels, probs)
    np.testing.assert_array_equal(
        tc.issues_from_scores(sentence_scores, threshold=0.3),
        oracle(cl_rank.issues_from_scores, sentence_scores, threshold=0.3),
    )
    assert tc.issues_from_scores(sentence_scores, token_scores=token_scores, threshold=0.2) == oracle(
        cl_rank.issues_from_scores, sentence_scores, token_scores=token_scores, threshold=0.2
    )


@pytest.mark.parametrize("with_probs", (True, False))
@pytest.mark.parametrize("names", (None, list("ABCDEFGHI")))
def test_common_label_issues_match_cleanlab(data, with_probs, names):
    labels, probs, tokens = data
    issues = quiet(tc.find_label_issues, labels, probs)
    class_names = None if names is None else names[: probs[0].shape[1]]
    kwargs = {"labels": labels, "pred_probs": probs, "class_names": class_names, "exclude": [(0, 1)]}
    if not with_probs:
        kwargs = {}
    ours = tc.common_label_issues(issues, tokens, **kwargs)
    pd.testing.assert_frame_equal(ours, oracle(cl_summary.common_label_issues, issues, tokens, **kwargs))


def test_filter_by_token_matches_cleanlab(data):
    labels, probs, tokens = data
    issues = quiet(tc.find_label_issues, labels, probs)
    assert tc.filter_by_token("W3", issues, tokens) == cl_summary.filter_by_token("W3", issues, tokens)
