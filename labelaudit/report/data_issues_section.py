"""The report's "Data issues" section (issue 14): view model and chart, loaded in the report's connection.

What it shows, each part only when the run's data-issues stage stored it (:mod:`labelaudit.store.queries`'
``data_issue_*``, ``label_drift`` and ``class_imbalance`` reads):

- per issue type, the count and rate against its ``quality.json`` threshold (the gate's own row, so the page
  and the verdict cannot disagree), or why it was not checked;
- exact, conflicting and near-duplicate **groups**, the rows of a group next to each other with their labels
  and fields (a conflicting group shows its labels disagreeing), at most :data:`MAX_GROUPS` groups and
  :data:`MAX_GROUP_ROWS` rows a group, the rest counted ("N more");
- the most severe **outliers** and model-unsure rows, and the **leaked** rows naming the earlier run and row;
- the class mix of this batch against the accepted history as a chart, with PSI, p-value and the new or
  vanished classes; the imbalanced classes named.

A run without the stage (older runs, runs that failed before it) gets ``None``: the report shows no section,
not an empty box. Values from the data (ids, labels, fields) are kept as they are; the template escapes them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import duckdb

from labelaudit.report.svg import BAR, GRID, INK, MUTED, NEUTRAL, Chart, Line, Rect, Shape, Text
from labelaudit.report.views import GateView
from labelaudit.store import queries

#: Groups shown per duplicate kind, and rows shown per group; the rest are counted.
MAX_GROUPS = 10
MAX_GROUP_ROWS = 6
#: Rows listed for outliers, model-unsure rows and leaked rows.
MAX_WORST_ROWS = 20
#: Longest field value shown in a group or row table (the database has the full value).
MAX_FIELD_CHARS = 80

#: What each issue type is called on the page, and the ``quality.json`` threshold that gates it.
TITLES = {
    "conflicting_duplicate": ("Conflicting duplicates", "max_conflicting_duplicate_rate"),
    "exact_duplicate": ("Exact duplicates", "max_duplicate_rate"),
    "near_duplicate": ("Near duplicates", "max_near_duplicate_rate"),
    "leaked_duplicate": ("Leaked from earlier batches", "max_leaked_rate"),
    "outlier": ("Outliers (feature space)", "max_outlier_rate"),
    "uncertain": ("Rows the model is unsure about", None),
    "label_drift": ("Label drift", "max_label_drift_psi"),
    "class_imbalance": ("Class imbalance", "min_class_share"),
}
GROUPED = ("conflicting_duplicate", "exact_duplicate", "near_duplicate")
RANKED = ("outlier", "uncertain", "leaked_duplicate")


@dataclass(frozen=True)
class IssueCount:
    """One line of the section's overview: an issue type, what was found, and its threshold's gate row."""

    issue_type: str
    title: str
    checked: bool
    rows: int
    flagged: int
    groups: int | None
    rate: float | None
    message: str | None
    threshold: str | None
    gate: GateView | None

    @property
    def anchor(self) -> str:
        return f"data-issues-{self.issue_type.replace('_', '-')}"


@dataclass(frozen=True)
class IssueRow:
    """A finding's row: id, label key, score, what the detail says, and its fields (in ``fields`` order)."""

    row_id: str
    label: str | None
    score: float
    is_issue: bool
    note: str
    values: list[Any]


@dataclass(frozen=True)
class IssueGroup:
    group_id: int
    rows: list[IssueRow]
    size: int

    @property
    def more(self) -> int:
        return self.size - len(self.rows)

    @property
    def labels(self) -> list[str]:
        return sorted({r.label for r in self.rows if r.label is not None})


@dataclass(frozen=True)
class IssueRows:
    """The findings of one row-level issue type shown on the page: groups, or the most severe rows."""

    issue_type: str
    title: str
    flagged: int
    groups: list[IssueGroup] = field(default_factory=list)
    total_groups: int = 0
    rows: list[IssueRow] = field(default_factory=list)

    @property
    def more_groups(self) -> int:
        return self.total_groups - len(self.groups)

    @property
    def more_rows(self) -> int:
        return self.flagged - len(self.rows)


