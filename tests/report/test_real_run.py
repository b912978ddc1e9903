"""A report from a real audit (the CLI, Prefect, GX, scikit-learn on the penguins sample), read in Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelaudit.store import AuditStore
from tests.conftest import Project
from tests.flow.helpers import run_cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_report_of_a_real_audit(project: Project, visit, screenshots) -> None:
    result = run_cli(project, "audit", str(project.data / "penguins" / "penguins_noisy.csv"), "--dataset", "penguins",
                     "--json")  # fmt: skip
    assert result.exit_code == 1, result.stderr  # the noisy batch is rejected
    run_id = json.loads(result.stdout)["run_id"]
    report = project.reports / "penguins" / run_id / "index.html"
    assert report.is_file() and (project.reports / "index.html").is_file()
    assert (report.parent / "gx" / "index.html").is_file()

    seen = visit(report.as_uri())
    page = seen.page
    page.screenshot(path=str(screenshots / "penguins-real-run-desktop.png"), full_page=True)
    store = AuditStore(project.database)
    metrics = store.query("SELECT * FROM run_metrics WHERE run_id = ?", [run_id]).iloc[0]
    assert page.locator("#verdict h2").inner_text().strip() == "Rejected"
    assert page.locator('[data-metric="flagged"]').inner_text() == f"{metrics['flagged']:,}"
    assert page.locator('[data-metric="estimated_error_rate"]').inner_text() == (
        f"{metrics['estimated_error_rate'] * 100:.2f}%"
    )
    breaches = store.query("SELECT count(*) AS n FROM gate_results WHERE run_id = ? AND NOT passed", [run_id])
    assert page.locator("table.gate tr.fail").count() == breaches["n"].iloc[0] > 0
    ids = store.query("SELECT row_id FROM flagged_rows WHERE run_id = ? ORDER BY issue_rank", [run_id])["row_id"]
    shown = page.locator("#flagged-table tbody td:nth-child(2)").all_inner_texts()
    assert shown == ids.tolist()[:100]
    assert Path(page.locator("#data-docs-link").get_attribute("href")) == Path("gx/index.html")
    seen.assert_clean()
