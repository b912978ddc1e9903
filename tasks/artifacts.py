"""Prefect artifacts of a run: what a person reads in the UI without opening a terminal.

Every run gets, under keys stable per dataset (so the UI groups them and shows their history):

- ``audit-summary-<dataset>``: markdown with the verdict, key numbers and each gate threshold;
- ``flagged-rows-<dataset>``: a table of the most suspicious rows;
- ``audit-report-<dataset>``: a link to the published HTML report (the UI strips raw HTML from markdown, so the
  report itself is a file served over HTTP; see ``LABELAUDIT_REPORT_BASE_URL``);
- ``audit-trend-<dataset>``: a table of the dataset's recent runs (error rate per batch and per class).

The rendering functions are plain (no Prefect) and take what :func:`labelaudit.report.summary.run_summary` returns.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined
from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from labelaudit.report.summary import run_summary
from labelaudit.store import AuditStore

#: Rows in the "top suspicious rows" table artifact (the HTML report has them all).
TOP_ROWS = 25
#: Runs in the trend table.
TREND_RUNS = 30

_SUMMARY_TEMPLATE = """\
## {{ icon }} `{{ s.dataset }}`: {{ outcome }}

Run `{{ s.run_id }}` audited `{{ source }}`.
{% if s.rows is not none %}
| Key number | Value |
|---|---|
| Rows | {{ s.rows }} |
| Flagged rows | {{ s.flagged_rows }} ({{ s.flagged_rate | pct }}) |
| Estimated label-error rate | {{ s.estimated_error_rate | pct }} |
| Out-of-fold accuracy | {{ s.oof_accuracy | pct }} |
| Method | {{ s.method }} |
{% endif %}
{% if s.gate.thresholds %}
### Quality gate
| Threshold | Scope | Measured | Limit | Result |
|---|---|---|---|---|
{% for c in s.gate.thresholds -%}
| {{ c.threshold }} | {{ c.scope }} | {{ "%.4f" | format(c.measured) }} \
| {{ "<=" if c.comparison == "max" else ">=" }} {{ "%.4f" | format(c.limit_value) }} \
| {{ "ok" if c.passed else "**BREACHED**" }} |
{% endfor %}
{% endif %}
{% if s.message %}
**Message:** {{ s.message }}
{% endif %}
{% if url %}
[Open the full HTML report]({{ url }})
{% endif %}
"""


def artifact_key(kind: str, dataset: str) -> str:
    """A Prefect artifact key (lowercase letters, digits, dashes) stable for a dataset."""
    slug = re.sub(r"[^a-z0-9]+", "-", dataset.lower()).strip("-") or "dataset"
    return f"{kind}-{slug}"


def _pct(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * value:.2f} %"


def render_summary(summary: dict[str, Any], url: str | None) -> str:
    """Markdown of a run's outcome: verdict, key numbers, gate thresholds, link to the report."""
    env = Environment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = _pct
    verdict = summary["verdict"]
    if verdict == "accepted":
        icon, outcome = "✅", "batch accepted"
    elif verdict == "rejected":
        icon, outcome = "❌", "batch rejected by the quality gate"
    else:
        icon, outcome = "⚠️", f"run {summary['status']}"
    source = Path(summary["source"]).name if summary["source"] and "://" not in summary["source"] else summary["source"]
    return env.from_string(_SUMMARY_TEMPLATE).render(s=summary, icon=icon, outcome=outcome, source=source, url=url)


def top_rows(store: AuditStore, run_id: str, limit: int = TOP_ROWS) -> list[dict[str, Any]]:
    """The most suspicious flagged rows of a run, as table-artifact rows."""
    frame = store.query(
        "SELECT issue_rank AS rank, row_id, given_label, suggested_label, round(score, 4) AS label_quality, "
        "round(suggested_prob, 4) AS suggested_prob FROM flagged_rows WHERE run_id = ? ORDER BY issue_rank LIMIT ?",
        [run_id, limit],
    )
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in frame.to_dict("records")]


def trend_rows(store: AuditStore, dataset: str, limit: int = TREND_RUNS) -> list[dict[str, Any]]:
    """The dataset's recent runs with a verdict: batch, error rate overall and per class (newest first)."""
    frame = store.query(
        """SELECT r.run_id, r.started_at, r.source, r.verdict, m.rows, m.estimated_error_rate, m.flagged_rate,
                  (SELECT string_agg(c.label || ' ' || printf('%.1f', 100 * c.estimated_error_rate) || '%', ', '
                                     ORDER BY c.label)
                   FROM class_metrics c WHERE c.run_id = r.run_id) AS per_class
           FROM runs r JOIN run_metrics m USING (run_id)
           WHERE r.dataset = ? ORDER BY r.started_at DESC LIMIT ?""",
        [dataset, limit],
    )
    rows = []
    for row in frame.itertuples():
        source = str(row.source)
        rows.append(
            {
                "run_id": row.run_id,
                "started": row.started_at.strftime("%Y-%m-%d %H:%M"),
                "batch": Path(source).name if "://" not in source and not source.startswith("duckdb:") else source,
                "verdict": row.verdict or "-",
                "rows": int(row.rows),
                "error_rate_%": round(100 * float(row.estimated_error_rate), 2),
                "flagged_%": round(100 * float(row.flagged_rate), 2),
                "per_class_error_rate": row.per_class,
            }
        )
    return rows


@task(name="publish-artifacts", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def publish_artifacts(store: AuditStore, run_id: str, report_url: str | None) -> dict[str, str]:
    """Create the run's summary, top-rows, trend and report-link artifacts; returns their keys."""
    summary = run_summary(store, run_id)
    dataset = summary["dataset"]
    kinds = ("audit-summary", "flagged-rows", "audit-trend", "audit-report")
    keys = {kind: artifact_key(kind, dataset) for kind in kinds}
    create_markdown_artifact(
        render_summary(summary, report_url),
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
