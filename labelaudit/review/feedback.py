"""The review loop and cleaned exports, against the audit database.

- :func:`review_sheet` / :func:`write_review_sheet`: a run's flagged rows as a CSV for reviewers (``id``,
  ``given``, ``suggested``, ``score``, ``suggested_prob``, ``issue_type`` (``label``), the row's own fields, empty
  ``verdict`` and ``corrected_label``); with ``data_issues=True`` also the run's flagged data-issue findings, one
  row per finding (:mod:`labelaudit.review.issue_review`).
- :func:`import_verdicts`: a filled-in sheet, validated completely
  (:func:`labelaudit.review.verdicts.validate_verdicts`) and stored in one transaction in ``review_verdicts``.
  The import id is a hash of the run id and the file's bytes: importing the same file again stores nothing new.
  Data-issue rows go to ``data_issue_verdicts`` in the same transaction.
- :func:`dataset_verdicts` and :func:`review_stats`: every verdict of a dataset so far, the measured flag
  precision by score band and per audited run, and the score cut-off that reaches a target precision. The
  report, the CLI (``labelaudit review stats``) and the next audit (``flag_cutoff_from_reviews``) use them.
- :func:`export_run`: a cleaned copy of a run's data set (:func:`labelaudit.review.export.clean_dataset`), recorded
  in ``exports``.

The score used for precision is the row's label-quality score in the run that flagged it, read from
``scores`` (not from the sheet, which a reviewer may have edited).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from labelaudit.errors import InputDataError, RunNotFoundError
from labelaudit.review.export import (
    ExportRecord,
    clean_dataset,
    restore_formulas,
    write_dataset,
    write_spreadsheet_text,
)
from labelaudit.review.issue_review import (
    ISSUE_COLUMN,
    LABEL_ISSUE,
    issue_precision,
    issue_rows,
    remap_problems,
    split_sheet,
    validate_issue_verdicts,
)
from labelaudit.review.verdicts import (
    DEFAULT_EDGES,
    VERDICTS,
    Cutoff,
    ReviewImportError,
    cutoff_for_target_precision,
    precision_by_score_band,
    validate_verdicts,
)
from labelaudit.store import AuditStore
from labelaudit.store.database import utcnow
from labelaudit.store.queries import dataset_issue_verdicts, dataset_verdicts

__all__ = [
    "ImportResult",
    "ReviewStats",
    "dataset_issue_verdicts",
    "dataset_verdicts",
    "export_run",
    "import_verdicts",
    "review_sheet",
    "review_stats",
    "write_review_sheet",
]

FIXED = ("id", "given", "suggested", "score", "suggested_prob")
ANSWERS = ("verdict", "corrected_label")
ISSUE_FIELDS = (ISSUE_COLUMN, "issue_detail")


def _require_run(con: duckdb.DuckDBPyConnection, run_id: str, path: Path) -> dict[str, Any]:
    """The run's dataset and parameters; reviews and exports take the runs of a kind with one label per row
    (``LabelKind.reviewable``)."""
    row = con.execute("SELECT dataset, params FROM runs WHERE run_id = ?", [run_id]).fetchall()
    if not row:
        raise RunNotFoundError(f"no run {run_id!r} in {path}")
    dataset, params = row[0]
    params = json.loads(params) if params else {}
    from labelaudit.kinds import KINDS

    label_type = params.get("label_type", "multiclass")
    kind = KINDS.get(label_type)
    if kind is None or not kind.reviewable:
        raise InputDataError(
            f"run {run_id} audited {label_type} labels; review sheets and cleaned exports support multiclass runs "
            "only (query label_issue_details for the flagged tags or tokens)"
        )
    return {"dataset": dataset, "params": params}


def _records(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """The run's ingested rows as a frame of their original columns, plus ``row_id`` and ``row_idx``."""
    rows = con.execute(
        "SELECT row_idx, row_id, record FROM ingested_rows WHERE run_id = ? ORDER BY row_idx", [run_id]
    ).fetchall()
    fields = pd.DataFrame([json.loads(record) if record else {} for _, _, record in rows])
    fields.index = [row_id for _, row_id, _ in rows]
    return fields


