"""What a report shows, loaded from DuckDB into small typed records, so templates never query.

:func:`load_run` reads one run (every stage's tables, whatever stages completed) and :func:`load_index` reads
the summary of every run per dataset. Values from the data (labels, ids, column names, text) are kept as they
are: escaping is the template engine's job (autoescape), and the flagged rows are embedded as JSON by
:mod:`labelaudit.report.render`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import duckdb

from labelaudit.errors import RunNotFoundError
from labelaudit.report.labelers_section import LabelersSection, load_labelers_section
from labelaudit.report.sequence_section import SequenceSection, load_sequence_section
from labelaudit.store import STAGE_TABLES, AuditStore

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

    ``columns`` are :data:`FIXED_COLUMNS` followed by the row's own fields (``fields``). ``total`` is the
    number of flagged rows of the run; ``len(rows)`` can be smaller when the report caps it.
    ``cut_cells`` counts the values shortened to the report's per-cell limit.
    """

    fields: list[str]
    rows: list[list[Any]]
    total: int
    cut_cells: int = 0
    field_formats: list[ColumnFormat] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [*FIXED_COLUMNS, *self.fields]

    @property
    def formats(self) -> list[ColumnFormat]:
        """One format per column of :attr:`columns` (fields without a computed format show as text)."""
        own = self.field_formats + [ColumnFormat("text")] * (len(self.fields) - len(self.field_formats))
        return [*FIXED_FORMATS, *own]

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


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Every row of ``sql`` as dicts of plain Python values (NULL is None)."""
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _json(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _cut(value: Any, limit: int) -> tuple[Any, bool]:
    """``value`` ready for the page's JSON: long strings cut to ``limit``; nested values as JSON text."""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, float) and value != value:  # NaN is not valid JSON
        return None, False
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}… [cut: {len(value):,} characters in all]", True
    return value, False


def load_run(
    store: AuditStore,
    run_id: str,
    *,
    max_flagged_rows: int = DEFAULT_MAX_FLAGGED_ROWS,
    max_cell_chars: int = DEFAULT_MAX_CELL_CHARS,
) -> RunView:
    """Read everything the report of ``run_id`` shows, in one connection.

    Parameters
    ----------
    store : AuditStore
        The audit database.
    run_id : str
        The run; :class:`~labelaudit.errors.RunNotFoundError` if it is not stored.
    max_flagged_rows : int, default=50_000
        Flagged rows embedded, in ``issue_rank`` order; the report says when there are more.
    max_cell_chars : int, default=10_000
        Longest text value embedded per cell.
    """
    if max_flagged_rows < 0 or max_cell_chars < 1:
        raise ValueError("max_flagged_rows must be >= 0 and max_cell_chars >= 1")
    with store.connect(reading=True) as con:
        found = _rows(con, "SELECT * FROM runs WHERE run_id = ?", [run_id])
        if not found:
            raise RunNotFoundError(f"no run {run_id!r} in {store.path}")
        run = found[0]
        metrics = _rows(con, "SELECT * EXCLUDE (run_id) FROM run_metrics WHERE run_id = ?", [run_id])
        columns = [
            ColumnView(r["position"], r["column_name"], r["dtype"], r["role"])
            for r in _rows(
                con,
                "SELECT position, column_name, dtype, role FROM ingested_columns WHERE run_id = ? ORDER BY position",
                [run_id],
            )
        ]
        classes = [
            ClassView(**r)
            for r in _rows(
                con,
                """SELECT cm.label, cm.given_count, cm.flagged, cm.estimated_error_rate, cm.flagged_rate,
                          cm.oof_accuracy
                   FROM class_metrics cm LEFT JOIN classes c ON c.run_id = cm.run_id AND c.label = cm.label
                   WHERE cm.run_id = ? ORDER BY c.class_idx NULLS LAST, cm.label""",
                [run_id],
            )
        ]
        labels = [c.label for c in classes] or [
            r["label"] for r in _rows(con, "SELECT label FROM classes WHERE run_id = ? ORDER BY class_idx", [run_id])
        ]
        view = RunView(
            run_id=run["run_id"],
            dataset=run["dataset"],
            source=run["source"],
            status=run["status"],
            verdict=run["verdict"],
            message=run["message"],
            started_at=_utc(run["started_at"]),
            finished_at=_utc(run["finished_at"]),
            params=_json(run["params"], {}),
            code_version=run["code_version"],
            flow_run_id=run["flow_run_id"],
            host=run["host"],
            stages=_stages(con, run_id),
            batch=_batch(con, run_id),
            columns=columns,
            validation=_validation(con, run_id),
            metrics=MetricsView(**metrics[0]) if metrics else None,
            classes=classes,
            noise=_noise(con, run_id, labels),
            gate=[
                GateView(**r)
                for r in _rows(
                    con,
                    "SELECT * EXCLUDE (run_id) FROM gate_results WHERE run_id = ? ORDER BY passed, code, scope",
                    [run_id],
                )
            ],
            folds=[
                FoldView(**r)
                for r in _rows(
                    con,
                    "SELECT * EXCLUDE (run_id) FROM fold_metrics WHERE run_id = ? ORDER BY fold NULLS LAST",
                    [run_id],
                )
            ],
            histogram=_histogram(con, run_id),
            flag_cutoff=con.execute(
                "SELECT max(label_quality) FROM scores WHERE run_id = ? AND is_issue", [run_id]
            ).fetchone()[0],
            trend=_trend(con, run["dataset"], run_id, run["started_at"]),
            flagged=_flagged(con, run_id, columns, max_flagged_rows, max_cell_chars),
            labels=labels,
            labelers=load_labelers_section(con, run_id, run["dataset"], _json(run["params"], {})),
            sequences=load_sequence_section(con, run_id, _json(run["params"], {})),
        )
    return view


