"""The report's "Labelers and reviews" section: view model and chart, loaded in the report's connection.

Two parts, each shown only when there is something to show:

- labelers (runs audited with ``--annotations``): every annotator with volume, agreement with consensus,
  estimated error rate and CROWDLAB quality, a bar chart of the quality, each annotator's most frequent
  confusions, and the routing suggestion per class;
- reviews (the dataset has imported verdicts): measured flag precision by label-quality score band and per
  reviewed run, and the score cut-off that reaches the target precision
  (:func:`labelaudit.review.feedback.review_stats`).

Values from the data (annotator ids, labels) are kept as they are; the template escapes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

if TYPE_CHECKING:  # charts imports the report model, which imports this module: charts is loaded lazily
    from labelaudit.report.charts import Chart


#: Confusions listed (most frequent first, over all annotators).
TOP_CONFUSIONS = 10
#: Annotators listed per class in the routing table.
ROUTES_PER_CLASS = 3


@dataclass(frozen=True)
class AnnotatorRow:
    annotator: str
    rank: int
    volume: int
    volume_shared: int
    agreement: float | None
    estimated_error_rate: float | None
    quality: float | None
    worst_class: str | None


@dataclass(frozen=True)
class ConfusionRow:
    annotator: str
    given: str
    consensus: str
    count: int
    rate: float


@dataclass(frozen=True)
class RouteRow:
    label: str
    rank: int
    annotator: str
    score: float | None
    volume: int


@dataclass(frozen=True)
class BandRow:
    lower: float
    upper: float
    n_reviewed: int
    n_error: int
    n_correct: int
    n_unsure: int
    precision: float | None
    precision_low: float | None
    precision_high: float | None


@dataclass(frozen=True)
class ReviewedRun:
    run_id: str
    started_at: datetime | None
    n_reviewed: int
    n_error: int
    n_correct: int
    n_unsure: int
    precision: float | None
    current: bool


@dataclass(frozen=True)
class LabelersSection:
    items: int
    consensus_differs: int
    annotators: list[AnnotatorRow] = field(default_factory=list)
    confusions: list[ConfusionRow] = field(default_factory=list)
    routing: list[RouteRow] = field(default_factory=list)
    chart: Chart | None = None
    n_verdicts: int = 0
    bands: list[BandRow] = field(default_factory=list)
    reviewed_runs: list[ReviewedRun] = field(default_factory=list)
    target_precision: float = 0.9
    cutoff: float | None = None
    cutoff_precision: float | None = None
    cutoff_flags: int = 0
    cutoff_reason: str = ""

    @property
    def has_labelers(self) -> bool:
        return bool(self.annotators)

    @property
    def has_reviews(self) -> bool:
        return self.n_verdicts > 0


def _none(value: Any) -> Any:
    """Plain Python values; NaN, NaT and NULL become None."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [{k: _none(v) for k, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def quality_chart(annotators: list[AnnotatorRow]) -> Chart | None:
    """Horizontal bars: CROWDLAB quality per annotator (best first), with agreement as a tick."""
    from labelaudit.report.charts import BAD, BAR, GRID, INK, MUTED, OK, Chart, Line, Rect, Shape, Text

    shown = [a for a in annotators if a.quality is not None]
    if not shown:
        return None
    left, plot_w, right, bar_h, gap, top = 130.0, 320.0, 60.0, 16.0, 6.0, 10.0
    height = top + len(shown) * (bar_h + gap) + 24
    shapes: list[Shape] = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + plot_w * tick
        shapes.append(Line(x, top - 4, x, height - 20, GRID))
        shapes.append(Text(x, height - 6, f"{tick:.2f}", "middle", MUTED, 10))
    for i, a in enumerate(shown):
        y = top + i * (bar_h + gap)
        quality = min(max(a.quality or 0.0, 0.0), 1.0)
        tip = f"{a.annotator}: quality {quality:.3f}, {a.volume:,} labels"
        if a.agreement is not None:
            tip += f", agreement with consensus {a.agreement:.1%}"
        label = a.annotator if len(a.annotator) <= 16 else a.annotator[:15] + "…"
        shapes.append(Text(left - 6, y + bar_h - 4, label, "end", INK, 11, title=a.annotator))
        colour = OK if i == 0 else BAD if i == len(shown) - 1 and len(shown) > 2 else BAR
        shapes.append(Rect(left, y, max(plot_w * quality, 1.0), bar_h, colour, tip))
        end = max(quality, min(max(a.agreement or 0.0, 0.0), 1.0))  # the value goes right of the bar and tick
        shapes.append(Text(left + plot_w * end + 5, y + bar_h - 4, f"{quality:.2f}", "start", INK, 11))
        if a.agreement is not None:
            ax = left + plot_w * min(max(a.agreement, 0.0), 1.0)
            shapes.append(Line(ax, y - 2, ax, y + bar_h + 2, INK, 2))
    return Chart(
        left + plot_w + right,
        height,
        "Annotator quality (CROWDLAB)",
        "One bar per annotator, best first: CROWDLAB's annotator quality (0 to 1). The black tick marks the "
        "share of their labels that agree with the consensus.",
        shapes,
    )