def review_sheet(store: AuditStore, run_id: str, *, data_issues: bool = False) -> pd.DataFrame:
    """The flagged rows of ``run_id``, most suspicious first, as reviewers get them; with ``data_issues``, then
    the run's flagged data-issue findings (``issue_type`` names each; ``issue_detail`` says what was found)."""
    with store.connect() as con:
        _require_run(con, run_id, store.path)
        flagged = con.execute(
            "SELECT row_id AS id, given_label AS given, suggested_label AS suggested, label_quality AS score, "
            "suggested_prob FROM scores WHERE run_id = ? AND is_issue ORDER BY issue_rank",
            [run_id],
        ).df()
        fields = _records(con, run_id)
        flagged[ISSUE_COLUMN] = LABEL_ISSUE
        if data_issues:
            flagged = pd.concat([flagged.assign(issue_detail=""), issue_rows(con, run_id)], ignore_index=True)
    reserved = (*FIXED, *ANSWERS, *ISSUE_FIELDS)
    fields = fields.rename(columns={c: f"{c} (row)" for c in fields.columns if c in reserved})
    sheet = flagged.join(fields, on="id")
    sheet["verdict"], sheet["corrected_label"] = "", ""
    return sheet


def write_review_sheet(
    store: AuditStore, run_id: str, output: str | Path, *, data_issues: bool = False
) -> tuple[Path, int]:
    """Write :func:`review_sheet` as CSV for a spreadsheet; returns the path and the row count.

    Formula-like text is neutralised and records end in CRLF (:func:`labelaudit.review.export.write_spreadsheet_text`);
    :func:`import_verdicts` restores the values, so the unmodified sheet imports back onto the stored rows.
    """
    sheet = review_sheet(store, run_id, data_issues=data_issues)
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_spreadsheet_text(sheet, path)
    return path, len(sheet)


@dataclass(frozen=True)
class ImportResult:
    import_id: str
    run_id: str
    dataset: str
    stored: int  # verdict rows stored by this import (0 when it was already imported)
    counts: dict[str, int]
    already_imported: bool
    issue_counts: dict[str, int] = field(default_factory=dict)  # data-issue verdicts stored, per issue type


def import_verdicts(store: AuditStore, path: str | Path, *, run_id: str, reviewer: str | None = None) -> ImportResult:
    """Validate a filled-in review sheet of ``run_id`` and store its verdicts, all or nothing.

    Label rows go to ``review_verdicts``; data-issue rows (``issue_type`` other than ``label``) to
    ``data_issue_verdicts``, in the same transaction under the same import id.

    Raises
    ------
    RunNotFoundError
        No such run.
    InputDataError / ReviewImportError
        The file cannot be read, or any row is invalid (unknown or repeated ids, unknown labels or issue types,
        verdicts outside error/correct/unsure, ...): the message lists every problem; nothing is stored.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError("file does not exist", source=str(path))
    raw = path.read_bytes()
    try:
        sheet = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")  # Excel writes a BOM
        sheet = restore_formulas(sheet)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputDataError(f"cannot be read as a review CSV: {exc}", source=str(path)) from exc
    with store.connect() as con:
        run = _require_run(con, run_id, store.path)
        scores = con.execute(
            "SELECT row_id, given_label, suggested_label, label_quality FROM scores WHERE run_id = ? AND is_issue",
            [run_id],
        ).df()
        classes = [r[0] for r in con.execute("SELECT label FROM classes WHERE run_id = ?", [run_id]).fetchall()]
        findings = con.execute(
            "SELECT row_id, issue_type, score FROM data_issue_findings WHERE run_id = ? AND is_issue", [run_id]
        ).df()
    if scores.empty and findings.empty:
        raise InputDataError(f"run {run_id} has no flagged rows to review", source=str(path))
    verdicts, issues = _validated(sheet, scores, classes, findings, source=str(path))
    import_id = hashlib.sha256(run_id.encode() + b"\0" + raw).hexdigest()[:16]
    stored = scores.set_index("row_id").reindex(verdicts["id"])
    frame = pd.DataFrame(
        {
            "dataset": run["dataset"],
            "row_id": verdicts["id"].astype(str).to_numpy(),
            "verdict": verdicts["verdict"].astype(str).to_numpy(),
            "corrected_label": verdicts["corrected_label"].astype(object).to_numpy(),
            "given_label": stored["given_label"].to_numpy(),
            "suggested_label": stored["suggested_label"].to_numpy(),
            "score": stored["label_quality"].astype(float).to_numpy(),
        }
    )
    issue_frame = _issue_frame(issues, run["dataset"])
    imported = {"reviewer": reviewer, "import_id": import_id, "source_file": str(path), "imported_at": utcnow()}
    counts = {v: int((frame["verdict"] == v).sum()) for v in VERDICTS}
    issue_counts = {str(t): int(n) for t, n in issue_frame["issue_type"].value_counts().sort_index().items()}
    result = ImportResult(import_id, run_id, run["dataset"], 0, counts, True, issue_counts)
    with store.transaction() as con:
        for table in ("review_verdicts", "data_issue_verdicts"):
            if con.execute(f"SELECT count(*) FROM {table} WHERE import_id = ?", [import_id]).fetchall()[0][0]:
                return result
        _insert(con, "review_verdicts", frame.assign(**imported), run_id)
        _insert(con, "data_issue_verdicts", issue_frame.assign(**imported), run_id)
    return replace(result, stored=len(frame) + len(issue_frame), already_imported=False)


def _validated(
    sheet: pd.DataFrame, scores: pd.DataFrame, classes: list[str], findings: pd.DataFrame, *, source: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sheet's label verdicts and data-issue verdicts, or one refusal listing every problem of both
    (rows numbered in the whole sheet, 1 = first data row)."""
    parts = split_sheet(sheet)
    problems: list[tuple[str, list[int]]] = []
    verdicts = pd.DataFrame(columns=["id", "given", "suggested", "score", "verdict", "corrected_label"])
    if len(parts.labels) or not len(parts.issues):
        try:
            verdicts = validate_verdicts(parts.labels, scores["row_id"], classes, source=source)
        except ReviewImportError as exc:
            problems += remap_problems(exc, parts.label_positions)
    issues, issue_problems = validate_issue_verdicts(parts.issues, parts.issue_positions, findings, set(classes))
    if problems or issue_problems:
        raise ReviewImportError(problems + issue_problems, source=source)
    return verdicts, issues


