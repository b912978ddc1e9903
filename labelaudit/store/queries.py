"""Named reads of the audit database (runs, flagged rows, trends), for the CLI, the Prefect artifacts, the report
and scripts: the SQL of these reads lives here, not in command bodies, tasks or templates.

Each read returns records of plain Python values (``None`` for SQL NULL, never NaN), so callers can print or
serialise them without the pandas NaN-versus-None pitfalls that made ``labelaudit runs`` print ``nan``.
"""

# Over 400 lines on purpose: every named read of the database is here, so the CLI, the artifacts and the report
# share one query per question; splitting by reader would bring back the copies this module replaced.

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

import pandas as pd

from labelaudit.store.database import AuditStore

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "DATA_ISSUE_ORDER",
    "FlaggedRecord",
    "RunRecord",
    "TrendRecord",
    "accepted_label_history",
    "class_imbalance",
    "data_issue_rates",
    "data_issue_rows",
    "data_issue_summary",
    "dataset_issue_verdicts",
    "dataset_trend",
    "dataset_verdicts",
    "earlier_row_hashes",
    "flagged_rows",
    "flagged_rows_with_records",
    "index_runs",
    "label_drift",
    "model_candidates",
    "neighbour_opinions",
    "opinion_split",
    "recent_runs",
]


class RunRecord(TypedDict):
    """One line of :func:`recent_runs`."""

    run_id: str
    dataset: str
    status: str  # running | completed | rejected | failed
    verdict: str | None  # accepted | rejected | None before the gate
    outcome: str  # accepted | rejected | failed | running: what a person asks first
    rows: int | None
    flagged: int | None
    estimated_error_rate: float | None
    started_at: datetime
    finished_at: datetime | None
    source: str | None
    message: str | None  # why a run failed or was rejected


class FlaggedRecord(TypedDict):
    """One line of :func:`flagged_rows`."""

    issue_rank: int | None
    row_id: str
    given_label: str
    suggested_label: str
    score: float
    suggested_prob: float


class TrendRecord(TypedDict):
    """One line of :func:`dataset_trend`: a scored run of the dataset and its rates."""

    run_id: str
    started_at: datetime
    source: str | None
    verdict: str | None
    rows: int
    estimated_error_rate: float
    flagged_rate: float
    per_class: str | None  # "cat 1.2%, dog 0.4%": estimated error rate per class, by label


#: A failed or running run has no verdict; its status is the answer. Otherwise the gate's verdict is.
_OUTCOME = "CASE WHEN r.status IN ('failed', 'running') THEN r.status ELSE coalesce(r.verdict, r.status) END"


