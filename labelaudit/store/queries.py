"""Named reads of the audit database, for the CLI and scripts: the SQL lives here, not in command bodies.

Each read returns records of plain Python values (``None`` for SQL NULL, never NaN), so callers can print or
serialise them without the pandas NaN-versus-None pitfalls that made ``labelaudit runs`` print ``nan``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from labelaudit.store.database import AuditStore


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


#: A failed or running run has no verdict; its status is the answer. Otherwise the gate's verdict is.
_OUTCOME = "CASE WHEN r.status IN ('failed', 'running') THEN r.status ELSE coalesce(r.verdict, r.status) END"


def _records(store: AuditStore, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with store.connect(reading=True) as con:
        cursor = con.execute(sql, params)
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