@dataclass(frozen=True)
class DriftView:
    history_runs: int
    batch_count: int
    history_count: int
    chi2: float | None
    dof: int | None
    p_value: float | None
    psi: float | None
    gated_psi: float | None
    alpha: float
    max_psi: float
    is_drift: bool
    new_classes: list[str]
    vanished_classes: list[str]
    classes: list[dict[str, Any]]
    chart: Chart | None


@dataclass(frozen=True)
class DataIssuesSection:
    counts: list[IssueCount]
    fields: list[str]
    findings: list[IssueRows]
    drift: DriftView | None
    imbalance: list[dict[str, Any]]

    @property
    def imbalanced(self) -> list[dict[str, Any]]:
        return [c for c in self.imbalance if c["is_imbalanced"]]

    def finding(self, issue_type: str) -> IssueRows | None:
        return next((f for f in self.findings if f.issue_type == issue_type), None)


def load_data_issues_section(
    con: duckdb.DuckDBPyConnection, run_id: str, fields: list[str], gate: list[GateView]
) -> DataIssuesSection | None:
    """The section's view model for ``run_id``; None when the run has no data-issues tables.

    ``fields`` are the batch's own columns shown beside each row (the id and label are shown apart);
    ``gate`` the run's gate rows, matched to issue types by threshold name.
    """
    summary = queries.data_issue_summary(con, run_id)
    if not summary:
        return None
    by_threshold = {g.threshold: g for g in gate}
    counts = [_count(s, by_threshold) for s in summary]
    findings = [
        _findings(con, run_id, c, fields)
        for c in counts
        if c.checked and c.flagged and c.issue_type in (*GROUPED, *RANKED)
    ]
    test, classes = queries.label_drift(con, run_id)
    return DataIssuesSection(
        counts=counts,
        fields=fields,
        findings=findings,
        drift=_drift(test, classes) if test else None,
        imbalance=queries.class_imbalance(con, run_id),
    )


def _count(s: dict[str, Any], by_threshold: dict[str, GateView]) -> IssueCount:
    title, threshold = TITLES.get(s["issue_type"], (s["issue_type"].replace("_", " ").capitalize(), None))
    return IssueCount(
        issue_type=s["issue_type"],
        title=title,
        checked=bool(s["checked"]),
        rows=int(s["rows"]),
        flagged=int(s["flagged"]),
        groups=None if s["groups"] is None else int(s["groups"]),
        rate=_finite(s["rate"]),
        message=s["message"],
        threshold=threshold,
        gate=by_threshold.get(threshold) if threshold else None,
    )


def _findings(con: duckdb.DuckDBPyConnection, run_id: str, count: IssueCount, fields: list[str]) -> IssueRows:
    grouped = count.issue_type in GROUPED
    found = queries.data_issue_rows(
        con, run_id, count.issue_type, grouped=grouped, limit=MAX_GROUPS if grouped else MAX_WORST_ROWS
    )
    if not grouped:
        rows = [_row(r, fields, count.issue_type) for r in found]
        return IssueRows(count.issue_type, count.title, count.flagged, rows=rows)
    groups: dict[int, list[dict[str, Any]]] = {}
    for r in found:
        groups.setdefault(int(r["group_id"]), []).append(r)
    shown = [
        IssueGroup(gid, [_row(r, fields, count.issue_type) for r in members[:MAX_GROUP_ROWS]], len(members))
        for gid, members in groups.items()
    ]
    total = count.groups if count.groups is not None else len(shown)
    return IssueRows(count.issue_type, count.title, count.flagged, groups=shown, total_groups=total)


def _row(r: dict[str, Any], fields: list[str], issue_type: str) -> IssueRow:
    record = _json(r["record"])
    values = [_cut(record.get(name)) for name in fields]
    return IssueRow(str(r["row_id"]), r["label"], float(r["score"]), bool(r["is_issue"]), _note(r, issue_type), values)


