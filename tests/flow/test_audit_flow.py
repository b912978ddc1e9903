"""The audit end to end on the bundled sample: real CSV, real GX, real scikit-learn, real DuckDB file."""

from __future__ import annotations

import pytest

from tests.conftest import Project
from tests.flow.helpers import audit_json, precision_recall, query, run_cli, stored_counts

pytestmark = pytest.mark.slow


def test_noisy_batch_is_rejected_and_its_injected_errors_found(project: Project) -> None:
    code, summary, stderr = audit_json(project, project.data / "penguins" / "penguins_noisy.csv")

    assert code == 1, stderr
    assert summary["status"] == "rejected" and summary["verdict"] == "rejected"
    breached = {c["threshold"] for c in summary["gate"]["thresholds"] if not c["passed"]}
    assert "max_label_error_rate" in breached
    assert "max_label_error_rate" in summary["message"]
    precision, recall, flagged = precision_recall(
        project.database, summary["run_id"], project.data / "penguins" / "penguins_noisy.injected.csv"
    )
    assert precision >= 0.8 and recall >= 0.6, (precision, recall, flagged)
    # the estimate is near the truth (52 of 344 = 15.1 % injected)
    assert 0.08 < summary["estimated_error_rate"] < 0.25


def test_batch_within_expectations_is_accepted(project: Project) -> None:
    code, summary, stderr = audit_json(project, project.data / "penguins" / "penguins_batch.csv")

    assert code == 0, stderr
    assert summary["verdict"] == "accepted" and summary["gate"]["passed"] is True
    assert summary["rows"] == 344
    precision, recall, _ = precision_recall(
        project.database, summary["run_id"], project.data / "penguins" / "penguins_batch.injected.csv"
    )
    assert precision >= 0.8 and recall >= 0.6, (precision, recall)
    report = project.reports / "penguins" / summary["run_id"] / "index.html"
    assert report.exists() and summary["report"]


def test_every_row_is_scored_and_flagged_rows_view_matches(project: Project) -> None:
    code, summary, stderr = audit_json(project, project.data / "penguins" / "penguins_noisy.csv")
    assert code == 1, stderr
    run_id = summary["run_id"]

    scores = query(project.database, "SELECT * FROM scores WHERE run_id = ? ORDER BY row_idx", [run_id])
    assert len(scores) == 344 and scores["row_id"].is_unique
    assert scores["label_quality"].between(0, 1).all()
    flagged = scores[scores["is_issue"]]
    assert (flagged["suggested_label"] != flagged["given_label"]).all()
    assert sorted(flagged["issue_rank"].astype(int)) == list(range(1, len(flagged) + 1))
    view = query(project.database, "SELECT * FROM flagged_rows WHERE run_id = ?", [run_id])
    assert len(view) == summary["flagged_rows"] == len(flagged)
    noise = query(project.database, "SELECT * FROM noise_matrix WHERE run_id = ?", [run_id])
    assert len(noise) == 9 and abs(noise["joint"].sum() - 1) < 1e-6
    stages = query(project.database, "SELECT stage, status FROM run_stages WHERE run_id = ?", [run_id])
    assert set(stages["stage"]) == {"ingest", "validate", "fit", "score", "data_issues", "gate", "report"}
    assert (stages["status"] == "completed").all()
    folds = query(project.database, "SELECT * FROM fold_metrics WHERE run_id = ? AND fold IS NOT NULL", [run_id])
    assert len(folds) == 5 and folds["rows"].sum() == 344


def test_rerun_replaces_that_run_and_leaves_others_alone(project: Project) -> None:
    _, first, _ = audit_json(project, project.data / "penguins" / "penguins_batch.csv")
    _, second, _ = audit_json(project, project.data / "penguins" / "penguins_noisy.csv")
    before = stored_counts(project.database)
    second_scores = query(
        project.database, "SELECT * FROM scores WHERE run_id = ? ORDER BY row_idx", [second["run_id"]]
    )

    _, again, _ = audit_json(project, project.data / "penguins" / "penguins_batch.csv", "--run-id", first["run_id"])

    assert again["run_id"] == first["run_id"]
    assert stored_counts(project.database) == before
    after = query(project.database, "SELECT * FROM scores WHERE run_id = ? ORDER BY row_idx", [second["run_id"]])
    assert after.equals(second_scores)


def test_runs_and_flagged_commands_read_the_database(project: Project) -> None:
    _, summary, _ = audit_json(project, project.data / "penguins" / "penguins_noisy.csv")

    listing = run_cli(project, "runs")
    assert summary["run_id"] in listing.stdout and "rejected" in listing.stdout
    flagged = run_cli(project, "flagged", summary["run_id"], "--limit", "3")
    assert flagged.exit_code == 0 and len(flagged.stdout.strip().splitlines()) == 4
