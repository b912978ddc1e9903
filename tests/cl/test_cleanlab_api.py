"""The rest of cleanlab 2.9's single-label API (issue 16): legacy ``multi_label=True``, baselines, ensembles,
top issues, fitting helpers and the error texts users grep for. Ported from the cases of cleanlab's own
``tests/test_filter_count.py`` and ``tests/test_rank.py``, compared with cleanlab as the oracle."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from labelaudit.cl import count, filter, rank
from labelaudit.cl._engine.validation import CleanlabAssertionError
from tests.cl._oracle import FILTERS, SCORES, cleanlab, noisy_data, quiet, stable_cleanlab, tied_data
from tests.multilabel._data import multilabel_data

ML_FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning")


def _cleanlab_quiet(func, *args, **kwargs):
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def ml_data():
    return multilabel_data(300, 4, seed=7)


# --- multi_label=True: cleanlab's legacy path, routed to the multi-label module ------------------------------


@pytest.mark.parametrize("filter_by", ML_FILTERS)
@pytest.mark.parametrize("rank_by", (None, *SCORES))
def test_find_label_issues_multi_label_matches_cleanlab(ml_data, filter_by, rank_by):
    labels, probs = ml_data
    with pytest.warns(DeprecationWarning, match="multi_label argument"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        ours = filter.find_label_issues(
            labels, probs, multi_label=True, filter_by=filter_by, return_indices_ranked_by=rank_by
        )
    with stable_cleanlab():
        theirs = _cleanlab_quiet(
            cleanlab.filter.find_label_issues,
            labels,
            probs,
            multi_label=True,
            filter_by=filter_by,
            return_indices_ranked_by=rank_by,
            n_jobs=1,
        )
    np.testing.assert_array_equal(ours, theirs)


def test_multi_label_needs_lists_as_cleanlab_says(ml_data):
    labels, probs = ml_data
    for call in (
        lambda: filter.find_label_issues(np.array(labels, dtype=object), probs, multi_label=True),
        lambda: count.compute_confident_joint(np.zeros(len(probs), int), probs, multi_label=True),
        lambda: count.get_confident_thresholds(np.zeros(len(probs), int), probs, multi_label=True),
    ):
        with pytest.raises(TypeError, match="`labels` must be list when `multi_label=True`"):
            call()


def test_count_functions_multi_label_match_cleanlab(ml_data):
    labels, probs = ml_data
    np.testing.assert_array_equal(
        count.get_confident_thresholds(labels, probs, multi_label=True),
        cleanlab.count.get_confident_thresholds(labels, probs, multi_label=True),
    )
    for calibrate in (True, False):
        ours, ours_rows = count.compute_confident_joint(
            labels, probs, multi_label=True, calibrate=calibrate, return_indices_of_off_diagonals=True
        )
        theirs, their_rows = cleanlab.count.compute_confident_joint(
            labels, probs, multi_label=True, calibrate=calibrate, return_indices_of_off_diagonals=True
        )
        assert ours.shape == (probs.shape[1], 2, 2) and ours.dtype == np.int64
        np.testing.assert_array_equal(ours, theirs)
        for mine, reference in zip(ours_rows, their_rows, strict=True):
            np.testing.assert_array_equal(mine, reference)
    raw = cleanlab.count.compute_confident_joint(labels, probs, multi_label=True, calibrate=False)
    np.testing.assert_array_equal(
        count.calibrate_confident_joint(raw, labels, multi_label=True),
        cleanlab.count.calibrate_confident_joint(raw, labels, multi_label=True),
    )
    for joint in (None, raw):
        np.testing.assert_array_equal(
            count.estimate_joint(labels, probs, confident_joint=joint, multi_label=True),
            cleanlab.count.estimate_joint(labels, probs, confident_joint=joint, multi_label=True),
        )


@pytest.mark.parametrize("with_joint", (False, True))
def test_num_label_issues_multi_label_matches_cleanlab(ml_data, with_joint):
    labels, probs = ml_data
    joint = cleanlab.count.compute_confident_joint(labels, probs, multi_label=True) if with_joint else None
    ours = quiet(count.num_label_issues, labels, probs, confident_joint=joint, multi_label=True)
    theirs = _cleanlab_quiet(cleanlab.count.num_label_issues, labels, probs, confident_joint=joint, multi_label=True)
    assert ours == theirs and isinstance(ours, int)


# --- baselines ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [noisy_data(800, 5, seed=1), tied_data(600, 4, seed=2)], ids=["noisy", "tied"])
def test_find_predicted_neq_given_matches_cleanlab(data, ml_data):
    labels, probs = data
    np.testing.assert_array_equal(
        filter.find_predicted_neq_given(labels, probs), cleanlab.filter.find_predicted_neq_given(labels, probs)
    )
    ml_labels, ml_probs = ml_data
    np.testing.assert_array_equal(
        filter.find_predicted_neq_given(ml_labels, ml_probs, multi_label=True),
        cleanlab.filter.find_predicted_neq_given(ml_labels, ml_probs, multi_label=True),
    )


@pytest.mark.parametrize("filter_by", FILTERS)
@pytest.mark.parametrize("calibrate", (True, False))
def test_argmax_confusion_matrix_baseline_matches_cleanlab(filter_by, calibrate):
    for labels, probs in (noisy_data(800, 5, seed=3), tied_data(600, 4, seed=4)):
        ours = quiet(
            filter.find_label_issues_using_argmax_confusion_matrix,
            labels,
            probs,
            calibrate=calibrate,
            filter_by=filter_by,
        )
        with stable_cleanlab():
            theirs = _cleanlab_quiet(
                cleanlab.filter.find_label_issues_using_argmax_confusion_matrix,
                labels,
                probs,
                calibrate=calibrate,
                filter_by=filter_by,
            )
        np.testing.assert_array_equal(ours, theirs)


# --- rank: top issues and ensembles ---------------------------------------------------------------------------


def test_find_top_issues_matches_cleanlab_and_breaks_ties_by_row():
    scores = np.random.default_rng(0).random(40)
    for top in (0, 1, 3, 10, 40, 1000):
        np.testing.assert_array_equal(
            rank.find_top_issues(scores, top=top), cleanlab.rank.find_top_issues(scores, top=top)
        )
    assert len(rank.find_top_issues(scores)) == 10
    np.testing.assert_array_equal(rank.find_top_issues(np.array([0.5, 0.1, 0.5, 0.1]), top=3), [1, 3, 0])


ENSEMBLE = [noisy_data(600, 4, seed=s, dtype=np.float64, signal=1.0 + s) for s in (5, 6, 7)]


@pytest.mark.parametrize("method", SCORES)
@pytest.mark.parametrize("weighting", ("uniform", "accuracy", "log_loss_search", "custom"))
def test_ensemble_scores_and_printout_match_cleanlab(method, weighting):
    labels = ENSEMBLE[0][0]
    members = [probs for _, probs in ENSEMBLE]
    options = {"method": method, "weight_ensemble_members_by": weighting}
    if weighting == "custom":
        options["custom_weights"] = np.array([0.2, 0.5, 0.3])
    printed_ours, printed_theirs = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed_ours):
        ours = rank.get_label_quality_ensemble_scores(labels, members, **options)
    with contextlib.redirect_stdout(printed_theirs):
        theirs = cleanlab.rank.get_label_quality_ensemble_scores(labels, members, **options)
    np.testing.assert_array_equal(ours, theirs)
    assert printed_ours.getvalue() == printed_theirs.getvalue()


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"pred_probs_list": "array"}, AssertionError, "needs to be a list"),
        ({"pred_probs_list": []}, AssertionError, "is empty"),
        ({"weight_ensemble_members_by": "custom"}, AssertionError, "custom_weights is None"),
        ({"weight_ensemble_members_by": "custom", "custom_weights": [1.0]}, AssertionError, "Length of custom"),
        ({"custom_weights": [1.0, 1.0, 1.0]}, ValueError, "weight_ensemble_members_by is not"),
        ({"weight_ensemble_members_by": "median"}, ValueError, "not a valid weighting method"),
        ({"method": "entropy"}, ValueError, "not a valid scoring method"),
    ],
)
def test_ensemble_errors_are_cleanlabs_and_survive_python_o(options, error, match):
    labels = ENSEMBLE[0][0]
    members = [probs for _, probs in ENSEMBLE]
    if options.get("pred_probs_list") == "array":
        options = {**options, "pred_probs_list": np.stack(members)}
    kwargs = {"pred_probs_list": members, "verbose": False, **options}
    with pytest.raises(error, match=match) as info:
        rank.get_label_quality_ensemble_scores(labels, **kwargs)
    assert isinstance(info.value, ValueError)  # also a ValueError when cleanlab raised AssertionError
    if error is AssertionError:
        assert isinstance(info.value, CleanlabAssertionError)


# --- count: model-fitting helpers -----------------------------------------------------------------------------


def _features(n=240, k=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    X = rng.standard_normal((n, 4)) + labels[:, None] * 0.8
    flip = rng.random(n) < 0.15
    labels[flip] = rng.integers(0, k, flip.sum())
    return X, labels


@pytest.mark.parametrize("kind", ("numpy", "pandas", "sparse"))
def test_fitting_helpers_match_cleanlab_fold_by_fold(kind):
    X, labels = _features()
    X = {"numpy": X, "pandas": pd.DataFrame(X), "sparse": sp.csr_matrix(X)}[kind]
    for name in count.FITTING_FUNCTIONS:
        ours = quiet(getattr(count, name), X, labels, seed=3, cv_n_folds=3)
        theirs = _cleanlab_quiet(getattr(cleanlab.count, name), X, labels, seed=3, cv_n_folds=3)
        ours, theirs = (ours, theirs) if isinstance(ours, tuple) else ((ours,), (theirs,))
        assert len(ours) == len(theirs)
        for mine, reference in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(mine, reference, err_msg=name)


def test_a_class_missing_from_a_training_fold_is_copied_in_as_cleanlab_does():
    X, labels = _features()
    labels[7] = 3  # one row of class 3: absent from the training folds that hold it out
    with pytest.warns(UserWarning, match="Duplicated some data"):
        ours = count.estimate_cv_predicted_probabilities(X, labels, seed=1, cv_n_folds=3)
    theirs = _cleanlab_quiet(cleanlab.count.estimate_cv_predicted_probabilities, X, labels, seed=1, cv_n_folds=3)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours[7], [0, 0, 0, 1])


def test_fitting_helpers_refuse_unusable_inputs_clearly():
    X, labels = _features()
    with pytest.raises(ValueError, match=r"every class 0..K-1 \(found classes \[1, 2, 3\]\)"):
        count.estimate_cv_predicted_probabilities(X, labels + 1)
    with pytest.raises(ValueError, match="X has 239 rows but labels has 240"):
        count.estimate_noise_matrices(X[1:], labels)
    with pytest.raises(TypeError, match="validation_func must be callable"):
        count.estimate_cv_predicted_probabilities(X, labels, validation_func="eval")


# --- the error texts cleanlab users grep for ------------------------------------------------------------------


def test_error_texts_keep_cleanlabs_wording():
    labels, probs = noisy_data(200, 3, seed=9)
    joint = count.compute_confident_joint(labels, probs)
    with pytest.raises(ValueError, match="should be"):
        count.estimate_latent(joint, labels, py_method="INVALID")
    with pytest.raises(ValueError, match="not a valid estimation method"):
        count.num_label_issues(labels, probs, estimation_method="not_a_real_method")
    with pytest.raises(ValueError, match="you need to provide pre-calculated"):
        count.num_label_issues(labels, probs, estimation_method="off_diagonal_custom")
    with pytest.raises(ValueError, match="not supported"), pytest.warns(UserWarning):
        filter.find_label_issues(labels, probs, filter_by="predicted_neq_given", num_to_remove_per_class=[1] * 3)
    with pytest.raises(ValueError, match="not a valid scoring method"):
        rank.order_label_issues(np.ones(200, bool), labels, probs, rank_by="not_a_real_method")