def _stages(con: duckdb.DuckDBPyConnection, run_id: str) -> list[StageView]:
    # The pipeline's order (the schema's stage list) rather than start times, which a re-run or a failure
    # report can leave out of order.
    ranks = " ".join(f"WHEN '{name}' THEN {rank}" for rank, name in enumerate(STAGE_TABLES))
    order = f"CASE stage {ranks} ELSE {len(STAGE_TABLES)} END, started_at NULLS LAST"
    return [
        StageView(
            r["stage"],
            r["status"],
            _utc(r["started_at"]),
            _utc(r["finished_at"]),
            r["seconds"],
            r["rows"],
            r["message"],
        )
        for r in _rows(con, f"SELECT * FROM run_stages WHERE run_id = ? ORDER BY {order}", [run_id])
    ]


def _batch(con: duckdb.DuckDBPyConnection, run_id: str) -> BatchView | None:
    rows = _rows(con, "SELECT * EXCLUDE (run_id) FROM batches WHERE run_id = ? LIMIT 1", [run_id])
    if not rows:
        return None
    r = rows[0]
    return BatchView(r["path"], r["sha256"], r["bytes"], r["rows"], r["format"], _utc(r["ingested_at"]))


def _validation(con: duckdb.DuckDBPyConnection, run_id: str) -> list[ValidationView]:
    out = []
    for r in _rows(
        con,
        "SELECT * EXCLUDE (run_id) FROM validation_results WHERE run_id = ? ORDER BY success, code NULLS LAST",
        [run_id],
    ):
        examples = _json(r["examples"], {})
        if not isinstance(examples, dict):
            examples = {"values": examples if isinstance(examples, list) else [examples]}
        out.append(
            ValidationView(
                code=r["code"],
                expectation_type=r["expectation_type"],
                column=r["column_name"],
                success=bool(r["success"]),
                element_count=r["element_count"],
                unexpected_count=r["unexpected_count"],
                unexpected_percent=r["unexpected_percent"],
                examples=list(examples.get("values") or []),
                rows=list(examples.get("rows") or []),
                kwargs=_json(r["kwargs"], {}),
                message=r["message"],
            )
        )
    return out


def _noise(con: duckdb.DuckDBPyConnection, run_id: str, labels: list[str]) -> list[NoiseCell]:
    cells = [
        NoiseCell(**r) for r in _rows(con, "SELECT * EXCLUDE (run_id) FROM noise_matrix WHERE run_id = ?", [run_id])
    ]
    order = {label: i for i, label in enumerate(labels)}
    return sorted(
        cells,
        key=lambda c: (
            order.get(c.given_label, len(order)),
            c.given_label,
            order.get(c.true_label, len(order)),
            c.true_label,
        ),
    )


