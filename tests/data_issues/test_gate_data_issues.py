"""The gate's data-issue thresholds: each breached one fails the run with its own code and threshold name, a
clean batch passes, null thresholds and issue types the run did not check are not planned."""

from __future__ import annotations

import pytest

from labelaudit.inputs.definition import QualityThresholds
from labelaudit.pipeline.gate import DATA_ISSUE_CHECKS, evaluate_gate

METRICS = {"estimated_error_rate": 0.01, "flagged_rate": 0.01, "oof_accuracy": 0.99}
LIMITS = {
    "max_duplicate_rate": 0.05,
    "max_conflicting_duplicate_rate": 0.01,
    "max_near_duplicate_rate": 0.1,
    "max_outlier_rate": 0.05,
    "max_leaked_rate": 0.05,
    "max_label_drift_psi": 0.1,
    "min_class_share": 0.1,
}
CLEAN = {
    "exact_duplicate": 0.0,
    "conflicting_duplicate": 0.0,
    "near_duplicate": 0.02,
    "outlier": 0.01,
    "leaked_duplicate": 0.0,
    "label_drift": 0.0,
    "class_imbalance": 0.6,
}
BREACH = {"min_class_share": 0.05}  # a minimum is breached from below, every maximum from above


def test_a_clean_batch_passes_every_data_issue_threshold() -> None:
    result = evaluate_gate(QualityThresholds(**LIMITS), METRICS, {}, CLEAN)
    assert result.passed and len(result.checks) == len(DATA_ISSUE_CHECKS)
    assert all(c.margin > 0 for c in result.checks)


@pytest.mark.parametrize(("code", "threshold", "comparison", "issue_type"), DATA_ISSUE_CHECKS)
def test_each_breached_threshold_fails_the_batch_by_name(code, threshold, comparison, issue_type) -> None:
    measured = BREACH.get(threshold, LIMITS[threshold] + 0.02)
    result = evaluate_gate(QualityThresholds(**LIMITS), METRICS, {}, {**CLEAN, issue_type: measured})

    assert not result.passed and [c.code for c in result.breaches] == [code]
    breach = result.breaches[0]
    assert breach.threshold == threshold and breach.comparison == comparison
    assert breach.margin == pytest.approx(-0.02 if comparison == "max" else -0.05)
    assert threshold in result.message() and "BREACHED" in result.message()


def test_null_thresholds_and_unchecked_issue_types_are_not_planned() -> None:
    assert evaluate_gate(QualityThresholds(), METRICS, {}, CLEAN).checks == []
    # the run did not check outliers (e.g. no feature columns): the threshold cannot be judged, so it is skipped
    unchecked = {k: v for k, v in CLEAN.items() if k != "outlier"}
    result = evaluate_gate(QualityThresholds(**LIMITS), METRICS, {}, unchecked)
    assert "max_outlier_rate" not in {c.threshold for c in result.checks} and len(result.checks) == 6
