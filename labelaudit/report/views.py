"""What a report shows, as small typed records (the views): templates and charts read these, never DuckDB.

:mod:`labelaudit.report.model` fills them from the store; :mod:`labelaudit.report.charts` draws them. Values
from the data (labels, ids, column names, text) are kept as they are: escaping is the template engine's job
(autoescape), and the flagged rows are embedded as JSON by :mod:`labelaudit.report.render`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # annotations only: the sections import these views
    from labelaudit.report.data_issues_section import DataIssuesSection
    from labelaudit.report.labelers_section import LabelersSection
    from labelaudit.report.models_section import ModelsSection
    from labelaudit.report.sequence_section import SequenceSection

#: Flagged rows embedded in one report, most suspicious first; the rest are counted and left in DuckDB.
DEFAULT_MAX_FLAGGED_ROWS = 50_000
#: Characters of one cell value embedded in a report; longer values are cut and marked as cut.
DEFAULT_MAX_CELL_CHARS = 10_000
#: Bins of the label-quality histogram over [0, 1].
HISTOGRAM_BINS = 20

#: The fixed leading columns of the flagged-rows table (the row's own fields follow).
FIXED_COLUMNS: tuple[str, ...] = ("rank", "id", "given", "suggested", "score", "suggested prob")
#: Most decimals a float column of the flagged rows is shown with (scores always get this many).
MAX_FLOAT_DIGITS = 4
#: The column after the fixed ones when the run has the neighbours' second opinion (issue 15).
KNN_COLUMN = "kNN agreement"


@dataclass(frozen=True)
class ColumnFormat:
    """How one column of the flagged-rows table shows its values, the same for every row of the column.

    ``int``: whole numbers as written (``42``); ``float``: ``digits`` decimals for every value of the column
    (``38.8`` and ``42.0``, not ``38.8000`` and ``42``); ``text``: as is. The page's script applies the same
    rule to the rows it draws, so the first page (rendered here) and later pages read alike.
    """

    kind: Literal["int", "float", "text"]
    digits: int = 0

    def show(self, value: Any) -> Any:
        """``value`` as the column shows it: a string for numbers, anything else unchanged."""
        if self.kind == "text" or isinstance(value, bool) or not isinstance(value, int | float):
            return value
        if self.kind == "int" and float(value).is_integer():
            return str(int(value))
        # Half away from zero on the exact binary value: what JavaScript's toFixed does in the page.
        quantum = Decimal(1).scaleb(-self.digits)
        return str(Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP))


#: The fixed columns' formats: the rank is a whole number, scores and probabilities get MAX_FLOAT_DIGITS.
FIXED_FORMATS: tuple[ColumnFormat, ...] = (
    ColumnFormat("int"),
    ColumnFormat("text"),
    ColumnFormat("text"),
    ColumnFormat("text"),
    ColumnFormat("float", MAX_FLOAT_DIGITS),
    ColumnFormat("float", MAX_FLOAT_DIGITS),
)


def _decimals(value: float) -> int:
    """Decimals of the shortest text that reads back as ``value`` (``38.8`` -> 1, ``42.0`` -> 0)."""
    exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def column_format(values: Sequence[Any]) -> ColumnFormat:
    """The format of a data column from its values: ``int`` if all are whole numbers written as integers,
    ``float`` (with as many decimals as the most precise value needs, at most :data:`MAX_FLOAT_DIGITS`) if all
    are numbers, ``text`` otherwise (booleans and mixed columns included). Missing values do not count.
    """
    present = [v for v in values if v is not None]
    if not present or any(isinstance(v, bool) or not isinstance(v, int | float) for v in present):
        return ColumnFormat("text")
    floats = [v for v in present if isinstance(v, float)]
    if not floats:
        return ColumnFormat("int")
    if any(v != v or v in (float("inf"), float("-inf")) for v in floats):
        return ColumnFormat("text")
    return ColumnFormat("float", min(MAX_FLOAT_DIGITS, max(_decimals(v) for v in floats)))


@dataclass(frozen=True)
class StageView:
    stage: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    seconds: float | None
    rows: int | None
    message: str | None


@dataclass(frozen=True)
class BatchView:
    path: str
    sha256: str
    bytes: int | None
    rows: int
    format: str
    ingested_at: datetime | None


@dataclass(frozen=True)
class ColumnView:
    position: int
    name: str
    dtype: str
    role: str


@dataclass(frozen=True)
class ValidationView:
    code: str | None
    expectation_type: str
    column: str | None
    success: bool
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    examples: list[Any]
    rows: list[int]
    kwargs: dict[str, Any]
    message: str | None


@dataclass(frozen=True)
class MetricsView:
    rows: int
    classes: int
    flagged: int
    estimated_issues: float
    estimated_error_rate: float
    flagged_rate: float
    oof_accuracy: float | None
    oof_log_loss: float | None
    method: str
    tie_rule: str | None
    scoring_path: str | None
    engine: str | None = None  # labelaudit score --engine dask: dask (NULL before migration 8)
    workers: int | None = None


@dataclass(frozen=True)
class ClassView:
    label: str
    given_count: int
    flagged: int
    estimated_error_rate: float
    flagged_rate: float
    oof_accuracy: float | None


@dataclass(frozen=True)
class NoiseCell:
    given_label: str
    true_label: str
    confident_count: float
    joint: float
    noise: float


@dataclass(frozen=True)
class GateView:
    code: str
    threshold: str
    scope: str
    comparison: str
    limit_value: float
    measured: float
    passed: bool
    margin: float


@dataclass(frozen=True)
class FoldView:
    fold: int | None
    rows: int
    accuracy: float | None
    log_loss: float | None
    seconds: float | None


@dataclass(frozen=True)
class HistogramBin:
    """Rows whose label-quality score is in ``[lo, hi)`` (the last bin includes 1)."""

    lo: float
    hi: float
    flagged: int
    unflagged: int


@dataclass(frozen=True)
class TrendPoint:
    run_id: str
    started_at: datetime
    estimated_error_rate: float
    verdict: str | None
    current: bool = False


@dataclass(frozen=True)
class FlaggedTable:
    """The flagged rows as embedded in the page: one list per row, in :attr:`columns` order.

    ``columns`` are :data:`FIXED_COLUMNS`, then :data:`KNN_COLUMN` when ``knn`` (the run stored the neighbours'
    agreement), then the row's own fields (``fields``). ``total`` is the number of flagged rows of the run;
    ``len(rows)`` can be smaller when the report caps it. ``cut_cells`` counts the values shortened to the
    report's per-cell limit.
    """

    fields: list[str]
    rows: list[list[Any]]
    total: int
    cut_cells: int = 0
    field_formats: list[ColumnFormat] = field(default_factory=list)
    knn: bool = False

    @property
    def fixed_count(self) -> int:
        """Columns before the row's own fields."""
        return len(FIXED_COLUMNS) + self.knn

    @property
    def columns(self) -> list[str]:
        return [*FIXED_COLUMNS, *([KNN_COLUMN] if self.knn else []), *self.fields]

    @property
    def formats(self) -> list[ColumnFormat]:
        """One format per column of :attr:`columns` (fields without a computed format show as text)."""
        own = self.field_formats + [ColumnFormat("text")] * (len(self.fields) - len(self.field_formats))
        knn = [ColumnFormat("float", MAX_FLOAT_DIGITS)] if self.knn else []
        return [*FIXED_FORMATS, *knn, *own]

    @property
    def capped(self) -> bool:
        return len(self.rows) < self.total