def _histogram(con: duckdb.DuckDBPyConnection, run_id: str, bins: int = HISTOGRAM_BINS) -> list[HistogramBin]:
    counts = {
        (int(b), bool(flag)): int(n)
        for b, flag, n in con.execute(
            """SELECT least(greatest(floor(label_quality * ?), 0), ? - 1)::INTEGER AS b, is_issue, count(*)
               FROM scores WHERE run_id = ? GROUP BY ALL""",
            [bins, bins, run_id],
        ).fetchall()
    }
    if not counts:
        return []
    return [
        HistogramBin(i / bins, (i + 1) / bins, counts.get((i, True), 0), counts.get((i, False), 0)) for i in range(bins)
    ]


def _trend(con: duckdb.DuckDBPyConnection, dataset: str, run_id: str, started_at: datetime) -> list[TrendPoint]:
    """This dataset's scored runs up to this one, oldest first."""
    return [
        TrendPoint(r["run_id"], _utc(r["started_at"]), r["estimated_error_rate"], r["verdict"], r["run_id"] == run_id)
        for r in _rows(
            con,
            """SELECT r.run_id, r.started_at, m.estimated_error_rate, r.verdict
               FROM runs r JOIN run_metrics m USING (run_id)
               WHERE r.dataset = ? AND (r.started_at <= ? OR r.run_id = ?)
               ORDER BY r.started_at, r.run_id""",
            [dataset, started_at, run_id],
        )
    ]


def _flagged(
    con: duckdb.DuckDBPyConnection, run_id: str, columns: list[ColumnView], limit: int, max_chars: int
) -> FlaggedTable:
    total = con.execute("SELECT count(*) FROM scores WHERE run_id = ? AND is_issue", [run_id]).fetchone()[0]
    # The id and label are shown in the fixed columns; the row's other fields follow in file order.
    fields = [c.name for c in columns if c.role not in ("id", "label")]
    cursor = con.execute(
        # the top rows are picked before the join (a top-N, not a sort of every flagged row: millions out of core)
        """SELECT s.issue_rank, s.row_id, s.given_label, s.suggested_label, s.label_quality, s.suggested_prob,
                  r.record
           FROM (SELECT * FROM scores WHERE run_id = ? AND is_issue
                 ORDER BY issue_rank NULLS LAST, row_idx LIMIT ?) s
           LEFT JOIN ingested_rows r ON r.run_id = s.run_id AND r.row_idx = s.row_idx
           ORDER BY s.issue_rank NULLS LAST, s.row_idx""",
        [run_id, limit],
    )
    fetched = cursor.fetchall()
    if not columns and fetched:  # no column list stored: take the first record's keys
        fields = list(_json(fetched[0][-1], {}))
    rows: list[list[Any]] = []
    cut_cells = 0
    for rank, row_id, given, suggested, quality, prob, record_text in fetched:
        record = _json(record_text, {})
        if not isinstance(record, dict):
            record = {}
        row: list[Any] = [rank, row_id, given, suggested, quality, prob]
        for name in fields:
            value, was_cut = _cut(record.get(name), max_chars)
            cut_cells += was_cut
            row.append(value)
        for i in (1, 2, 3):
            row[i], was_cut = _cut(row[i], max_chars)
            cut_cells += was_cut
        rows.append(row)
    first = len(FIXED_COLUMNS)
    formats = [column_format([row[first + i] for row in rows]) for i in range(len(fields))]
    return FlaggedTable(fields=fields, rows=rows, total=int(total), cut_cells=cut_cells, field_formats=formats)


def load_index(store: AuditStore) -> list[DatasetIndex]:
    """Every run of every dataset, newest first, with its batch and headline numbers."""
    with store.connect(reading=True) as con:
        rows = _rows(
            con,
            """SELECT r.run_id, r.dataset, r.started_at, r.source, b.sha256, r.status, r.verdict, r.message,
                      coalesce(m.rows, b.rows) AS rows, m.flagged, m.estimated_error_rate
               FROM runs r
               LEFT JOIN run_metrics m USING (run_id)
               LEFT JOIN (SELECT run_id, any_value(sha256) AS sha256, sum(rows) AS rows FROM batches GROUP BY run_id)
                    b USING (run_id)
               ORDER BY r.dataset, r.started_at DESC, r.run_id DESC""",
        )
    datasets: dict[str, list[IndexRun]] = {}
    for r in rows:
        r["started_at"] = _utc(r["started_at"])
        datasets.setdefault(r["dataset"], []).append(IndexRun(**r))
    return [DatasetIndex(name, runs) for name, runs in datasets.items()]