def _issue_frame(issues: pd.DataFrame, dataset: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "dataset": dataset,
            "row_id": issues["id"].astype(str).to_numpy(),
            "issue_type": issues[ISSUE_COLUMN].astype(str).to_numpy(),
            "verdict": issues["verdict"].astype(str).to_numpy(),
            "corrected_label": issues["corrected_label"].astype(object).to_numpy(),
            "score": pd.to_numeric(issues["score"]).astype(float).to_numpy(),
        }
    )


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, run_id: str) -> None:
    if frame.empty:
        return
    con.register("_verdicts", frame)
    con.execute(f"INSERT INTO {table} BY NAME SELECT ? AS run_id, * FROM _verdicts", [run_id])
    con.unregister("_verdicts")


@dataclass(frozen=True)
class ReviewStats:
    """What the verdicts so far say about a dataset's flags."""

    dataset: str
    n_verdicts: int
    bands: pd.DataFrame  # precision_by_score_band
    over_time: pd.DataFrame  # per reviewed run, oldest first
    cutoff: Cutoff
    issue_types: pd.DataFrame = field(default_factory=lambda: issue_precision(pd.DataFrame()))  # per issue type

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "n_verdicts": self.n_verdicts,
            "bands": self.bands.astype(object).where(self.bands.notna(), None).to_dict("records"),
            "over_time": self.over_time.astype(object).where(self.over_time.notna(), None).to_dict("records"),
            "cutoff": self.cutoff.to_dict(),
            "issue_types": self.issue_types.astype(object).where(self.issue_types.notna(), None).to_dict("records"),
        }