def _records(source: AuditStore | duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """Rows as dicts; ``source`` is the store (a read-only connection is opened) or an open connection (the
    report reads a run in one connection)."""
    if isinstance(source, AuditStore):
        with source.connect(reading=True) as con:
            return _records(con, sql, params)
    cursor = source.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def recent_runs(store: AuditStore, *, dataset: str | None = None, limit: int = 20) -> list[RunRecord]:
    """The most recent runs, newest first, with their outcome and headline numbers.

    Parameters
    ----------
    store : AuditStore
        The audit database.
    dataset : str, optional
        Only this dataset's runs.
    limit : int, default=20
        Most runs returned.
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    sql = f"""SELECT r.run_id, r.dataset, r.status, r.verdict, {_OUTCOME} AS outcome, m.rows, m.flagged,
                     m.estimated_error_rate, r.started_at, r.finished_at, r.source, r.message
              FROM runs r LEFT JOIN run_metrics m USING (run_id)
              WHERE ?::VARCHAR IS NULL OR r.dataset = ?
              ORDER BY r.started_at DESC, r.run_id DESC LIMIT ?"""
    return [RunRecord(**r) for r in _records(store, sql, [dataset, dataset, limit])]


def flagged_rows(store: AuditStore, run_id: str, *, limit: int = 20) -> list[FlaggedRecord]:
    """A run's flagged rows, most suspicious (lowest label-quality score) first.

    Parameters
    ----------
    store : AuditStore
        The audit database.
    run_id : str
        The run; an unknown run has no flagged rows (see :meth:`AuditStore.run` to tell the two apart).
    limit : int, default=20
        Most rows returned.
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    sql = """SELECT issue_rank, row_id, given_label, suggested_label, score, suggested_prob
             FROM flagged_rows WHERE run_id = ? ORDER BY issue_rank NULLS LAST, row_id LIMIT ?"""
    return [FlaggedRecord(**r) for r in _records(store, sql, [run_id, limit])]


def flagged_rows_with_records(
    con: duckdb.DuckDBPyConnection, run_id: str, *, limit: int
) -> tuple[int, list[tuple[Any, ...]]]:
    """How many rows of a run are flagged, and the first ``limit`` in ``issue_rank`` order with their stored
    record (JSON text; None out of core, where rows are not copied): (rank, row id, given, suggested, label
    quality, suggested probability, record)."""
    total = con.execute("SELECT count(*) FROM scores WHERE run_id = ? AND is_issue", [run_id]).fetchone()[0]
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
    return int(total), cursor.fetchall()


def dataset_trend(
    source: AuditStore | duckdb.DuckDBPyConnection,
    dataset: str,
    *,
    up_to: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> list[TrendRecord]:
    """The dataset's scored runs, newest first: error rate overall and per class.

    Parameters
    ----------
    source : AuditStore or duckdb.DuckDBPyConnection
        The audit database, or an open connection to it.
    dataset : str
        The dataset.
    up_to : (started_at, run_id), optional
        Only runs started at or before ``started_at``, and that run (a report shows the trend up to its run).
    limit : int, optional
        Most runs returned.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    started, run_id = up_to if up_to is not None else (None, None)
    sql = """SELECT r.run_id, r.started_at, r.source, r.verdict, m.rows, m.estimated_error_rate, m.flagged_rate,
                    (SELECT string_agg(c.label || ' ' || printf('%.1f', 100 * c.estimated_error_rate) || '%', ', '
                                       ORDER BY c.label)
                     FROM class_metrics c WHERE c.run_id = r.run_id) AS per_class
             FROM runs r JOIN run_metrics m USING (run_id)
             WHERE r.dataset = ? AND (?::TIMESTAMPTZ IS NULL OR r.started_at <= ? OR r.run_id = ?)
             ORDER BY r.started_at DESC, r.run_id DESC LIMIT ?"""
    params = [dataset, started, started, run_id, limit]
    return [TrendRecord(**r) for r in _records(source, sql, params)]


def index_runs(store: AuditStore) -> list[dict[str, Any]]:
    """Every run of every dataset (by dataset, newest first) with its batch and headline numbers: the reports'
    index page."""
    return _records(
        store,
        """SELECT r.run_id, r.dataset, r.started_at, r.source, b.sha256, r.status, r.verdict, r.message,
                  coalesce(m.rows, b.rows) AS rows, m.flagged, m.estimated_error_rate,
                  d.data_issues, d.data_issue_types
           FROM runs r
           LEFT JOIN run_metrics m USING (run_id)
           -- data-issue findings (issue 14): NULL for runs without the stage (older or failed runs). data_issues
           -- counts distinct rows with at least one finding: a row both exact and conflicting duplicate is one row
           LEFT JOIN (SELECT s.run_id,
                             coalesce(any_value(f.rows), 0)::BIGINT AS data_issues,
                             string_agg(s.issue_type || ' ' || s.flagged, ', ' ORDER BY s.issue_type)
                                 FILTER (WHERE s.checked AND s.flagged > 0) AS data_issue_types
                      FROM data_issue_summary s
                      LEFT JOIN (SELECT run_id, count(DISTINCT row_idx) AS rows FROM data_issue_findings
                                 WHERE is_issue GROUP BY run_id) f USING (run_id)
                      GROUP BY s.run_id) d USING (run_id)
           LEFT JOIN (SELECT run_id, any_value(sha256) AS sha256, sum(rows) AS rows FROM batches GROUP BY run_id)
                b USING (run_id)
           ORDER BY r.dataset, r.started_at DESC, r.run_id DESC""",
        [],
    )


def dataset_verdicts(
    source: AuditStore | duckdb.DuckDBPyConnection, dataset: str, *, exclude_run: str | None = None
) -> pd.DataFrame:
    """Every stored verdict of ``dataset``, the latest per (run, row), with the run's start time.

    Columns: ``run_id``, ``run_started_at``, ``id`` (row id), ``verdict``, ``corrected_label``, ``score``,
    ``given_label``, ``suggested_label``, ``reviewer``, ``imported_at``; oldest import first.
    """
    sql = """
        SELECT v.run_id, r.started_at AS run_started_at, v.row_id AS id, v.verdict, v.corrected_label, v.score,
               v.given_label, v.suggested_label, v.reviewer, v.imported_at
        FROM review_verdicts v LEFT JOIN runs r USING (run_id)
        WHERE v.dataset = ? AND (? IS NULL OR v.run_id <> ?)
        QUALIFY row_number() OVER (PARTITION BY v.run_id, v.row_id ORDER BY v.imported_at DESC, v.import_id) = 1
        ORDER BY v.imported_at, v.run_id, v.row_id
    """
    params = [dataset, exclude_run, exclude_run]
    if isinstance(source, AuditStore):
        return source.query(sql, params)
    return source.execute(sql, params).df()


def dataset_issue_verdicts(source: AuditStore | duckdb.DuckDBPyConnection, dataset: str) -> pd.DataFrame:
    """Every stored verdict on a data-issue finding of ``dataset`` (``data_issue_verdicts``), the latest per
    (run, row, issue type). Columns: ``run_id``, ``id`` (row id), ``issue_type``, ``verdict``, ``score``,
    ``corrected_label``, ``reviewer``, ``imported_at``; oldest import first."""
    sql = """
        SELECT run_id, row_id AS id, issue_type, verdict, score, corrected_label, reviewer, imported_at
        FROM data_issue_verdicts WHERE dataset = ?
        QUALIFY row_number() OVER (PARTITION BY run_id, row_id, issue_type ORDER BY imported_at DESC, import_id) = 1
        ORDER BY imported_at, run_id, row_id, issue_type
    """
    if isinstance(source, AuditStore):
        return source.query(sql, [dataset])
    return source.execute(sql, [dataset]).df()


# -- data issues (issue 14): what the data_issues stage reads of earlier runs --------------------------------


def earlier_row_hashes(
    store: AuditStore, dataset: str, feature_key: str, *, exclude_run: str, hashes: Any
) -> pd.DataFrame:
    """The stored row hashes of ``dataset``'s accepted runs (``exclude_run`` left out) that equal one of
    ``hashes``: the leakage check's history, read without reading any earlier row.

    Only accepted runs count: a rejected batch is usually fixed and sent again, and its corrected copy
    repeating it is not leakage. Only hashes under the same ``feature_key`` compare (same scheme, same columns).
    Columns ``run_id, row_id, hash, label``, oldest run first (the earliest copy is the one a finding names).
    """
    import numpy as np

    wanted = pd.DataFrame({"hash": np.unique(np.asarray(hashes, dtype=np.uint64))})
    with store.connect(reading=True) as con, con.cursor() as cur:
        cur.register("_batch_hashes", wanted)
        return cur.execute(
            """SELECT h.run_id, h.row_id, h.hash, h.label
               FROM row_hashes h JOIN runs r USING (run_id) SEMI JOIN _batch_hashes b ON b.hash = h.hash
               WHERE r.dataset = ? AND h.feature_key = ? AND h.run_id <> ? AND r.verdict = 'accepted'
               ORDER BY r.started_at, h.run_id, h.row_idx""",
            [dataset, feature_key, exclude_run],
        ).df()


def accepted_label_history(store: AuditStore, dataset: str, *, exclude_run: str) -> tuple[pd.Series, int]:
    """Count per class over ``dataset``'s accepted runs (``exclude_run`` left out), and how many runs that is.

    Read from the earlier runs' own ``label_drift_classes`` (their batch counts, in the kind's unit: rows, tags
    or tokens), so runs audited before the data_issues stage existed are not part of the history.
    """
    frame = store.query(
        """SELECT c.label, sum(c.batch_count)::BIGINT AS count, count(DISTINCT c.run_id) AS runs
           FROM label_drift_classes c JOIN runs r USING (run_id)
           WHERE r.dataset = ? AND r.verdict = 'accepted' AND c.run_id <> ?
           GROUP BY c.label ORDER BY c.label""",
        [dataset, exclude_run],
    )
    runs = store.query(
        """SELECT count(DISTINCT c.run_id) FROM label_drift_classes c JOIN runs r USING (run_id)
           WHERE r.dataset = ? AND r.verdict = 'accepted' AND c.run_id <> ?""",
        [dataset, exclude_run],
    ).iloc[0, 0]
    return pd.Series(frame["count"].to_numpy(), index=frame["label"].astype(str), dtype="int64"), int(runs)


def data_issue_rates(store: AuditStore, run_id: str) -> dict[str, float]:
    """The rate of each issue type the run's data_issues stage checked (``data_issue_summary.rate``): what the
    gate compares with ``quality.json``. Empty for a run without the stage (``labelaudit score``)."""
    frame = store.query(
        "SELECT issue_type, rate FROM data_issue_summary WHERE run_id = ? AND checked AND rate IS NOT NULL",
        [run_id],
    )
    return {str(t): float(r) for t, r in zip(frame["issue_type"], frame["rate"], strict=True)}


# -- data issues (issue 14): the report's section, the index column, the artifact line -----------------------


def data_issue_summary(source: AuditStore | duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    """One row per issue type a run's data-issues stage looked at (``data_issue_summary``: checked, rows,
    flagged, groups, rate, message), in a fixed reading order; empty for runs without the stage."""
    order = " ".join(f"WHEN '{t}' THEN {i}" for i, t in enumerate(DATA_ISSUE_ORDER))
    sql = f"""SELECT issue_type, checked, rows, flagged, groups, rate, message FROM data_issue_summary
              WHERE run_id = ? ORDER BY CASE issue_type {order} ELSE {len(DATA_ISSUE_ORDER)} END, issue_type"""
    return _records(source, sql, [run_id])


#: The order the report, the artifact line and the index list the issue types in (most direct evidence first).
DATA_ISSUE_ORDER = (
    "conflicting_duplicate",
    "exact_duplicate",
    "near_duplicate",
    "leaked_duplicate",
    "outlier",
    "uncertain",
    "label_drift",
    "class_imbalance",
)


def data_issue_rows(
    con: duckdb.DuckDBPyConnection, run_id: str, issue_type: str, *, grouped: bool, limit: int
) -> list[dict[str, Any]]:
    """Findings of one issue type with the row's label key (``row_hashes.label``) and stored record.

    ``grouped``: the rows of the first ``limit`` groups (by ``group_id``), every row of a group, in batch order;
    otherwise the ``limit`` most severe flagged rows (lowest score).
    """
    rows = """SELECT f.row_idx, f.row_id, f.score, f.is_issue, f.group_id, f.detail, h.label, r.record
              FROM data_issue_findings f
              LEFT JOIN row_hashes h ON h.run_id = f.run_id AND h.row_idx = f.row_idx
              LEFT JOIN ingested_rows r ON r.run_id = f.run_id AND r.row_idx = f.row_idx"""
    if grouped:
        sql = f"""{rows}
                  JOIN (SELECT DISTINCT group_id FROM data_issue_findings
                        WHERE run_id = ? AND issue_type = ? AND group_id IS NOT NULL ORDER BY group_id LIMIT ?) g
                    USING (group_id)
                  WHERE f.run_id = ? AND f.issue_type = ? ORDER BY f.group_id, f.row_idx"""
        return _records(con, sql, [run_id, issue_type, limit, run_id, issue_type])
    sql = f"{rows} WHERE f.run_id = ? AND f.issue_type = ? AND f.is_issue ORDER BY f.score, f.row_idx LIMIT ?"
    return _records(con, sql, [run_id, issue_type, limit])


def label_drift(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """A run's label-drift test (``label_drift``, one row or None) and its classes (``label_drift_classes``,
    largest share of batch or history first)."""
    test = _records(con, "SELECT * EXCLUDE (run_id) FROM label_drift WHERE run_id = ?", [run_id])
    classes = _records(
        con,
        """SELECT * EXCLUDE (run_id) FROM label_drift_classes WHERE run_id = ?
           ORDER BY greatest(batch_share, history_share) DESC, label""",
        [run_id],
    )
    return (test[0] if test else None), classes


def class_imbalance(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    """A run's classes with their share and ratio to an even share (``class_imbalance``), rarest first."""
    sql = "SELECT * EXCLUDE (run_id) FROM class_imbalance WHERE run_id = ? ORDER BY ratio, label"
    return _records(con, sql, [run_id])