def _note(r: dict[str, Any], issue_type: str) -> str:
    """The detail JSON as one short sentence."""
    d = _json(r["detail"])
    if issue_type == "exact_duplicate":
        return "kept (first of its group)" if not r["is_issue"] else f"repeats row {d.get('kept_row_id', '?')}"
    if issue_type == "conflicting_duplicate":
        mix = d.get("labels") or {}
        return "labels in the group: " + ", ".join(f"{label} ×{n}" for label, n in mix.items())
    if issue_type == "leaked_duplicate":
        note = f"run {d.get('earlier_run_id', '?')}, row {d.get('earlier_row_id', '?')}"
        if d.get("more_earlier_rows"):
            note += f" (and {d['more_earlier_rows']} more earlier rows)"
        if "earlier_label" in d:
            note += f"; labelled {d['earlier_label']} there"
        return note
    return ", ".join(f"{k} {_short(v)}" for k, v in d.items())


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _drift(test: dict[str, Any], classes: list[dict[str, Any]]) -> DriftView:
    return DriftView(
        history_runs=int(test["history_runs"]),
        batch_count=int(test["batch_count"]),
        history_count=int(test["history_count"]),
        chi2=_finite(test["chi2"]),
        dof=test["dof"],
        p_value=_finite(test["p_value"]),
        psi=_finite(test["psi"]),
        gated_psi=_finite(test["gated_psi"]),
        alpha=float(test["alpha"]),
        max_psi=float(test["max_psi"]),
        is_drift=bool(test["is_drift"]),
        new_classes=[str(c) for c in _json(test["new_classes"], [])],
        vanished_classes=[str(c) for c in _json(test["vanished_classes"], [])],
        classes=classes,
        chart=class_mix_chart(classes) if test["history_count"] else None,
    )


def class_mix_chart(classes: list[dict[str, Any]]) -> Chart | None:
    """Per class, two bars: this batch's share (blue) over the history's share (grey), largest first.

    Drawn once, 336 units wide with 11-unit text, so the same drawing reads on a phone and a desktop.
    """
    if not classes:
        return None
    left, plot_w, right, bar_h, top = 96.0, 176.0, 64.0, 12.0, 24.0
    peak = max(max(c["batch_share"], c["history_share"]) for c in classes) or 1.0
    height = top + len(classes) * (2 * bar_h + 10) + 8
    shapes: list[Shape] = [
        Rect(left, 4, 10, 10, BAR),
        Text(left + 14, 13, "this batch", "start", INK, 11),
        Rect(left + 90, 4, 10, 10, NEUTRAL),
        Text(left + 104, 13, "history", "start", INK, 11),
        Line(left, top - 4, left, height - 4, GRID),
    ]
    for i, c in enumerate(classes):
        y = top + i * (2 * bar_h + 10)
        label = str(c["label"])
        shapes.append(Text(left - 6, y + bar_h + 4, label if len(label) <= 12 else label[:11] + "…", "end", INK, 11))
        for j, (share, colour, what) in enumerate(
            ((c["batch_share"], BAR, "this batch"), (c["history_share"], NEUTRAL, "history"))
        ):
            w = max(plot_w * share / peak, 1.0)
            tip = f"{label}: {share:.1%} of {what} ({c['status']})"
            shapes.append(Rect(left, y + j * bar_h, w, bar_h - 1, colour, tip))
            shapes.append(Text(left + w + 4, y + j * bar_h + bar_h - 2, f"{share:.1%}", "start", MUTED, 11))
    return Chart(
        left + plot_w + right,
        height,
        "Class mix: this batch against the accepted history",
        "Per class, the share of this batch's labels (blue) and of the dataset's accepted earlier batches' "
        "labels (grey), largest first.",
        shapes,
    )


def _json(text: Any, default: Any = None) -> Any:
    if default is None:
        default = {}
    if isinstance(text, dict | list):
        return text
    if not text:
        return default
    try:
        value = json.loads(text)
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default


def _cut(value: Any) -> Any:
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        return value[: MAX_FIELD_CHARS - 1] + "…"
    return value


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
