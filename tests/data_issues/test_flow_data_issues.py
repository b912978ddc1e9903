"""The audit flow (real CLI, Prefect, GX, DuckDB file) runs the data_issues step before the gate: its tables and
the data_issues view are there after the sample's audit, and the gate lists the data-issue thresholds."""

from __future__ import annotations

import pytest

from tests.conftest import Project
from tests.flow.helpers import audit_json, query

pytestmark = pytest.mark.slow


def test_sample_audit_stores_the_data_issues_and_gates_on_them(project: Project) -> None:
    code, summary, stderr = audit_json(project, project.data / "penguins" / "penguins_batch.csv")

    assert code == 0, stderr
    run_id = summary["run_id"]
    stages = query(project.database, "SELECT stage, status FROM run_stages WHERE run_id = ?", [run_id])
    assert dict(zip(stages["stage"], stages["status"], strict=True))["data_issues"] == "completed"
    kinds = query(project.database, "SELECT DISTINCT issue_type FROM data_issues WHERE run_id = ?", [run_id])
    assert {"near_duplicate", "outlier", "uncertain"} <= set(kinds["issue_type"])
    checked = query(project.database, "SELECT issue_type FROM data_issue_summary WHERE run_id = ?", [run_id])
    assert len(checked) == 8
    assert len(query(project.database, "SELECT * FROM row_hashes WHERE run_id = ?", [run_id])) == 344
    gated = {c["threshold"] for c in summary["gate"]["thresholds"]}
    assert {"max_duplicate_rate", "max_conflicting_duplicate_rate", "min_class_share"} <= gated
