"""Edge cases, hand-checked values and input errors of the token scorer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from labelaudit.cl import token_classification as tc
from labelaudit.cl._engine.validation import InvalidLabelsError, InvalidPredProbsError
from labelaudit.inputs.label_formats import InvalidTokenDataError
from tests.token._data import cl_filter, cl_rank, oracle, token_data


def _probs(rows):
    return np.array(rows, dtype=np.float64)


def test_one_sentence():
    labels = [[0, 1, 1, 0, 1]]
    probs = [_probs([[0.9, 0.1], [0.2, 0.8], [0.95, 0.05], [0.7, 0.3], [0.1, 0.9]])]
    ours = tc.find_label_issues(labels, probs)
    assert ours == oracle(cl_filter.find_label_issues, labels, probs, n_jobs=1) == [(0, 2)]
    sentence, token_scores = tc.get_label_quality_scores(labels, probs)
    np.testing.assert_array_equal(sentence, [0.05])
    np.testing.assert_array_equal(token_scores[0].to_numpy(), [0.9, 0.8, 0.05, 0.7, 0.9])


def test_one_token_sentences():
    labels, probs, _ = token_data(200, 3, max_length=1, seed=7)
    assert all(len(p) == 1 for p in probs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = tc.find_label_issues(labels, probs)
    assert ours == oracle(cl_filter.find_label_issues, labels, probs, n_jobs=1)
    assert all(j == 0 for _, j in ours)
    for method in ("min", "softmin"):  # a one-token sentence scores as its token
        sentence, tokens = tc.get_label_quality_scores(labels, probs, sentence_score_method=method)
        np.testing.assert_allclose(sentence, [t.iloc[0] for t in tokens], rtol=0, atol=1e-12)


def test_all_labels_correct_flags_nothing():
    labels, probs, tokens = token_data(100, 4, noise=0.0, signal=8.0, seed=5)
    assert tc.find_label_issues(labels, probs) == []
    audit = tc.audit_tokens(labels, probs, tokens=tokens)
    assert audit.issues == [] and not audit.sentence_has_issue.any() and audit.issue_tokens.empty
    assert audit.confusions.empty and (audit.per_class["issues"] == 0).all()


def test_a_class_never_given():
    labels, probs, _ = token_data(300, 5, seed=8)
    labels = [[4 if k == 2 else k for k in row] for row in labels]  # class 2 is predicted but never given
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = tc.find_label_issues(labels, probs)
        audit = tc.audit_tokens(labels, probs, class_names=list("ABCDE"))
    assert ours == oracle(cl_filter.find_label_issues, labels, probs, n_jobs=1)
    assert audit.issues == ours
    c_row = audit.per_class.set_index("class_name").loc["C"]
    assert c_row["tokens"] == 0 and c_row["issues"] == 0
    assert "C" in set(audit.issue_tokens["predicted"])


def test_softmin_by_hand():
    labels = [[0, 0, 1]]
    probs = [_probs([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2]])]
    scores = np.array([0.9, 0.6, 0.2])
    weights = np.exp((1 - scores) / 0.05)
    expected = (scores * weights).sum() / weights.sum()
    sentence, _ = tc.get_label_quality_scores(labels, probs, sentence_score_method="softmin")
    np.testing.assert_allclose(sentence, [expected])
    theirs, _ = oracle(cl_rank.get_label_quality_scores, labels, probs, sentence_score_method="softmin")
    np.testing.assert_allclose(sentence, theirs, rtol=0, atol=1e-12)


def test_audit_matches_the_parts_and_highlights_by_position():
    labels = [[0, 0, 0], [1, 0]]
    probs = [_probs([[0.9, 0.1], [0.95, 0.05], [0.02, 0.98]]), _probs([[0.1, 0.9], [0.9, 0.1]])]
    tokens = [["the", "the", "the"], ["Paris", "is"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audit = tc.audit_tokens(labels, probs, tokens=tokens, class_names=["O", "LOC"])
        assert audit.issues == tc.find_label_issues(labels, probs)
    assert audit.issues == [(0, 2)]
    assert audit.issue_tokens.loc[0, "sentence_text"] == "the the [the]"
    assert audit.issue_tokens.loc[0, ["given", "predicted"]].tolist() == ["O", "LOC"]
    np.testing.assert_array_equal(audit.sentence_has_issue, [True, False])
    np.testing.assert_array_equal(audit.offsets, [0, 3, 5])
    text = tc.display_issues(audit.issues, tokens, labels=labels, pred_probs=probs, class_names=["O", "LOC"])
    assert "Given label: O" in text and "the the [the]" in text
    excluded = tc.display_issues(audit.issues, tokens, labels=labels, pred_probs=probs, exclude=[(0, 1)])
    assert "Sentence index" not in excluded  # only cleanlab's note about class indices is left


@pytest.mark.parametrize(
    ("labels", "probs", "error", "match"),
    [
        ([[0, 1]], [np.full((3, 2), 0.5)], InvalidTokenDataError, "one row per label"),
        ([[0], [1]], [np.full((1, 2), 0.5)], InvalidTokenDataError, "2 sentences but pred_probs has 1"),
        ([[], [1]], [np.empty((0, 2)), np.full((1, 2), 0.5)], InvalidTokenDataError, "no tokens"),
        ([[0], [1]], [np.full((1, 2), 0.5), np.full((1, 3), 1 / 3)], InvalidTokenDataError, "one row per label"),
        ([[0], [2]], [np.full((1, 2), 0.5)] * 2, InvalidLabelsError, r"in 0\.\.1"),
        ([[0], ["B-PER"]], [np.full((1, 2), 0.5)] * 2, InvalidLabelsError, "integer"),
        ([[0], [1]], [np.full((1, 2), 0.5), np.array([[0.9, 0.9]])], InvalidPredProbsError, "sum to 1"),
        ([], [], InvalidTokenDataError, "no sentences"),
    ],
)
def test_bad_inputs_are_named(labels, probs, error, match):
    with pytest.raises(error, match=match):
        tc.find_label_issues(labels, probs)


def test_errors_name_the_sentence():
    with pytest.raises(InvalidLabelsError) as info:
        tc.get_label_quality_scores([[0, 0], [0, 1], [5]], [np.full((2, 2), 0.5)] * 2 + [np.full((1, 2), 0.5)])
    assert info.value.rows == [2]


def test_bad_sentence_method():
    with pytest.raises(ValueError, match="sentence_score_method"):
        tc.get_label_quality_scores([[0]], [np.array([[0.5, 0.5]])], sentence_score_method="mean")
