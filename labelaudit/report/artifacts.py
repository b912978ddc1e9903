"""The text of a run's Prefect artifacts, rendered from templates and the store's named reads (no Prefect here:
:mod:`labelaudit.tasks.artifacts` publishes what these functions return).

- ``audit-summary-<dataset>``: markdown with the verdict, key numbers and each gate threshold
  (:func:`render_summary`, from what :func:`labelaudit.report.summary.run_summary` returns);
- ``flagged-rows-<dataset>``: a table of the most suspicious rows (:func:`top_rows`);
- ``audit-trend-<dataset>``: a table of the dataset's recent runs, error rate per batch and per class
  (:func:`trend_rows`);
- ``audit-report-<dataset>``: a link to the published HTML report.

Keys are stable per dataset (:func:`artifact_key`), so the UI groups them and shows their history.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined

from labelaudit.store import AuditStore
from labelaudit.store.queries import data_issue_summary, dataset_trend, flagged_rows, model_candidates, opinion_split

__all__ = [
    "TOP_ROWS",
    "TREND_RUNS",
    "artifact_key",
    "data_issue_line",
    "model_line",
    "render_summary",
    "top_rows",
    "trend_rows",
]

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
{% if model %}
**Model:** {{ model }}
{% endif %}
{% if data_issues %}
**Data issues:** {{ data_issues }}
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


def render_summary(
    summary: dict[str, Any], url: str | None, data_issues: str | None = None, model: str | None = None
) -> str:
    """Markdown of a run's outcome: verdict, key numbers, the model line (:func:`model_line`), the data-issue
    line (:func:`data_issue_line`), gate thresholds, link to the report."""
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
    return env.from_string(_SUMMARY_TEMPLATE).render(
        s=summary, icon=icon, outcome=outcome, source=source, url=url, data_issues=data_issues, model=model
    )


def model_line(store: AuditStore, run_id: str) -> str | None:
    """One line on the model and the second opinion (``auto chose random_forest (log-loss 0.1021, accuracy
    96.50 %; logistic_regression 0.1432 / 95.10 %, ...); flag rule both: ...``); None for a run that stored
    neither ``auto``'s candidates nor the neighbours' score."""
    candidates = model_candidates(store, run_id)
    split = opinion_split(store, run_id)
    parts = []
    chosen = next((c for c in candidates if c["chosen"]), None)
    if chosen is not None:
        others = [
            f"{c['name']} {_figures(c)}" if c["log_loss"] is not None else f"{c['name']} screened out"
            for c in candidates
            if not c["chosen"]
        ]
        parts.append(
            f"auto chose {chosen['name']} ({_figures(chosen, named=True)}{'; ' if others else ''}"
            f"{', '.join(others)}; criterion {chosen['criterion']})"
        )
    elif split is not None and split["model"]:
        parts.append(f"{split['model']} (fixed by the dataset definition)")
    if split is not None:
        parts.append(
            f"flag rule {split['flag_rule']}: {split['flagged']} flagged; suspect to both {split['flagged_by_both']}, "
            f"to confident learning only {split['flagged_by_cl_only']}, "
            f"to the {split['neighbours']} nearest neighbours only {split['flagged_by_neighbours_only']}"
        )
    return "; ".join(parts) or None


def _figures(candidate: dict[str, Any], *, named: bool = False) -> str:
    """A candidate's out-of-fold log-loss and accuracy, as the line shows them."""
    loss, accuracy = f"{candidate['log_loss']:.4f}", _pct(candidate["accuracy"])
    return f"log-loss {loss}, accuracy {accuracy}" if named else f"{loss} / {accuracy}"


def data_issue_line(store: AuditStore, run_id: str) -> str | None:
    """One line of a run's data-issue counts (``3 exact duplicates, 2 conflicting duplicates, label drift (PSI
    0.31), ...``), every checked type named, even at zero; None for a run without the data-issues stage."""
    parts = []
    for s in data_issue_summary(store, run_id):
        name = s["issue_type"].replace("_", " ")
        if not s["checked"]:
            parts.append(f"{name} not checked")
        elif s["issue_type"] == "label_drift":
            psi = "n/a" if s["rate"] is None or math.isnan(s["rate"]) else f"{s['rate']:.3f}"
            parts.append(f"label drift {'yes' if s['flagged'] else 'no'} (PSI {psi})")
        elif s["issue_type"] == "class_imbalance":
            parts.append(f"{s['flagged']} imbalanced class(es)")
        else:
            parts.append(f"{s['flagged']} {name}{'s' if s['flagged'] != 1 else ''}")
    return ", ".join(parts) or None


def top_rows(store: AuditStore, run_id: str, limit: int = TOP_ROWS) -> list[dict[str, Any]]:
    """The most suspicious flagged rows of a run, as table-artifact rows."""
    return [
        {
            "rank": r["issue_rank"],
            "row_id": r["row_id"],
            "given_label": r["given_label"],
            "suggested_label": r["suggested_label"],
            "label_quality": _round4(r["score"]),
            "suggested_prob": _round4(r["suggested_prob"]),
        }
        for r in flagged_rows(store, run_id, limit=limit)
    ]


def _round4(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def trend_rows(store: AuditStore, dataset: str, limit: int = TREND_RUNS) -> list[dict[str, Any]]:
    """The dataset's recent scored runs: batch, error rate overall and per class (newest first)."""
    rows = []
    for row in dataset_trend(store, dataset, limit=limit):
        source = str(row["source"])
        rows.append(
            {
                "run_id": row["run_id"],
                "started": row["started_at"].strftime("%Y-%m-%d %H:%M"),
                "batch": Path(source).name if "://" not in source and not source.startswith("duckdb:") else source,
                "verdict": row["verdict"] or "-",
                "rows": int(row["rows"]),
                "error_rate_%": round(100 * float(row["estimated_error_rate"]), 2),
                "flagged_%": round(100 * float(row["flagged_rate"]), 2),
                "per_class_error_rate": row["per_class"],
            }
        )
    return rows
