"""The bundled week-2 sample (issue 14): audited after ``penguins_batch.csv`` into one DuckDB file with the bundled
definition, it is rejected for its conflicting duplicate and its class mix, and its report shows every data-issue
section with the rows ``data/penguins/penguins_week2.injected.csv`` lists."""

from __future__ import annotations

import re
from html import unescape

import pandas as pd
import pytest

from tests.conftest import Project
from tests.flow.helpers import audit_json, query

pytestmark = pytest.mark.slow

SECTIONS = {
    "exact_duplicate": "data-issues-exact-duplicate",
    "conflicting_duplicate": "data-issues-conflicting-duplicate",
    "near_duplicate": "data-issues-near-duplicate",
    "outlier": "data-issues-outlier",
    "leaked_duplicate": "data-issues-leaked-duplicate",
}


def _sections(html: str) -> dict[str, str]:
    """The text under each ``<h3 id=...>`` of the Data issues section, up to the next heading."""
    start = html.index('id="data-issues"')
    body = html[start : html.index("</section>", start)]
    parts = re.split(r'<h3 id="([^"]+)"', body)
    return {parts[i]: unescape(re.sub(r"<[^>]+>", " ", parts[i + 1])) for i in range(1, len(parts) - 1, 2)}


def test_week2_after_week1_is_rejected_and_its_report_shows_each_injected_issue(project: Project) -> None:
    first_code, first, stderr = audit_json(project, project.data / "penguins" / "penguins_batch.csv")
    assert first_code == 0 and first["verdict"] == "accepted", stderr

    code, week2, stderr = audit_json(project, project.data / "penguins" / "penguins_week2.csv")

    assert code == 1 and week2["verdict"] == "rejected", stderr
    breached = {c["threshold"] for c in week2["gate"]["thresholds"] if not c["passed"]}
    assert breached == {"max_conflicting_duplicate_rate", "max_label_drift_psi"}, week2["gate"]
    injected = pd.read_csv(project.data / "penguins" / "penguins_week2.injected.csv", dtype=str)
    found = query(
        project.database, "SELECT row_id, issue_type FROM data_issues WHERE run_id = ? AND is_issue", [week2["run_id"]]
    )
    for issue_type, rows in injected.groupby("issue")["penguin_id"]:
        assert set(rows) <= set(found.loc[found["issue_type"] == issue_type, "row_id"]), issue_type
    assert set(found.loc[found["issue_type"] == "outlier", "row_id"]) == {"W0117"}
    assert set(found.loc[found["issue_type"] == "leaked_duplicate", "row_id"]) == set(
        injected.loc[injected["issue"] == "leaked_duplicate", "penguin_id"]
    )

    html = (project.reports / "penguins" / week2["run_id"] / "index.html").read_text(encoding="utf-8")
    sections = _sections(html)
    for issue_type, anchor in SECTIONS.items():
        shown = sections.get(anchor, "")
        for row_id in injected.loc[injected["issue"] == issue_type, "penguin_id"]:
            assert row_id in shown, f"{row_id} ({issue_type}) not in the report's section {anchor}"
    assert first["run_id"] in sections[SECTIONS["leaked_duplicate"]]  # names the earlier run
    assert "The class mix moved" in sections["data-issues-label-drift"]
    assert "data-issues-class-imbalance" in sections