def review_stats(
    verdicts: pd.DataFrame,
    dataset: str,
    *,
    target: float = 0.9,
    min_verdicts: int = 20,
    min_flagged: int = 10,
    edges: tuple[float, ...] = DEFAULT_EDGES,
    issue_verdicts: pd.DataFrame | None = None,
) -> ReviewStats:
    """Precision by score band, per run over time, and the cut-off for ``target`` precision; with
    ``issue_verdicts`` (:func:`dataset_issue_verdicts`) also the precision of each data-issue type.

    ``verdicts`` as :func:`dataset_verdicts` returns them. Precision is errors / (errors + corrects).
    """
    usable = verdicts[verdicts["score"].notna()]
    bands = precision_by_score_band(usable["verdict"].tolist(), usable["score"].astype(float).tolist(), edges=edges)
    cutoff = cutoff_for_target_precision(
        usable["verdict"].tolist(),
        usable["score"].astype(float).tolist(),
        target=target,
        min_verdicts=min_verdicts,
        min_flagged=min_flagged,
    )
    if verdicts.empty:
        over_time = pd.DataFrame(
            columns=["run_id", "run_started_at", "n_reviewed", "n_error", "n_correct", "n_unsure", "precision"]
        )
    else:
        grouped = verdicts.groupby(["run_id", "run_started_at"], dropna=False)["verdict"]
        over_time = grouped.value_counts().unstack(fill_value=0).reindex(columns=list(VERDICTS), fill_value=0)
        over_time.columns = [f"n_{c}" for c in over_time.columns]
        over_time.insert(0, "n_reviewed", over_time.sum(axis=1))
        decided = over_time["n_error"] + over_time["n_correct"]
        over_time["precision"] = (over_time["n_error"] / decided.where(decided > 0)).astype(float)
        over_time = over_time.reset_index().sort_values(["run_started_at", "run_id"], ignore_index=True)
    issue_types = issue_precision(issue_verdicts if issue_verdicts is not None else pd.DataFrame())
    return ReviewStats(dataset, len(verdicts), bands, over_time, cutoff, issue_types)


def export_run(
    store: AuditStore, run_id: str, *, strategy: str, output: str | Path, threshold: float = 0.9
) -> tuple[Path, ExportRecord]:
    """Write a cleaned copy of the run's data set and record it in ``exports``.

    The data is the batch as ingested (``ingested_rows.record``), with the label column holding the label the
    audit judged (``scores.given_label``: the batch's label, or the majority vote of the annotations, with
    confirmed review corrections applied); then ``strategy`` (see :mod:`labelaudit.review.export`) applies the run's
    suggestions (``scores``) or its CROWDLAB consensus (``item_consensus``, runs with annotations only).
    """
    run, data, scores, consensus, label_role = _export_inputs(store, run_id)
    if scores.empty:
        raise InputDataError(f"run {run_id} has no scores (it did not reach the score stage): nothing to export")
    if strategy == "consensus" and consensus.empty:
        raise InputDataError(
            f"strategy 'consensus' needs a run audited with --annotations; run {run_id} has no consensus labels"
        )
    label_column = run["params"].get("label_column") or (label_role[0][0] if label_role else "label")
    key = "__labelaudit_row_id__"
    data.insert(0, key, data.index.astype(str))
    data = data.reset_index(drop=True)
    audited = scores.set_index("id")["given_label"]
    judged = data[key].map(audited)
    data[label_column] = judged.fillna(data[label_column]) if label_column in data.columns else judged
    results = scores.drop(columns="given_label").rename(columns={"id": key})
    if not consensus.empty:
        results = results.merge(consensus.rename(columns={"id": key}), on=key, how="left")
    try:
        cleaned, record = clean_dataset(
            data, results, strategy=strategy, threshold=threshold, id_column=key, label_column=label_column
        )
        path = write_dataset(cleaned.drop(columns=key), output)
    except ValueError as exc:
        raise InputDataError(str(exc), source=str(output)) from exc
    _record_export(store, run_id, record, path)
    return path, record


def _export_inputs(
    store: AuditStore, run_id: str
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame, list]:
    """The run, its rows as ingested, its scores, its consensus labels and its label column's name."""
    with store.connect() as con:
        run = _require_run(con, run_id, store.path)
        data = _records(con, run_id)
        scores = con.execute(
            "SELECT row_id AS id, given_label, is_issue, suggested_label, suggested_prob AS suggested_confidence "
            "FROM scores WHERE run_id = ?",
            [run_id],
        ).df()
        consensus = con.execute(
            "SELECT item_id AS id, consensus_label FROM item_consensus WHERE run_id = ?", [run_id]
        ).df()
        label_role = con.execute(
            "SELECT column_name FROM ingested_columns WHERE run_id = ? AND role = 'label'", [run_id]
        ).fetchall()
    return run, data, scores, consensus, label_role


def _record_export(store: AuditStore, run_id: str, record: Any, path: Path) -> None:
    with store.transaction() as con:
        con.execute(
            "INSERT INTO exports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                record.strategy,
                record.threshold,
                str(path.resolve()),
                record.rows_in,
                record.rows_out,
                record.rows_removed,
                record.labels_changed,
                utcnow(),
            ],
        )
