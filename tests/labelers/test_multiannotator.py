"""CROWDLAB against cleanlab 2.9 (the oracle), plus exact small cases and input checks.

Parity tolerance: consensus labels, worst classes, counts and the order of ``annotator_stats`` must be equal;
every score and weight within ``ATOL = 1e-9`` absolute (measured: at most ~1e-15, summation order).
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd
import pytest

from labelaudit.cl.multiannotator import (
    convert_long_to_wide_dataset,
    get_active_learning_scores,
    get_active_learning_scores_ensemble,
    get_label_quality_multiannotator,
    get_label_quality_multiannotator_ensemble,
    get_majority_vote_label,
)
from tests.labelers.simulate import wide_labels

cm = pytest.importorskip("cleanlab.multiannotator")

ATOL = 1e-9


def _cleanlab(function, *args, **kwargs):
    """Call cleanlab with its prints silenced; refuse data where it would break a tie at random."""
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        result = function(*args, **kwargs)
    assert not [w for w in caught if "random selection" in str(w.message)], "oracle used a random tie-break"
    return result


def _ours(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def assert_same_result(ours: dict, theirs: dict) -> None:
    assert ours.keys() == theirs.keys()
    for key, expected in theirs.items():
        got = ours[key]
        if isinstance(expected, pd.DataFrame):
            assert list(got.columns) == list(expected.columns), key
            assert list(got.index) == list(expected.index), key
            for column in expected.columns:
                a, b = got[column].to_numpy(), expected[column].to_numpy()
                if np.issubdtype(b.dtype, np.floating):
                    np.testing.assert_allclose(a, b, rtol=0, atol=ATOL, err_msg=f"{key}.{column}")
                else:
                    np.testing.assert_array_equal(a, b, err_msg=f"{key}.{column}")
        else:
            np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL, err_msg=key)


@pytest.fixture
def cleanlab_value_counts_fixed(monkeypatch):
    """cleanlab 2.9 counts float labels by rank, not by class index (``value_counts`` with NaN-stripped floats
    fills the counts left-aligned), which shifts the ``agreement`` posterior and the calibration target. With
    that one helper fixed, cleanlab is the oracle for those paths too."""
    import cleanlab.internal.multiannotator_utils as utils

    def value_counts(x, num_classes=None, **_):
        return np.bincount(np.asarray(x).astype(int), minlength=num_classes or 0)

    monkeypatch.setattr(cm, "value_counts", value_counts)
    monkeypatch.setattr(utils, "value_counts", value_counts)


# ------------------------------------------------------------------------------------------------------------
# Parity with cleanlab on generated data
# ------------------------------------------------------------------------------------------------------------

DATASETS = {
    "plain": {},
    "many_classes": {"n_classes": 7, "n_annotators": 9},
    "unused_class": {"unused_class": True},
    "tie_heavy": {"tie_heavy": True, "n_annotators": 4},
    "two_annotators": {"n_annotators": 3, "coverage": 0.9},
}

OPTIONS = {
    "default": {},
    "both_consensus": {"consensus_method": ["best_quality", "majority_vote"]},
    "majority_first": {"consensus_method": ["majority_vote", "best_quality"]},
    "normalized_margin": {"label_quality_score_kwargs": {"method": "normalized_margin"}},
    "adjust_pred_probs": {"label_quality_score_kwargs": {"adjust_pred_probs": True}},
    "entropy": {"label_quality_score_kwargs": {"method": "confidence_weighted_entropy"}},
    "weights": {"return_weights": True},
    "no_detail": {"return_detailed_quality": False},
    "label_quality_only": {"return_detailed_quality": False, "return_annotator_stats": False},
}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_crowdlab_matches_cleanlab(seed, dataset, option):
    labels, probs = wide_labels(seed, **DATASETS[dataset])
    frame = pd.DataFrame(
        labels, columns=[f"ann{i}" for i in range(labels.shape[1])], index=[f"x{i}" for i in range(len(labels))]
    )
    kwargs = dict(OPTIONS[option], verbose=False)
    theirs = _cleanlab(cm.get_label_quality_multiannotator, frame, probs, **kwargs)
    ours = _ours(get_label_quality_multiannotator, frame, probs, **kwargs)
    assert_same_result(ours, theirs)


@pytest.mark.parametrize("kwargs", [{"quality_method": "agreement"}, {"calibrate_probs": True}])
def test_agreement_and_calibration_match_cleanlab_once_its_counting_is_fixed(cleanlab_value_counts_fixed, kwargs):
    labels, probs = wide_labels(3)
    theirs = _cleanlab(cm.get_label_quality_multiannotator, labels, probs, verbose=False, **kwargs)
    ours = _ours(get_label_quality_multiannotator, labels, probs, verbose=False, **kwargs)
    assert_same_result(ours, theirs)


def test_agreement_with_majority_vote_matches_unpatched_cleanlab():
    labels, probs = wide_labels(4)
    # the per-label scores use cleanlab's miscounted posterior, so they are left out here
    kwargs = {
        "quality_method": "agreement",
        "consensus_method": "majority_vote",
        "return_detailed_quality": False,
        "verbose": False,
    }
    assert_same_result(
        _ours(get_label_quality_multiannotator, labels, probs, **kwargs),
        _cleanlab(cm.get_label_quality_multiannotator, labels, probs, **kwargs),
    )


def test_agreement_posterior_counts_classes_by_index_not_rank():
    # item 0: two votes for class 2; cleanlab 2.9 counts them as class 0 (the first present rank)
    labels = np.array([[2, 2], [0, 1], [1, 1]], dtype=float)
    probs = np.full((3, 3), 1 / 3)
    result = get_label_quality_multiannotator(labels, probs, quality_method="agreement", verbose=False)
    assert result["label_quality"]["consensus_label"].tolist() == [2, 0, 1]
    assert result["label_quality"]["consensus_quality_score"].tolist() == [1.0, 0.5, 1.0]


@pytest.mark.parametrize("seed", range(4))
def test_majority_vote_matches_cleanlab_on_ties(seed):
    labels, probs = wide_labels(seed, tie_heavy=True, n_annotators=4)
    np.testing.assert_array_equal(
        _ours(get_majority_vote_label, labels, probs, verbose=False),
        _cleanlab(cm.get_majority_vote_label, labels, probs, verbose=False),
    )
    np.testing.assert_array_equal(
        _ours(get_majority_vote_label, labels, verbose=False),
        _cleanlab(cm.get_majority_vote_label, labels, verbose=False),
    )


def test_active_learning_scores_match_cleanlab(cleanlab_value_counts_fixed):
    # ActiveLab temperature-scales first, which goes through cleanlab's miscounting helper
    labels, probs = wide_labels(5)
    ours = get_active_learning_scores(labels, probs, probs[:25])
    theirs = _cleanlab(cm.get_active_learning_scores, labels, probs, probs[:25])
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=ATOL)
    single = np.full((30, 3), np.nan)
    single[np.arange(30), np.arange(30) % 3] = np.arange(30) % 4
    np.testing.assert_allclose(
        get_active_learning_scores(single, probs[:30])[0],
        _cleanlab(cm.get_active_learning_scores, single, probs[:30])[0],
        rtol=0,
        atol=ATOL,
    )
    only_unlabeled = get_active_learning_scores(pred_probs_unlabeled=probs[:5])
    np.testing.assert_allclose(
        only_unlabeled[1], _cleanlab(cm.get_active_learning_scores, pred_probs_unlabeled=probs[:5])[1], atol=ATOL
    )


def test_long_to_wide_matches_cleanlab():
    long = pd.DataFrame({"task": ["t1", "t1", "t2", "t3"], "annotator": ["a", "b", "a", "b"], "label": [0, 1, 1, 0]})
    pd.testing.assert_frame_equal(convert_long_to_wide_dataset(long), cm.convert_long_to_wide_dataset(long))


# ------------------------------------------------------------------------------------------------------------
# Small exact cases
# ------------------------------------------------------------------------------------------------------------


def test_majority_vote_tiebreaks_in_order():
    labels = np.array(
        [
            [0, 1, np.nan],  # tie 0/1: the model prefers 1
            [0, 2, np.nan],  # tie 0/2: the model is indifferent; class 2 is rarer overall
            [0, 0, 0],
            [1, 1, np.nan],
        ]
    )
    probs = np.array([[0.2, 0.5, 0.3], [0.4, 0.2, 0.4], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert get_majority_vote_label(labels, probs, verbose=False).tolist() == [1, 2, 0, 1]


def test_unresolvable_tie_takes_lowest_class_with_a_warning():
    labels = np.array([[0, 1], [1, 0]], dtype=float)
    with pytest.warns(UserWarning, match="lowest class index"):
        assert get_majority_vote_label(labels, np.full((2, 2), 0.5), verbose=False).tolist() == [0, 0]


def test_single_annotator_items_and_one_label_annotator_keep_their_place():
    labels = pd.DataFrame(
        {"a": [0, 1, 1, np.nan, 0], "b": [0, 1, 0, 1, np.nan], "c": [np.nan, np.nan, np.nan, np.nan, 1]},
        index=list("vwxyz"),
    )
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.5, 0.5]])
    result = get_label_quality_multiannotator(labels, probs, verbose=False, return_weights=True)
    assert list(result["label_quality"].index) == list("vwxyz")
    assert result["label_quality"]["num_annotations"].tolist() == [2, 2, 2, 1, 2]
    assert list(result["detailed_label_quality"].columns) == [
        "quality_annotator_a",
        "quality_annotator_b",
        "quality_annotator_c",
    ]
    assert result["detailed_label_quality"].isna().sum().tolist() == [1, 1, 4]
    assert result["annotator_stats"].loc["c", "num_examples_labeled"] == 1
    assert result["annotator_weight"].shape == (3,)


# ------------------------------------------------------------------------------------------------------------
# Input checks
# ------------------------------------------------------------------------------------------------------------

GOOD = np.array([[0, 1], [1, 1], [0, np.nan]])
PROBS = np.array([[0.6, 0.4], [0.3, 0.7], [0.5, 0.5]])


@pytest.mark.parametrize(
    ("labels", "probs", "match"),
    [
        (np.array([[0, 1], [np.nan, np.nan]]), PROBS[:2], r"cannot have rows with all NaN(.|\n)*Examples \[1\]"),
        (np.array([[0, np.nan], [1, np.nan]]), PROBS[:2], r"Annotators \[1\] did not label any examples"),
        (np.array([[0], [1]], dtype=float), PROBS[:2], "must have more than one column"),
        (np.array([[0, np.nan], [np.nan, 1]]), PROBS[:2], "Each example only has one label"),
        (np.array([[0, 2], [1, 1]], dtype=float), PROBS[:2], "at least 3 columns"),
        (np.array([[0, 0.5], [1, 1]]), PROBS[:2], "integer class indices"),
        (GOOD, np.array([[np.nan, 1.0], [0.3, 0.7], [0.5, 0.5]]), "finite"),
        (GOOD, PROBS[:2], "must have same length"),
        (np.array([["a", "b"], ["b", "b"]], dtype=object), PROBS[:2], "Labels cannot be strings"),
        ([[0, 1], [1, 1]], PROBS[:2], "NumPy array or Pandas DataFrame"),
    ],
)
def test_bad_inputs_raise_value_errors(labels, probs, match):
    with pytest.raises(ValueError, match=match):
        get_label_quality_multiannotator(labels, probs, verbose=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"consensus_method": "dawid_skene"}, "not a valid consensus method"),
        ({"quality_method": "vote"}, "not a valid quality method"),
        ({"quality_method": "agreement", "return_weights": True}, "only applicable to the crowdlab quality method"),
        ({"label_quality_score_kwargs": {"method": "entropy"}}, "entropy"),
        (
            {"label_quality_score_kwargs": {"method": "confidence_weighted_entropy", "adjust_pred_probs": True}},
            "adjust",
        ),
    ],
)
def test_bad_options_raise_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_label_quality_multiannotator(GOOD, PROBS, verbose=False, **kwargs)


def test_nullable_integer_frame_equals_float_frame():
    frame = pd.DataFrame({"a": pd.array([0, 1, None, 1], dtype="Int64"), "b": pd.array([0, 1, 1, 0], dtype="Int64")})
    probs = np.array([[0.6, 0.4], [0.3, 0.7], [0.5, 0.5], [0.2, 0.8]])
    nullable = get_label_quality_multiannotator(frame, probs, verbose=False)
    floats = get_label_quality_multiannotator(frame.astype(float), probs, verbose=False)
    for key, expected in floats.items():
        pd.testing.assert_frame_equal(nullable[key], expected)


# ------------------------------------------------------------------------------------------------------------
# Ensembles and ActiveLab as cleanlab 2.9 (issue 16)
# ------------------------------------------------------------------------------------------------------------


def _ensemble(seed: int):
    labels, probs = wide_labels(seed)
    rng = np.random.default_rng(seed)
    other = rng.dirichlet(np.ones(probs.shape[1]), len(probs))
    return labels, np.stack([probs, other, 0.5 * probs + 0.5 * other])


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    "kwargs", [{}, {"return_weights": True}, {"calibrate_probs": True}, {"return_detailed_quality": False}]
)
def test_ensemble_matches_cleanlab(cleanlab_value_counts_fixed, seed, kwargs):
    labels, models = _ensemble(seed)
    before = models.copy()
    ours = get_label_quality_multiannotator_ensemble(labels, models, verbose=False, **kwargs)
    np.testing.assert_array_equal(models, before)  # cleanlab scales the caller's array in place; we do not
    assert_same_result(
        ours, _cleanlab(cm.get_label_quality_multiannotator_ensemble, labels, before, verbose=False, **kwargs)
    )


def test_active_learning_ensemble_matches_cleanlab(cleanlab_value_counts_fixed):
    labels, models = _ensemble(2)
    unlabelled = models[:, :20].copy()
    ours = get_active_learning_scores_ensemble(labels, models, unlabelled)
    theirs = _cleanlab(cm.get_active_learning_scores_ensemble, labels, models.copy(), unlabelled.copy())
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=ATOL)
    only = get_active_learning_scores_ensemble(pred_probs_unlabeled=unlabelled)
    np.testing.assert_allclose(
        only[1], _cleanlab(cm.get_active_learning_scores_ensemble, pred_probs_unlabeled=unlabelled.copy())[1], atol=ATOL
    )


@pytest.mark.parametrize("ensemble", [False, True])
def test_active_learning_takes_unnormalised_scores_as_cleanlab_documents(ensemble):
    """One label per item: the raw scores are used as they are (cleanlab's test uses np.random.random)."""
    single = np.full((30, 3), np.nan)
    single[np.arange(30), np.arange(30) % 3] = np.arange(30) % 4
    raw = np.random.default_rng(3).random((2, 30, 4))
    function, oracle = (
        (get_active_learning_scores_ensemble, cm.get_active_learning_scores_ensemble)
        if ensemble
        else (get_active_learning_scores, cm.get_active_learning_scores)
    )
    probs = raw if ensemble else raw[0]
    ours = function(single, probs, probs)
    theirs = _cleanlab(oracle, single, probs.copy(), probs.copy())
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=ATOL)