def model_candidates(source: AuditStore | duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    """What ``"classifier": "auto"`` compared for a run (``model_candidates``), in the order they are reported
    (chosen first, then by the criterion's figure); empty for a fixed classifier or precomputed probabilities."""
    sql = """SELECT name, log_loss, accuracy, brier, seconds, screen_log_loss, screened_rows, chosen, criterion,
                    in_mean
             FROM model_candidates WHERE run_id = ?
             ORDER BY chosen DESC, accuracy DESC NULLS LAST, log_loss, screen_log_loss NULLS LAST, name"""
    return _records(source, sql, [run_id])


def opinion_split(source: AuditStore | duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any] | None:
    """The model scored, the flag rule and how confident learning and the neighbours split the rows
    (``run_metrics``); None for a run without the neighbour score (sequence kinds, out of core, older runs)."""
    sql = """SELECT model, flag_rule, neighbours, flagged, flagged_by_both, flagged_by_cl_only,
                    flagged_by_neighbours_only
             FROM run_metrics WHERE run_id = ? AND neighbours IS NOT NULL"""
    found = _records(source, sql, [run_id])
    return found[0] if found else None


def neighbour_opinions(
    source: AuditStore | duckdb.DuckDBPyConnection, run_id: str, *, limit: int = 20
) -> dict[str, list[dict[str, Any]]]:
    """Rows where the two opinions disagree, most telling first: ``cl_only`` (confident learning flags, the
    neighbours carry the label; lowest label quality first) and ``neighbours_only`` (the neighbours mostly
    carry another label, confident learning does not flag; lowest agreement first)."""
    columns = "row_id, given_label, suggested_label, label_quality, knn_agreement, is_issue"
    cl_only = f"""SELECT {columns} FROM scores WHERE run_id = ? AND cl_issue AND NOT knn_disagrees
                  ORDER BY label_quality, row_idx LIMIT ?"""
    knn_only = f"""SELECT {columns} FROM scores WHERE run_id = ? AND NOT cl_issue AND knn_disagrees
                   ORDER BY knn_agreement, row_idx LIMIT ?"""
    return {
        "cl_only": _records(source, cl_only, [run_id, limit]),
        "neighbours_only": _records(source, knn_only, [run_id, limit]),
    }
