"""What a report shows, loaded from DuckDB into the small typed records of :mod:`labelaudit.report.views`, so
templates never query.

:func:`load_run` reads one run (every stage's tables, whatever stages completed) and :func:`load_index` reads
the summary of every run per dataset. The named reads shared with the CLI and the artifacts (trend, flagged
rows, the index) are :mod:`labelaudit.store.queries`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb

from labelaudit.errors import RunNotFoundError
from labelaudit.report.data_issues_section import load_data_issues_section
from labelaudit.report.labelers_section import load_labelers_section
from labelaudit.report.models_section import load_models_section
from labelaudit.report.sequence_section import load_sequence_section
from labelaudit.report.views import (
    DEFAULT_MAX_CELL_CHARS,
    DEFAULT_MAX_FLAGGED_ROWS,
    FIXED_COLUMNS,
    HISTOGRAM_BINS,
    BatchView,
    ClassView,
    ColumnFormat,
    ColumnView,
    DatasetIndex,
    FlaggedTable,
    FoldView,
    GateView,
    HistogramBin,
    IndexRun,
    MetricsView,
    NoiseCell,
    RunView,
    StageView,
    TrendPoint,
    ValidationView,
    column_format,
)
from labelaudit.store import STAGE_TABLES, AuditStore, queries

#: The views are defined in :mod:`labelaudit.report.views`; their names stay importable from here.
__all__ = [
    "DEFAULT_MAX_CELL_CHARS",
    "DEFAULT_MAX_FLAGGED_ROWS",
    "FIXED_COLUMNS",
    "BatchView",
    "ClassView",
    "ColumnFormat",
    "ColumnView",
    "DatasetIndex",
    "FlaggedTable",
    "FoldView",
    "GateView",
    "HistogramBin",
    "IndexRun",
    "MetricsView",
    "NoiseCell",
    "RunView",
    "StageView",
    "TrendPoint",
    "ValidationView",
    "column_format",
    "load_index",
    "load_run",
]


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
        columns = _columns(con, run_id)
        classes = _classes(con, run_id)
        gate = _gate(con, run_id)
        models = load_models_section(con, run_id)
        knn = models is not None and models.has_opinions
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
            metrics=_metrics(metrics[0]) if metrics else None,
            classes=classes,
            noise=_noise(con, run_id, labels),
            gate=gate,
            folds=_folds(con, run_id),
            histogram=_histogram(con, run_id),
            flag_cutoff=con.execute(
                "SELECT max(label_quality) FROM scores WHERE run_id = ? AND is_issue", [run_id]
            ).fetchone()[0],
            trend=_trend(con, run["dataset"], run_id, run["started_at"]),
            flagged=_flagged(con, run_id, columns, max_flagged_rows, max_cell_chars, knn=knn),
            labels=labels,
            labelers=load_labelers_section(con, run_id, run["dataset"], _json(run["params"], {})),
            sequences=load_sequence_section(con, run_id, _json(run["params"], {})),
            data_issues=load_data_issues_section(
                con, run_id, [c.name for c in columns if c.role not in ("id", "label")], gate
            ),
            models=models,
        )
    return view


def _metrics(row: dict[str, Any]) -> MetricsView:
    """The run's metrics the view knows (a later migration's columns do not break an older view)."""
    return MetricsView(**{k: v for k, v in row.items() if k in MetricsView.__dataclass_fields__})


def _columns(con: duckdb.DuckDBPyConnection, run_id: str) -> list[ColumnView]:
    return [
        ColumnView(r["position"], r["column_name"], r["dtype"], r["role"])
        for r in _rows(
            con,
            "SELECT position, column_name, dtype, role FROM ingested_columns WHERE run_id = ? ORDER BY position",
            [run_id],
        )
    ]


def _classes(con: duckdb.DuckDBPyConnection, run_id: str) -> list[ClassView]:
    return [
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


def _gate(con: duckdb.DuckDBPyConnection, run_id: str) -> list[GateView]:
    sql = "SELECT * EXCLUDE (run_id) FROM gate_results WHERE run_id = ? ORDER BY passed, code, scope"
    return [GateView(**r) for r in _rows(con, sql, [run_id])]


def _folds(con: duckdb.DuckDBPyConnection, run_id: str) -> list[FoldView]:
    sql = "SELECT * EXCLUDE (run_id) FROM fold_metrics WHERE run_id = ? ORDER BY fold NULLS LAST"
    return [FoldView(**r) for r in _rows(con, sql, [run_id])]


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
        for r in reversed(queries.dataset_trend(con, dataset, up_to=(started_at, run_id)))
    ]


def _flagged(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    columns: list[ColumnView],
    limit: int,
    max_chars: int,
    *,
    knn: bool = False,
) -> FlaggedTable:
    total, fetched = queries.flagged_rows_with_records(con, run_id, limit=limit)
    agreement = _knn_agreement(con, run_id, [row[1] for row in fetched], limit) if knn else None
    # The id and label are shown in the fixed columns; the row's other fields follow in file order.
    fields = [c.name for c in columns if c.role not in ("id", "label")]
    if not columns and fetched:  # no column list stored: take the first record's keys
        fields = list(_json(fetched[0][-1], {}))
    rows: list[list[Any]] = []
    cut_cells = 0
    for rank, row_id, given, suggested, quality, prob, record_text in fetched:
        record = _json(record_text, {})
        if not isinstance(record, dict):
            record = {}
        row: list[Any] = [rank, row_id, given, suggested, quality, prob]
        if agreement is not None:
            row.append(_finite(agreement[len(rows)]))
        for name in fields:
            value, was_cut = _cut(record.get(name), max_chars)
            cut_cells += was_cut
            row.append(value)
        for i in (1, 2, 3):
            row[i], was_cut = _cut(row[i], max_chars)
            cut_cells += was_cut
        rows.append(row)
    first = len(FIXED_COLUMNS) + (agreement is not None)
    formats = [column_format([row[first + i] for row in rows]) for i in range(len(fields))]
    knn_shown = agreement is not None
    return FlaggedTable(fields, rows, int(total), cut_cells=cut_cells, field_formats=formats, knn=knn_shown)


def _knn_agreement(con: duckdb.DuckDBPyConnection, run_id: str, row_ids: list[Any], limit: int) -> list[Any] | None:
    """The neighbours' agreement of the flagged rows, in the order of ``row_ids`` (the flagged rows' order:
    ``issue_rank``, then ``row_idx``); None if a row is missing, so the table shows no half-filled column."""
    found = con.execute(
        """SELECT row_id, knn_agreement FROM scores WHERE run_id = ? AND is_issue
           ORDER BY issue_rank NULLS LAST, row_idx LIMIT ?""",
        [run_id, limit],
    ).fetchall()
    if [r[0] for r in found] != row_ids:
        return None
    return [r[1] for r in found]


def _finite(value: Any) -> Any:
    """NaN and infinities are not JSON: shown as missing."""
    return None if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))) else value


def load_index(store: AuditStore) -> list[DatasetIndex]:
    """Every run of every dataset, newest first, with its batch and headline numbers."""
    rows = queries.index_runs(store)
    datasets: dict[str, list[IndexRun]] = {}
    for r in rows:
        r["started_at"] = _utc(r["started_at"])
        datasets.setdefault(r["dataset"], []).append(IndexRun(**r))
    return [DatasetIndex(name, runs) for name, runs in datasets.items()]
