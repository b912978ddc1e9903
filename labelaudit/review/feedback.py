"""The review loop and cleaned exports, against the audit database.

- :func:`review_sheet` / :func:`write_review_sheet`: a run's flagged rows as a CSV for reviewers (``id``,
  ``given``, ``suggested``, ``score``, ``suggested_prob``, the row's own fields, empty ``verdict`` and
  ``corrected_label``).
- :func:`import_verdicts`: a filled-in sheet, validated completely
  (:func:`labelaudit.review.verdicts.validate_verdicts`) and stored in one transaction in ``review_verdicts``.
  The import id is a hash of the run id and the file's bytes: importing the same file again stores nothing new.
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
from dataclasses import dataclass
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
from labelaudit.review.verdicts import (
    DEFAULT_EDGES,
    VERDICTS,
    Cutoff,
    cutoff_for_target_precision,
    precision_by_score_band,
    validate_verdicts,
)
from labelaudit.store import AuditStore
from labelaudit.store.database import utcnow
from labelaudit.store.queries import dataset_verdicts

__all__ = [
    "ImportResult",
    "ReviewStats",
    "dataset_verdicts",
    "export_run",
    "import_verdicts",
    "review_sheet",
    "review_stats",
    "write_review_sheet",
]

FIXED = ("id", "given", "suggested", "score", "suggested_prob")
ANSWERS = ("verdict", "corrected_label")


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


def review_sheet(store: AuditStore, run_id: str) -> pd.DataFrame:
    """The flagged rows of ``run_id``, most suspicious first, as reviewers get them."""
    with store.connect() as con:
        _require_run(con, run_id, store.path)
        flagged = con.execute(
            "SELECT row_id AS id, given_label AS given, suggested_label AS suggested, label_quality AS score, "
            "suggested_prob FROM scores WHERE run_id = ? AND is_issue ORDER BY issue_rank",
            [run_id],
        ).df()
        fields = _records(con, run_id)
    fields = fields.rename(columns={c: f"{c} (row)" for c in fields.columns if c in (*FIXED, *ANSWERS)})
    sheet = flagged.join(fields, on="id")
    sheet["verdict"], sheet["corrected_label"] = "", ""
    return sheet


def write_review_sheet(store: AuditStore, run_id: str, output: str | Path) -> tuple[Path, int]:
    """Write :func:`review_sheet` as CSV for a spreadsheet; returns the path and the row count.

    Formula-like text is neutralised and records end in CRLF (:func:`labelaudit.review.export.write_spreadsheet_text`);
    :func:`import_verdicts` restores the values, so the unmodified sheet imports back onto the stored rows.
    """
    sheet = review_sheet(store, run_id)
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


def import_verdicts(store: AuditStore, path: str | Path, *, run_id: str, reviewer: str | None = None) -> ImportResult:
    """Validate a filled-in review sheet of ``run_id`` and store its verdicts, all or nothing.

    Raises
    ------
    RunNotFoundError
        No such run.
    InputDataError / ReviewImportError
        The file cannot be read, or any row is invalid (unknown or repeated ids, unknown labels, verdicts
        outside error/correct/unsure, ...): the message lists every problem; nothing is stored.
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
    if scores.empty:
        raise InputDataError(f"run {run_id} has no flagged rows to review", source=str(path))
    verdicts = validate_verdicts(sheet, scores["row_id"], classes, source=str(path))
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
            "reviewer": reviewer,
            "import_id": import_id,
            "source_file": str(path),
            "imported_at": utcnow(),
        }
    )
    counts = {v: int((frame["verdict"] == v).sum()) for v in VERDICTS}
    with store.transaction() as con:
        if con.execute("SELECT count(*) FROM review_verdicts WHERE import_id = ?", [import_id]).fetchall()[0][0]:
            return ImportResult(import_id, run_id, run["dataset"], 0, counts, True)
        if not frame.empty:
            con.register("_verdicts", frame)
            con.execute("INSERT INTO review_verdicts BY NAME SELECT ? AS run_id, * FROM _verdicts", [run_id])
            con.unregister("_verdicts")
    return ImportResult(import_id, run_id, run["dataset"], len(frame), counts, False)


@dataclass(frozen=True)
class ReviewStats:
    """What the verdicts so far say about a dataset's flags."""

    dataset: str
    n_verdicts: int
    bands: pd.DataFrame  # precision_by_score_band
    over_time: pd.DataFrame  # per reviewed run, oldest first
    cutoff: Cutoff

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "n_verdicts": self.n_verdicts,
            "bands": self.bands.astype(object).where(self.bands.notna(), None).to_dict("records"),
            "over_time": self.over_time.astype(object).where(self.over_time.notna(), None).to_dict("records"),
            "cutoff": self.cutoff.to_dict(),
        }


def review_stats(
    verdicts: pd.DataFrame,
    dataset: str,
    *,
    target: float = 0.9,
    min_verdicts: int = 20,
    min_flagged: int = 10,
    edges: tuple[float, ...] = DEFAULT_EDGES,
) -> ReviewStats:
    """Precision by score band, per run over time, and the cut-off for ``target`` precision.

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
    return ReviewStats(dataset, len(verdicts), bands, over_time, cutoff)


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