@pytest.mark.parametrize(
    ("function", "probs", "match"),
    [
        (get_label_quality_multiannotator, np.stack([PROBS[:2], PROBS[:2]]), "use the ensemble version"),
        (get_label_quality_multiannotator_ensemble, PROBS[:2], "use the non-ensemble version"),
        (get_label_quality_multiannotator_ensemble, np.stack([PROBS[:1], PROBS[:1]]), "must have same length"),
    ],
)
def test_ensemble_shape_errors_say_which_version_to_use(function, probs, match):
    with pytest.raises(ValueError, match=match):
        function(np.array([[0, 1], [1, 1]], dtype=float), probs, verbose=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ValueError, "cannot both be None"),
        ({"pred_probs": PROBS}, ValueError, "labels_multiannotator cannot be None"),
        ({"pred_probs": PROBS.tolist(), "labels_multiannotator": GOOD}, TypeError, "must be a numpy array"),
        (
            {"pred_probs": PROBS, "labels_multiannotator": GOOD, "pred_probs_unlabeled": PROBS[:, :1]},
            ValueError,
            "same number of classes",
        ),
    ],
)
def test_active_learning_errors_are_cleanlabs(kwargs, error, match):
    with pytest.raises(error, match=match):
        get_active_learning_scores(**kwargs)


@pytest.mark.parametrize("ensemble", [False, True])
def test_quality_refuses_rows_not_summing_to_one_naming_them(ensemble):
    """The documented difference: stricter than cleanlab for consensus quality, not for ActiveLab."""
    probs = PROBS.copy()
    probs[1] = [0.3, 0.5]
    function = get_label_quality_multiannotator_ensemble if ensemble else get_label_quality_multiannotator
    with pytest.raises(ValueError, match=r"row 1: .*do not sum to 1 within 0.001"):
        function(GOOD, np.stack([probs, PROBS]) if ensemble else probs, verbose=False)
