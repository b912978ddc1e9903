"""Review loop logic on small fixtures whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelaudit.errors import InputDataError
from labelaudit.review.verdicts import (
    ReviewImportError,
    apply_corrections,
    cutoff_for_target_precision,
    precision_by_score_band,
    validate_verdicts,
)

# ------------------------------------------------------------------------------------------------------------
# Precision by score band
# ------------------------------------------------------------------------------------------------------------


def test_precision_by_band_counts_and_excludes_unsure():
    verdicts = ["error", "error", "correct", "unsure", "error", "correct", "correct", "error"]
    scores = [0.01, 0.04, 0.05, 0.07, 0.15, 0.15, 0.6, 1.0]
    table = precision_by_score_band(verdicts, scores, edges=[0, 0.05, 0.2, 1])
    assert table["n_reviewed"].tolist() == [2, 4, 2]
    assert table["n_error"].tolist() == [2, 1, 1]
    assert table["n_correct"].tolist() == [0, 2, 1]
    assert table["n_unsure"].tolist() == [0, 1, 0]
    assert table["precision"].tolist() == pytest.approx([1, 1 / 3, 0.5])
    assert (table["precision_low"] <= table["precision"]).all()
    assert (table["precision"] <= table["precision_high"]).all()


def test_band_without_decided_verdicts_has_no_precision():
    table = precision_by_score_band(["unsure"], [0.1], edges=[0, 0.5, 1])
    assert np.isnan(table["precision"]).all()
    assert table["n_reviewed"].tolist() == [1, 0]


def test_wilson_interval_matches_reference_value():
    # 9 of 10: Wilson 95 % interval (0.5958, 0.9821)
    table = precision_by_score_band(["error"] * 9 + ["correct"], [0.1] * 10, edges=[0, 1])
    assert table.loc[0, "precision_low"] == pytest.approx(0.5958, abs=1e-4)
    assert table.loc[0, "precision_high"] == pytest.approx(0.9821, abs=1e-4)


@pytest.mark.parametrize(
    ("verdicts", "scores", "edges", "match"),
    [
        (["error"], [0.1, 0.2], None, "1 verdicts but 2 scores"),
        (["wrong"], [0.1], None, "verdicts must be one of"),
        (["error"], [np.nan], None, "finite"),
        (["error"], [0.1], [0.5, 0.1], "increasing"),
    ],
)
def test_band_inputs_are_checked(verdicts, scores, edges, match):
    with pytest.raises(ValueError, match=match):
        precision_by_score_band(verdicts, scores, **({"edges": edges} if edges else {}))


# ------------------------------------------------------------------------------------------------------------
# Cut-off for a target precision
# ------------------------------------------------------------------------------------------------------------


def test_cutoff_is_the_highest_score_keeping_the_target():
    # sorted by score: 12 errors, then correct, error, correct, correct, error, ...
    verdicts = ["error"] * 12 + ["correct", "error", "correct", "correct", "error", "correct", "correct", "correct"]
    scores = np.arange(1, 21) / 100
    result = cutoff_for_target_precision(verdicts, scores, target=0.9, min_verdicts=20, min_flagged=10)
    # prefixes: 14 -> 13/14 = 0.929, 15 -> 13/15 = 0.867, 17 -> 14/17 = 0.82
    assert result.cutoff == pytest.approx(0.14)
    assert result.precision == pytest.approx(13 / 14)
    assert (result.n_flagged, result.n_decided, result.reason) == (14, 20, "ok")


def test_tied_scores_enter_together():
    # at 0.2 one error and two corrects tie: "score <= 0.2" flags all three (9/11 = 0.818), never just the error
    verdicts = ["error"] * 8 + ["error", "correct", "correct"]
    scores = [0.1] * 8 + [0.2, 0.2, 0.2]
    result = cutoff_for_target_precision(verdicts, scores, target=0.85, min_verdicts=5, min_flagged=5)
    assert (result.cutoff, result.n_flagged, result.precision) == (pytest.approx(0.1), 8, 1.0)
    result = cutoff_for_target_precision(verdicts, scores, target=0.8, min_verdicts=5, min_flagged=5)
    assert (result.cutoff, result.n_flagged) == (pytest.approx(0.2), 11)


def test_unsure_verdicts_do_not_count():
    verdicts = ["error"] * 5 + ["unsure"] * 30
    result = cutoff_for_target_precision(verdicts, np.linspace(0, 1, 35), min_verdicts=20)
    assert result.cutoff is None and result.n_decided == 5
    assert "only 5 decided verdicts" in result.reason


def test_no_cutoff_when_the_target_is_never_reached():
    result = cutoff_for_target_precision(["correct", "error"] * 15, np.arange(30) / 30, min_flagged=10)
    assert result.cutoff is None
    assert "no cut-off reaches 90%" in result.reason and "best 50%" in result.reason


def test_min_flagged_ignores_a_lucky_lowest_score():
    verdicts = ["error"] + ["correct", "error"] * 12
    result = cutoff_for_target_precision(verdicts, np.arange(25) / 100, target=0.9, min_flagged=10)
    assert result.cutoff is None


def test_target_must_be_a_proportion():
    with pytest.raises(ValueError, match="target"):
        cutoff_for_target_precision(["error"], [0.1], target=1.5)


# ------------------------------------------------------------------------------------------------------------
# Validating a reviewer file
# ------------------------------------------------------------------------------------------------------------

KNOWN_IDS = ["7", "8", "9", "10"]
LABELS = ["cat", "dog"]


def _reviewer_file(rows):
    return pd.DataFrame(rows, columns=["id", "given", "suggested", "score", "verdict", "corrected_label", "note"])


def test_valid_file_is_normalised():
    frame = _reviewer_file(
        [
            [" 7 ", "cat", "dog", "0.1", "Error", "", "x"],
            ["8", "dog", "cat", "0.2", "correct", "cat", ""],
            ["9", "cat", "dog", "0.3", "", "", ""],
            ["10", "cat", "dog", "0.4", "unsure ", "", ""],
        ]
    )
    verdicts = validate_verdicts(frame, KNOWN_IDS, LABELS)
    assert verdicts["id"].tolist() == ["7", "8", "10"]  # 9 not reviewed yet
    assert verdicts["verdict"].tolist() == ["error", "correct", "unsure"]
    assert verdicts["corrected_label"].isna().tolist() == [False, True, True]
    assert verdicts.loc[0, "corrected_label"] == "dog"  # empty correction takes the suggestion
    assert verdicts["score"].tolist() == pytest.approx([0.1, 0.2, 0.4])


def test_every_problem_is_reported_with_rows():
    frame = _reviewer_file(
        [
            ["7", "cat", "dog", "0.1", "error", "dog", ""],
            ["99", "cat", "dog", "0.1", "error", "dog", ""],
            ["8", "cat", "dog", "0.1", "maybe", "", ""],
            ["9", "cat", "dog", "0.1", "error", "zebra", ""],
            ["9", "cat", "dog", "high", "correct", "", ""],
            ["10", "cat", "", "0.1", "error", "cat", ""],
            ["", "bird", "dog", "0.1", "error", "dog", ""],
        ]
    )
    with pytest.raises(ReviewImportError) as caught:
        validate_verdicts(frame, KNOWN_IDS, LABELS, source="review.csv")
    problems = dict(caught.value.problems)
    assert problems == {
        "empty id": [7],
        "unknown ids (not among the rows sent for review)": [2],
        "duplicate ids": [4, 5],
        "verdict not one of error, correct, unsure": [3],
        "unknown labels in corrected_label": [4],
        "corrected_label equals the given label (use verdict correct)": [6],
        "score is not a number": [5],
        "unknown labels in given": [7],
    }
    assert isinstance(caught.value, InputDataError) and isinstance(caught.value, ValueError)
    assert str(caught.value).startswith("file review.csv: review import refused, nothing stored")
    assert caught.value.rows == [2, 3, 4, 5, 6, 7]


def test_error_needs_a_corrected_label():
    frame = _reviewer_file([["7", "cat", "", "0.1", "error", "", ""]])
    with pytest.raises(ReviewImportError, match="without a corrected_label"):
        validate_verdicts(frame, KNOWN_IDS, LABELS)


def test_missing_columns_are_named():
    with pytest.raises(ReviewImportError, match=r"missing columns \['verdict'\]"):
        validate_verdicts(pd.DataFrame({"id": ["7"]}), KNOWN_IDS, LABELS)


# ------------------------------------------------------------------------------------------------------------
# Corrections
# ------------------------------------------------------------------------------------------------------------


def test_confirmed_corrections_replace_labels():
    labels = pd.Series(["cat", "cat", "dog"], index=["7", "8", "9"])
    verdicts = pd.DataFrame(
        {"id": ["7", "8", "42"], "verdict": ["error", "correct", "error"], "corrected_label": ["dog", None, "cat"]}
    )
    corrected = apply_corrections(labels, verdicts)
    assert corrected.tolist() == ["dog", "cat", "dog"]
    assert labels.tolist() == ["cat", "cat", "dog"]  # input untouched


def test_latest_verdict_wins_with_order_by():
    labels = pd.Series(["cat", "cat"], index=["7", "8"])
    verdicts = pd.DataFrame(
        {
            "id": ["7", "7", "8", "8"],
            "verdict": ["error", "correct", "correct", "error"],
            "corrected_label": ["dog", None, None, "dog"],
            "imported_at": [1, 2, 1, 2],
        }
    )
    assert apply_corrections(labels, verdicts, order_by="imported_at").tolist() == ["cat", "dog"]
    with pytest.raises(ValueError, match="order_by"):
        apply_corrections(labels, verdicts)
