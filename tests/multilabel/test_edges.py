"""Edge cases, hand-checked values and input errors of the multi-label scorer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from labelaudit.cl import multilabel_classification as ml
from labelaudit.cl._engine.validation import InvalidLabelsError, InvalidPredProbsError
from tests.multilabel._data import cl_filter, multilabel_data, oracle


def test_cleanlab_docstring_example():
    labels = [[1], [0, 2]]
    probs = np.array([[0.1, 0.9, 0.1], [0.4, 0.1, 0.9]])
    np.testing.assert_allclose(ml.get_label_quality_scores(labels, probs), [0.9, 0.5])


def test_ema_and_softmin_by_hand():
    scores = np.array([[0.9, 0.9, 0.3], [0.4, 0.9, 0.6]])
    np.testing.assert_allclose(ml.exponential_moving_average(scores, alpha=0.8), [0.42, 0.452])
    np.testing.assert_allclose(ml.exponential_moving_average(scores, alpha=0.5), [0.6, 0.575])
    weights = np.exp((1 - scores) / 0.1)
    np.testing.assert_allclose(ml.softmin(scores), (scores * weights).sum(1) / weights.sum(1))
    with pytest.raises(ValueError, match="alpha"):
        ml.exponential_moving_average(scores, alpha=1.5)


def test_min_aggregator_is_the_worst_class():
    labels, probs = multilabel_data(50, 3, seed=9)
    worst = ml.get_label_quality_scores_per_class(labels, probs).min(axis=1)
    np.testing.assert_array_equal(
        ml.get_label_quality_scores(labels, probs, aggregator_kwargs={"method": "min"}), worst
    )


def test_all_labels_agreeing_with_a_confident_model_flag_nothing():
    rng = np.random.default_rng(0)
    truth = rng.random((200, 4)) < 0.4
    probs = np.where(truth, 0.95, 0.05)
    labels = [np.flatnonzero(r).tolist() for r in truth]
    assert not ml.find_label_issues(labels, probs).any()
    audit = ml.audit_multilabel(labels, probs, class_names=list("abcd"))
    assert audit.cells.empty and (audit.per_class["issues"] == 0).all()
    assert ml.overall_multilabel_health_score(labels, probs) == 1.0


def test_a_class_never_given_still_finds_it_missing():
    labels, probs = multilabel_data(300, 4, absent=1, seed=3)
    with pytest.warns(UserWarning, match=r"classes \[1\]"):
        audit = ml.audit_multilabel(labels, probs)
    np.testing.assert_array_equal(audit.issue_mask, oracle(cl_filter.find_label_issues, labels, probs, n_jobs=1))
    assert set(audit.cells.loc[audit.cells["class_index"] == 1, "kind"]) <= {"missing"}


def test_rows_with_no_labels_and_a_single_class():
    probs = np.array([[0.9], [0.1], [0.8], [0.2], [0.95], [0.05]])
    labels = [[0], [], [0], [], [], [0]]
    ours = ml.find_label_issues(labels, probs)
    np.testing.assert_array_equal(ours, [False, False, False, False, True, True])


def test_audit_cells_say_missing_or_extra():
    labels = [[0], [0], [0], [0], [], [], [], [], [0], []]
    probs = np.array([[0.9], [0.8], [0.95], [0.85], [0.1], [0.2], [0.05], [0.15], [0.02], [0.97]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audit = ml.audit_multilabel(labels, probs, class_names=["urgent"])
    assert set(zip(audit.cells["row"], audit.cells["kind"], strict=True)) == {(8, "extra"), (9, "missing")}
    assert audit.per_class.loc[0, ["missing", "extra", "given"]].tolist() == [1, 1, 5]


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        ([[0], [3]], r"in 0\.\.2"),
        ([[0], [-1]], r"in 0\.\.2"),
        ([[0]], "1 rows but pred_probs has 2"),
        ([[0], ["a"]], "integer class indices"),
        ([[0], [1.5]], "integer class indices"),
        ([0, 1], "list of lists of class indices"),
        (np.array([[1, 0, 0], [0, 1, 0]]), "not an indicator matrix"),
    ],
)
def test_bad_labels_are_named(labels, match):
    probs = np.full((2, 3), 0.5)
    with pytest.raises(InvalidLabelsError, match=match):
        ml.find_label_issues(labels, probs)


def test_bad_labels_error_names_the_row():
    with pytest.raises(InvalidLabelsError) as info:
        ml.get_label_quality_scores([[0], [1], [0, 7]], np.full((3, 3), 0.5))
    assert info.value.rows == [2]


@pytest.mark.parametrize(
    ("probs", "match"),
    [
        (np.array([[0.5, np.nan], [0.5, 0.5]]), "finite and within"),
        (np.array([[0.5, 1.2], [0.5, 0.5]]), "finite and within"),
        (np.array([0.5, 0.5]), r"shape \(N, K\)"),
        (np.array([["a", "b"], ["c", "d"]]), "numeric"),
    ],
)
def test_bad_probabilities_are_named(probs, match):
    with pytest.raises(InvalidPredProbsError, match=match):
        ml.find_label_issues([[0], [1]], probs)


def test_bad_options():
    labels, probs = multilabel_data(40, 3, seed=1)
    with pytest.raises(ValueError, match="method must be one of"):
        ml.get_label_quality_scores(labels, probs, method="nope")
    with pytest.raises(ValueError, match="Invalid aggregation method"):
        ml.get_label_quality_scores(labels, probs, aggregator_kwargs={"method": "median"})
    with pytest.raises(ValueError, match="not currently supported"):
        ml.get_label_quality_scores(labels, probs, method="confidence_weighted_entropy", adjust_pred_probs=True)
    with pytest.raises(ValueError, match="unsupported rank_by_kwargs"):
        ml.find_label_issues(labels, probs, return_indices_ranked_by="self_confidence", rank_by_kwargs={"x": 1})
    with pytest.raises(ValueError, match="return_indices_ranked_by must be None or one of"):
        ml.find_label_issues(labels, probs, return_indices_ranked_by="margin")
    with pytest.raises(ValueError, match="filter_by must be one of"):
        ml.find_label_issues(labels, probs, filter_by="nope")