@dataclass(frozen=True)
class RunView:
    """Everything the report of one run shows. Lists are empty for stages that did not complete."""

    run_id: str
    dataset: str
    source: str | None
    status: str
    verdict: str | None
    message: str | None
    started_at: datetime
    finished_at: datetime | None
    params: dict[str, Any]
    code_version: str | None
    flow_run_id: str | None
    host: str | None
    stages: list[StageView]
    batch: BatchView | None
    columns: list[ColumnView]
    validation: list[ValidationView]
    metrics: MetricsView | None
    classes: list[ClassView]
    noise: list[NoiseCell]
    gate: list[GateView]
    folds: list[FoldView]
    histogram: list[HistogramBin]
    flag_cutoff: float | None
    trend: list[TrendPoint]
    flagged: FlaggedTable
    labels: list[str] = field(default_factory=list)
    labelers: LabelersSection | None = None  # annotators and review precision (labelers_section.py)
    sequences: SequenceSection | None = None  # multi-label / token issue details (sequence_section.py)
    data_issues: DataIssuesSection | None = None  # duplicates, outliers, leakage, drift (data_issues_section.py)
    models: ModelsSection | None = None  # auto's candidates and the neighbours' second opinion (models_section.py)

    @property
    def outcome(self) -> str:
        """``accepted``, ``rejected``, ``failed`` or ``running``: what the banner says."""
        if self.verdict in ("accepted", "rejected"):
            return self.verdict
        if self.status == "running":
            return "running"
        return "failed" if self.status == "failed" else (self.verdict or self.status)

    @property
    def failed_stage(self) -> StageView | None:
        return next((s for s in self.stages if s.status == "failed"), None)

    @property
    def validation_failures(self) -> list[ValidationView]:
        return [v for v in self.validation if not v.success]

    @property
    def gate_breaches(self) -> list[GateView]:
        return [g for g in self.gate if not g.passed]

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class IndexRun:
    """One line of the index page."""

    run_id: str
    dataset: str
    started_at: datetime
    source: str | None
    sha256: str | None
    status: str
    verdict: str | None
    message: str | None
    rows: int | None
    flagged: int | None
    estimated_error_rate: float | None
    data_issues: int | None = None  # rows with a data-issue finding (issue 14); None: the run has no such stage
    data_issue_types: str | None = None  # "exact_duplicate 3, label_drift 1": what was found, per issue type

    @property
    def outcome(self) -> str:
        if self.verdict in ("accepted", "rejected"):
            return self.verdict
        return self.status


@dataclass(frozen=True)
class DatasetIndex:
    """A dataset's runs, newest first, and its error-rate trend, oldest first."""

    name: str
    runs: list[IndexRun]

    @property
    def trend(self) -> list[TrendPoint]:
        points = [
            TrendPoint(r.run_id, r.started_at, r.estimated_error_rate, r.verdict)
            for r in reversed(self.runs)
            if r.estimated_error_rate is not None
        ]
        return points

    @property
    def latest(self) -> IndexRun:
        return self.runs[0]


# -- loading --------------------------------------------------------------------------------------------
