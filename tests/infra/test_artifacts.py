"""The artifacts' content, rendered from a run summary: small exact cases, no server."""

from __future__ import annotations

import pytest

from labelaudit.report.artifacts import artifact_key, render_summary


def _summary(**changes: object) -> dict[str, object]:
    summary = {
        "run_id": "20261124-120000-abcdef", "dataset": "penguins", "source": "/data/in/batch-7.csv",
        "status": "rejected", "verdict": "rejected", "message": "batch rejected: max_label_error_rate ...",
        "rows": 344, "flagged_rows": 46, "estimated_error_rate": 0.1453, "flagged_rate": 0.1337,
        "oof_accuracy": 0.8372, "method": "prune_by_noise_rate",
        "gate": {"passed": False, "thresholds": [
            {"threshold": "max_label_error_rate", "scope": "overall", "comparison": "max", "limit_value": 0.08,
             "measured": 0.1453, "passed": False},
            {"threshold": "min_oof_accuracy", "scope": "overall", "comparison": "min", "limit_value": 0.8,
             "measured": 0.8372, "passed": True},
        ]},
    }  # fmt: skip
    return summary | changes


@pytest.mark.parametrize(
    ("dataset", "key"),
    [
        ("penguins", "audit-summary-penguins"),
        ("My_Data.v2", "audit-summary-my-data-v2"),
        ("__", "audit-summary-dataset"),
    ],
)
def test_keys_are_stable_and_valid_prefect_keys(dataset: str, key: str) -> None:
    assert artifact_key("audit-summary", dataset) == key


def test_a_rejected_run_shows_its_verdict_numbers_and_the_breached_threshold() -> None:
    text = render_summary(_summary(), "http://127.0.0.1:8765/penguins/20261124-120000-abcdef/index.html")

    assert text.startswith("## ❌ `penguins`: batch rejected by the quality gate")
    assert "audited `batch-7.csv`" in text
    assert "| Rows | 344 |" in text and "| Flagged rows | 46 (13.37 %) |" in text
    assert "| Estimated label-error rate | 14.53 % |" in text
    assert "| max_label_error_rate | overall | 0.1453 | <= 0.0800 | **BREACHED** |" in text
    assert "| min_oof_accuracy | overall | 0.8372 | >= 0.8000 | ok |" in text
    assert "[Open the full HTML report](http://127.0.0.1:8765/penguins/20261124-120000-abcdef/index.html)" in text
    assert "<" not in text.replace("<=", "")  # no raw HTML: the UI would strip it


def test_a_run_that_failed_before_scoring_shows_the_failure_without_numbers() -> None:
    failed = _summary(status="failed", verdict=None, rows=None, message="validate: 2 expectations failed",
                      gate={"passed": None, "thresholds": []})  # fmt: skip
    text = render_summary(failed, None)

    assert text.startswith("## ⚠️ `penguins`: run failed")
    assert "**Message:** validate: 2 expectations failed" in text
    assert "| Rows |" not in text and "Quality gate" not in text and "Open the full" not in text
