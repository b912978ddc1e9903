"""Prefect artifacts of a run: what a person reads in the UI without opening a terminal.

The text and tables are rendered by :mod:`labelaudit.report.artifacts` (templates and the store's named reads);
this task only publishes them, under keys stable per dataset (so the UI groups them and shows their history).
The report itself is a file served over HTTP (the UI strips raw HTML from markdown; see
``LABELAUDIT_REPORT_BASE_URL``): the ``audit-report-<dataset>`` artifact links to it.
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from labelaudit.report.artifacts import (
    artifact_key,
    data_issue_line,
    model_line,
    render_summary,
    top_rows,
    trend_rows,
)
from labelaudit.report.summary import run_summary
from labelaudit.store import AuditStore


@task(name="publish-artifacts", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def publish_artifacts(store: AuditStore, run_id: str, report_url: str | None) -> dict[str, str]:
    """Create the run's summary, top-rows, trend and report-link artifacts; returns their keys."""
    summary = run_summary(store, run_id)
    dataset = summary["dataset"]
    kinds = ("audit-summary", "flagged-rows", "audit-trend", "audit-report")
    keys = {kind: artifact_key(kind, dataset) for kind in kinds}
    create_markdown_artifact(
        render_summary(summary, report_url, data_issue_line(store, run_id), model_line(store, run_id)),
        key=keys["audit-summary"],
        description=f"Outcome of audit run {run_id} of {dataset}",
    )
    rows = top_rows(store, run_id)
    if rows:
        create_table_artifact(
            rows, key=keys["flagged-rows"], description=f"Top {len(rows)} suspicious rows of run {run_id}, rank 1 first"
        )
    trend = trend_rows(store, dataset)
    if trend:
        create_table_artifact(
            trend, key=keys["audit-trend"], description=f"Recent audits of {dataset}: label-error rate per batch"
        )
    if report_url:
        hint = " (file:// link: set LABELAUDIT_REPORT_BASE_URL to serve it)" if report_url.startswith("file:") else ""
        create_link_artifact(
            report_url,
            link_text=f"HTML report of run {run_id}",
            key=keys["audit-report"],
            description=f"Full report of {dataset} run {run_id}{hint}",
        )
    get_run_logger().info("artifacts: %s", ", ".join(keys.values()))
    return keys