def load_labelers_section(
    con: duckdb.DuckDBPyConnection, run_id: str, dataset: str, params: dict[str, Any] | None = None
) -> LabelersSection | None:
    """The section's view model for ``run_id``; None when the run has no annotations and the dataset no
    verdicts (the report then shows no section)."""
    from labelaudit.review.feedback import dataset_verdicts

    annotators = _annotator_rows(con, run_id)
    verdicts = dataset_verdicts(con, dataset)
    if not annotators and verdicts.empty:
        return None
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT consensus_is_majority) FROM item_consensus WHERE run_id = ?",
        [run_id],
    ).fetchall()[0]
    option = ((params or {}).get("thresholds") or {}).get("flag_cutoff_from_reviews") or {}
    target = float(option.get("target_precision", 0.9))
    stats = _review_stats(verdicts, dataset, option, target)
    cut = stats.cutoff
    return LabelersSection(
        items=int(counts[0]),
        consensus_differs=int(counts[1]),
        annotators=annotators,
        confusions=_confusion_rows(con, run_id),
        routing=_route_rows(con, run_id),
        chart=quality_chart(annotators),
        n_verdicts=stats.n_verdicts,
        bands=[
            BandRow(**{k: _none(v) for k, v in row.items()})
            for row in stats.bands.to_dict("records")
            if row["n_reviewed"] > 0
        ],
        reviewed_runs=_reviewed_runs(stats, run_id),
        target_precision=target,
        cutoff=cut.cutoff,
        cutoff_precision=cut.precision,
        cutoff_flags=cut.n_flagged,
        cutoff_reason=cut.reason,
    )


def _annotator_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> list[AnnotatorRow]:
    return [
        AnnotatorRow(
            r["annotator_id"],
            int(r["rank"]),
            int(r["volume"]),
            int(r["volume_shared"]),
            r["agreement"],
            r["estimated_error_rate"],
            r["quality"],
            r["worst_class"],
        )
        for r in _rows(con, "SELECT * FROM labeler_profiles WHERE run_id = ? ORDER BY rank", [run_id])
    ]


def _confusion_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> list[ConfusionRow]:
    return [
        ConfusionRow(r["annotator_id"], r["given_label"], r["consensus_label"], int(r["count"]), r["rate"])
        for r in _rows(
            con,
            "SELECT * FROM labeler_confusions WHERE run_id = ? ORDER BY count DESC, rate DESC, annotator_id LIMIT ?",
            [run_id, TOP_CONFUSIONS],
        )
    ]


def _route_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> list[RouteRow]:
    return [
        RouteRow(r["label"], int(r["rank"]), r["annotator_id"], r["score"], int(r["volume"]))
        for r in _rows(
            con,
            "SELECT * FROM labeler_routing WHERE run_id = ? AND rank IS NOT NULL AND rank <= ? ORDER BY label, rank",
            [run_id, ROUTES_PER_CLASS],
        )
    ]


def _review_stats(verdicts: Any, dataset: str, option: dict[str, Any], target: float) -> Any:
    """The review loop's figures with the run's own ``flag_cutoff_from_reviews`` settings (defaults as the gate's)."""
    from labelaudit.review.feedback import review_stats

    return review_stats(
        verdicts,
        dataset,
        target=target,
        min_verdicts=int(option.get("min_verdicts", 20)),
        min_flagged=int(option.get("min_flagged", 10)),
    )


def _reviewed_runs(stats: Any, run_id: str) -> list[ReviewedRun]:
    return [
        ReviewedRun(
            str(r["run_id"]),
            _none(r["run_started_at"]),
            int(r["n_reviewed"]),
            int(r["n_error"]),
            int(r["n_correct"]),
            int(r["n_unsure"]),
            _none(r["precision"]),
            r["run_id"] == run_id,
        )
        for r in stats.over_time.to_dict("records")
    ]
