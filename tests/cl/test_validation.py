"""The input policy: what is rejected (naming rows), what is renormalised (with a named warning), what passes."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from labelaudit.cl import count, filter, rank
from labelaudit.cl._engine.validation import (
    InvalidLabelsError,
    InvalidPredProbsError,
    ProbabilitiesRenormalisedWarning,
    accept_tolerance,
    validate_pred_probs,
)
from labelaudit.errors import InputDataError

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
"""The shared folder, ``../shared/`` relative to the repository root (see its README)."""
IMDB = SHARED / "benchmarks" / "label-errors" / "imdb"


def _probs(n=10, k=3, dtype=np.float64):
    probs = np.full((n, k), 1.0 / k, dtype=dtype)
    probs[:, 0] += 1 - probs.sum(axis=1)
    return probs


def _labels(n=10, k=3):
    return np.arange(n) % k


@pytest.mark.parametrize(
    ("row", "value", "match"),
    [
        (3, np.nan, "NaN"),
        (4, np.inf, "NaN or infinite"),
        (5, -0.01, "below"),
        (6, 1.5, "above 1"),
    ],
)
def test_bad_values_are_rejected_with_row_numbers(row, value, match):
    probs = _probs()
    probs[row, 1] = value
    with pytest.raises(InvalidPredProbsError, match=match) as info:
        filter.find_label_issues(_labels(), probs)
    assert str(row) in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, InputDataError)


def test_rows_not_summing_to_one_are_rejected_first_rows_and_count():
    probs = _probs(n=20)
    probs[[2, 3, 5, 7, 11, 13, 17], 0] += 0.01
    with pytest.raises(InvalidPredProbsError, match=r"7 rows in all") as info:
        rank.get_label_quality_scores(_labels(20), probs)
    assert "rows 2, 3, 5, 7, 11:" in str(info.value)


def test_rounding_is_renormalised_with_a_named_warning():
    probs = _probs()
    probs[[1, 8]] *= 1.00002
    with pytest.warns(ProbabilitiesRenormalisedWarning, match=r"rows 1, 8 \(2 in all\)"):
        fixed = validate_pred_probs(probs)
    np.testing.assert_allclose(fixed.sum(axis=1), 1, atol=1e-15)
    assert fixed is not probs and probs[1].sum() > 1.00001  # the caller's array is untouched


def test_float_rounding_within_accept_tolerance_passes_unchanged():
    probs = _probs(dtype=np.float32)
    probs[0, 0] += 2e-6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validate_pred_probs(probs) is probs
    assert accept_tolerance(np.float32, 1000) > 1e-4  # K float32 roundings are still "exact"


def test_tiny_negative_values_within_cleanlab_tolerance_pass():
    probs = _probs()
    probs[0] = [1.0000005, -5e-7, 0.0]
    assert validate_pred_probs(probs) is probs


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.array([0, 1, 2, 3, 0, 1, 2, 0, 1, 2]), r"0\.\.2"),
        (np.array([0, 1, -1, 0, 0, 1, 2, 0, 1, 2]), r"0\.\.2"),
        (np.array([0, 1, 2.5, 0, 0, 1, 2, 0, 1, 2]), "integers"),
        (np.array(["a"] * 10), "integers"),
        (np.zeros((10, 2), dtype=int), "1-D"),
        (np.zeros(9, dtype=int), "9 entries"),
    ],
)
def test_bad_labels_are_rejected(labels, match):
    with pytest.raises(InvalidLabelsError, match=match):
        count.compute_confident_joint(labels, _probs())


def test_out_of_range_label_names_the_row():
    labels = _labels()
    labels[7] = 5
    with pytest.raises(InvalidLabelsError) as info:
        filter.find_label_issues(labels, _probs())
    assert "row 7" in str(info.value)


def test_integral_float_labels_are_accepted():
    probs = _probs()
    np.testing.assert_array_equal(
        rank.get_label_quality_scores(_labels().astype(float), probs), rank.get_label_quality_scores(_labels(), probs)
    )


@pytest.mark.parametrize("shape", [(10,), (10, 1), (0, 3)])
def test_bad_shapes_are_rejected(shape):
    with pytest.raises(InvalidPredProbsError):
        validate_pred_probs(np.zeros(shape))


@pytest.mark.skipif(
    not IMDB.exists(), reason=f"shared benchmark data not present: {IMDB} (../shared/ beside the repository root)"
)
def test_published_imdb_probabilities_are_renormalised():
    probs = np.load(IMDB / "pred_probs.npy")
    labels = np.load(IMDB / "labels.npy")
    with pytest.warns(ProbabilitiesRenormalisedWarning, match="25000 in all"):
        mask = filter.find_label_issues(labels, probs)
    assert 1000 < mask.sum() < 2000
