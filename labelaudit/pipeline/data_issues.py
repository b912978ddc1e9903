"""Stage ``data_issues``: what is wrong with the batch besides its labels (issue 14; ``docs/data-issues.md``).

Runs after ``fit`` (the model-unsure rows read the out-of-fold probabilities) and before ``gate`` (which reads
``data_issue_summary``), and writes, in one transaction, the tables ``STAGE_TABLES["data_issues"]`` names:

- ``row_hashes``: one hash per row of the normalised features (:mod:`labelaudit.data_issues.hashing`), kept so
  that a later batch's leakage check reads hashes, never rows;
- ``data_issue_findings`` (read through the view ``data_issues``): exact and conflicting duplicates, near
  duplicates, feature-space outliers, model-unsure rows, rows leaked from earlier accepted batches;
- ``label_drift`` / ``label_drift_classes``: the class mix against the dataset's accepted history;
- ``class_imbalance``: every class against an even share;
- ``data_issue_summary``: one row per issue type, checked or not (and why not), flagged, rate.

What a kind's labels are is the kind's answer (:meth:`labelaudit.kinds.base.LabelKind.issue_labels`), including
which detectors do not apply to it and why; this module never asks which kind it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from labelaudit.data_issues.drift import DEFAULT_MAX_PSI, LabelDrift, label_drift
from labelaudit.data_issues.duplicates import (
    CONFLICTING_DUPLICATE,
    EXACT_DUPLICATE,
    FINDING_COLUMNS,
    DuplicateFindings,
    find_duplicates,
)
from labelaudit.data_issues.hashing import feature_key, row_hashes
from labelaudit.data_issues.imbalance import ClassImbalance, class_imbalance
from labelaudit.data_issues.leakage import LEAKED_DUPLICATE, LeakageFindings, find_leakage
from labelaudit.data_issues.near_duplicates import NEAR_DUPLICATE, find_near_duplicates
from labelaudit.data_issues.outliers import OUTLIER, UNCERTAIN, find_outliers, find_uncertain
from labelaudit.inputs.definition import DatasetBundle
from labelaudit.pipeline.ingest import Batch
from labelaudit.pipeline.recording import recording
from labelaudit.store import AuditStore, StageWrite
from labelaudit.store.queries import accepted_label_history, earlier_row_hashes

__all__ = ["CLASS_IMBALANCE", "LABEL_DRIFT", "NEIGHBOURS", "DataIssues", "IssueLabels", "find_data_issues"]

LABEL_DRIFT = "label_drift"
CLASS_IMBALANCE = "class_imbalance"
#: Neighbours per row for near duplicates and outliers (cleanlab Datalab's default k).
NEIGHBOURS = 10
#: Fewer rows than this: no neighbour-based finding (a median neighbour distance over a handful is noise).
MIN_NEIGHBOUR_ROWS = 20


@dataclass(frozen=True)
class IssueLabels:
    """A kind's labels as the data-issue detectors need them (:meth:`LabelKind.issue_labels`).

    Attributes
    ----------
    keys : list of str (N,)
        One comparable label per batch row: the class (multiclass), the sorted tag set (multi-label), the tag
        sequence (token). Equal features with different keys are a conflicting duplicate.
    counts : pd.Series (K,)
        Count per class, every class of the run (zeros included), in ``unit``: drift and imbalance.
    unit : str
        What ``counts`` counts: ``"rows"``, ``"tags"`` or ``"tokens"``.
    skipped : mapping of str to str
        Issue types that do not apply to the kind, each with the reason (stored in ``data_issue_summary``).
    """

    keys: list[str]
    counts: pd.Series
    unit: str
    skipped: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DataIssues:
    """What the stage found: the summary (one row per issue type) and the batch-level results."""

    summary: pd.DataFrame
    drift: LabelDrift
    imbalance: ClassImbalance
    leakage: LeakageFindings

    def message(self) -> str:
        """One line: the flagged count of each checked issue type that found something."""
        found = self.summary[self.summary["checked"] & (self.summary["flagged"] > 0)]
        parts = [f"{row.issue_type} {row.flagged}" for row in found.itertuples(index=False)]
        return "data issues: " + (", ".join(parts) if parts else "none found")


def find_data_issues(
    store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, labels: IssueLabels, probs: np.ndarray
) -> DataIssues:
    """Run every detector that applies to the batch and store the findings (stage ``data_issues``).

    Parameters
    ----------
    labels : IssueLabels
        From the run's label kind.
    probs : np.ndarray (N, K) or (T, K)
        The out-of-fold probabilities (used for model-unsure rows only when the kind does not skip them).
    """
    with recording(store, run_id, "data_issues") as started:
        definition, frame = bundle.definition, batch.frame
        if len(labels.keys) != len(frame):
            raise ValueError(f"{len(labels.keys)} label keys for a batch of {len(frame)} rows")
        hashes = row_hashes(frame, definition).to_numpy(dtype=np.uint64)
        key = feature_key(definition, [str(c) for c in frame.columns])
        duplicates = find_duplicates(hashes, _positions(len(frame)), labels.keys, run_id=run_id)
        history = earlier_row_hashes(store, definition.name, key, exclude_run=run_id, hashes=hashes)
        leakage = find_leakage(hashes, _positions(len(frame)), history, run_id=run_id, labels=labels.keys)
        neighbour_rows, neighbour_notes = _neighbour_findings(batch, bundle, labels, probs, run_id)
        drift, history_runs = _drift(store, run_id, bundle, labels)
        imbalance = class_imbalance(labels.counts)
        findings = pd.concat(
            [_located(duplicates.rows, batch.row_ids), _located(leakage.rows, batch.row_ids), *neighbour_rows],
            ignore_index=True,
        )
        summary = _summary(len(frame), findings, duplicates, leakage, neighbour_notes)
        summary = _label_rows(summary, drift, history_runs, imbalance, labels)
        result = DataIssues(summary, drift, imbalance, leakage)
        tables = {
            "row_hashes": _hash_table(hashes, batch.row_ids, labels.keys, key),
            "data_issue_findings": findings.drop(columns="run_id"),
            "data_issue_summary": summary,
            "label_drift": _drift_table(drift, history_runs),
            "label_drift_classes": drift.classes,
            "class_imbalance": imbalance.classes.assign(threshold=imbalance.threshold),
        }
        store.write_stage(run_id, "data_issues", StageWrite(tables, started, rows=len(frame), message=result.message()))
    return result


def _positions(n: int) -> np.ndarray:
    # The detectors get batch positions as ids (a batch's ids need not be unique); _located maps them back.
    return np.arange(n).astype(str)


def _located(findings: pd.DataFrame, row_ids: pd.Series) -> pd.DataFrame:
    """Findings whose ``row_id`` is a batch position: add ``row_idx``, restore the ids (detail's kept row too)."""
    idx = findings["row_id"].astype(np.int64).to_numpy()
    ids = row_ids.astype(str).to_numpy()
    detail = [_kept_row_id(text, ids) for text in findings["detail"]]
    return findings.assign(row_idx=idx, row_id=ids[idx], detail=detail)[["row_idx", *FINDING_COLUMNS]]


def _kept_row_id(text: str | None, ids: np.ndarray) -> str | None:
    if text is None:
        return None
    detail = json.loads(text)
    if "kept_row_id" in detail:
        detail["kept_row_id"] = str(ids[int(detail["kept_row_id"])])
    return json.dumps(detail)


def _neighbour_findings(
    batch: Batch, bundle: DatasetBundle, labels: IssueLabels, probs: np.ndarray, run_id: str
) -> tuple[list[pd.DataFrame], dict[str, str]]:
    """Near duplicates and outliers in the feature space, model-unsure rows from the probabilities.

    Returns the findings (each with ``row_idx``) and, per issue type not checked, why.
    """
    n, ids = len(batch.frame), batch.row_ids.astype(str).to_numpy()
    notes = {t: labels.skipped[t] for t in (NEAR_DUPLICATE, OUTLIER, UNCERTAIN) if t in labels.skipped}
    frames: list[pd.DataFrame] = []
    columns = bundle.definition.model_columns([str(c) for c in batch.frame.columns])
    spatial = [t for t in (NEAR_DUPLICATE, OUTLIER) if t not in notes]
    if spatial and not columns:
        notes.update(dict.fromkeys(spatial, "the definition declares no feature columns"))
    elif spatial and n < MIN_NEIGHBOUR_ROWS:
        notes.update(dict.fromkeys(spatial, f"{n} rows: too few for a neighbour scale (need {MIN_NEIGHBOUR_ROWS})"))
    elif spatial:
        from labelaudit.features.neighbours import nearest_neighbours
        from labelaudit.features.space import feature_space

        space = feature_space(batch.frame, bundle.definition)
        distances, indices = nearest_neighbours(space.matrix, min(NEIGHBOURS, n - 1), seed=bundle.definition.seed)
        if NEAR_DUPLICATE in spatial:
            frames.append(find_near_duplicates(distances, indices, row_ids=ids, run_id=run_id))
        if OUTLIER in spatial:
            frames.append(find_outliers(distances, row_ids=ids, run_id=run_id))
    if UNCERTAIN not in notes:
        frames.append(find_uncertain(np.asarray(probs), row_ids=ids, run_id=run_id))
    return [f.assign(row_idx=np.arange(n))[["row_idx", *FINDING_COLUMNS]] for f in frames], notes


def _drift(store: AuditStore, run_id: str, bundle: DatasetBundle, labels: IssueLabels) -> tuple[LabelDrift, int]:
    """The class mix against the counts of the dataset's accepted earlier runs (this run excluded)."""
    history, runs = accepted_label_history(store, bundle.definition.name, exclude_run=run_id)
    quality = bundle.quality
    max_psi = quality.max_label_drift_psi if quality.max_label_drift_psi is not None else DEFAULT_MAX_PSI
    return label_drift(labels.counts, history, alpha=quality.label_drift_alpha, max_psi=max_psi), runs


def _summary(
    n: int,
    findings: pd.DataFrame,
    duplicates: DuplicateFindings,
    leakage: LeakageFindings,
    notes: Mapping[str, str],
) -> pd.DataFrame:
    """One row per row-level issue type: checked (or why not), flagged, groups, the rate the gate reads."""
    rows = []
    for issue_type in (EXACT_DUPLICATE, CONFLICTING_DUPLICATE, NEAR_DUPLICATE, LEAKED_DUPLICATE, OUTLIER, UNCERTAIN):
        mine = findings[(findings["issue_type"] == issue_type) & findings["is_issue"]]
        flagged = {EXACT_DUPLICATE: duplicates.duplicate_rows}.get(issue_type, len(mine))
        grouped = issue_type in (EXACT_DUPLICATE, CONFLICTING_DUPLICATE, NEAR_DUPLICATE)
        groups = int(findings.loc[findings["issue_type"] == issue_type, "group_id"].nunique()) if grouped else None
        message = notes.get(issue_type)
        if issue_type == LEAKED_DUPLICATE and leakage.leaked_rows:
            message = "earlier runs: " + ", ".join(f"{r.run_id} ({r.rows} rows)" for r in leakage.by_run.itertuples())
        rate = flagged / n if n else 0.0
        rows.append((issue_type, issue_type not in notes, n, flagged, groups, rate, message))
    return pd.DataFrame(rows, columns=["issue_type", "checked", "rows", "flagged", "groups", "rate", "message"])


def _label_rows(
    summary: pd.DataFrame, drift: LabelDrift, history_runs: int, imbalance: ClassImbalance, labels: IssueLabels
) -> pd.DataFrame:
    """The batch-level types' summary rows: drift (rate = the PSI the gate reads), imbalance (rarest ratio)."""
    if history_runs:
        drift_note = f"{labels.unit} against {history_runs} accepted earlier run(s); p = {drift.p_value:.3g}"
    else:
        drift_note = "no accepted earlier run of the dataset to compare with"
    named = imbalance.imbalanced_classes
    rows = [
        (LABEL_DRIFT, bool(history_runs), drift.batch_rows, int(drift.is_drift), None, drift.gated_psi, drift_note),
        (
            CLASS_IMBALANCE,
            True,
            int(labels.counts.sum()),
            len(named),
            None,
            imbalance.min_ratio,
            f"below {imbalance.threshold:g} of an even share: {', '.join(named)}" if named else None,
        ),
    ]
    return pd.concat([summary, pd.DataFrame(rows, columns=summary.columns)], ignore_index=True)


def _drift_table(drift: LabelDrift, history_runs: int) -> pd.DataFrame:
    def number(value: float) -> float | None:
        return None if np.isnan(value) else float(value)

    return pd.DataFrame(
        [
            {
                "history_runs": history_runs,
                "batch_count": drift.batch_rows,
                "history_count": drift.history_rows,
                "chi2": number(drift.chi2),
                "dof": drift.dof if drift.history_rows else None,
                "p_value": number(drift.p_value),
                "psi": number(drift.psi),
                "gated_psi": drift.gated_psi,
                "alpha": drift.alpha,
                "max_psi": drift.max_psi,
                "is_drift": drift.is_drift,
                "new_classes": json.dumps(drift.new_classes),
                "vanished_classes": json.dumps(drift.vanished_classes),
            }
        ]
    )


def _hash_table(hashes: np.ndarray, row_ids: pd.Series, keys: list[str], key: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_idx": np.arange(len(hashes), dtype=np.int64),
            "row_id": row_ids.astype(str).to_numpy(),
            "hash": hashes,
            "label": keys,
            "feature_key": key,
        }
    )
