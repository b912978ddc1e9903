"""The audit's stages as plain functions: compute, then store the result in one transaction.

Each function is what a Prefect task in ``tasks/`` wraps, and what a notebook calls directly. A stage that
fails records the failure (and marks the run failed) before re-raising, so a run never stays "running"
because of an error we saw; a killed process is caught later by ``AuditStore.recover_stale_runs``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from labelaudit.errors import FittingError, InputDataError, LabelAuditError, SchemaValidationError
from labelaudit.inputs.definition import DatasetBundle
from labelaudit.inputs.gx_suite import SuiteOutcome, outcomes_frame, run_suite
from labelaudit.inputs.readers import ReadOptions, SourceInfo, prepare_frame, read_batch
from labelaudit.models.crossval import FoldPlan, FoldResult, assemble, encode_labels, fold_metrics, plan_folds
from labelaudit.pipeline.gate import GateResult, evaluate_gate
from labelaudit.pipeline.scoring import ScoredBatch, score_batch
from labelaudit.store import AuditStore, StageWrite
from labelaudit.store.database import utcnow


@dataclass(frozen=True)
class Batch:
    """An ingested batch: the rows as read, their ids, and where they came from."""

    frame: pd.DataFrame
    row_ids: pd.Series
    source: SourceInfo


@contextmanager
def recording(store: AuditStore, run_id: str, stage: str) -> Iterator[datetime]:
    """Yield the stage's start time; on any error, store the failure and re-raise it."""
    started = utcnow()
    try:
        yield started
    except Exception as exc:
        message = str(exc) if isinstance(exc, LabelAuditError) else f"{type(exc).__name__}: {exc}"
        store.fail_stage(run_id, stage, started_at=started, message=message)
        raise


def ingest(
    store: AuditStore, run_id: str, source: str, bundle: DatasetBundle, options: ReadOptions | None = None
) -> Batch:
    """Read ``source`` and store its rows (every column, as JSON), its column types and its content hash.

    ``options`` give a delimited file's delimiter and encoding (default: sniffed, UTF-8). The definition's
    label normalisation is applied and infinite feature values refused before anything is stored.
    """
    definition = bundle.definition
    with recording(store, run_id, "ingest") as started:
        text_columns = tuple(
            c
            for c in (
                definition.id_column,
                definition.label_column,
                definition.annotator_column,
                definition.tokens_column,
            )
            if c
        )
        frame, info = read_batch(source, string_columns=text_columns, options=options)
        frame = prepare_frame(frame, definition, info.path)
        if definition.id_column and definition.id_column in frame.columns:
            row_ids = frame[definition.id_column].astype("str")
        else:
            row_ids = pd.Series(np.arange(1, len(frame) + 1).astype(str), index=frame.index, dtype="str")
        rows = pd.DataFrame(
            {
                "row_idx": np.arange(len(frame), dtype=np.int64),
                "row_id": row_ids.fillna("").to_numpy(),
                "given_label": frame[definition.label_column].to_numpy()
                if definition.label_column in frame.columns
                else None,
                "record": frame.to_json(
                    orient="records", lines=True, force_ascii=False, date_format="iso"
                ).splitlines(),
            }
        )
        batches = pd.DataFrame([{**info.__dict__, "ingested_at": utcnow()}])
        store.write_stage(
            run_id,
            "ingest",
            StageWrite(
                {"batches": batches, "ingested_columns": _column_roles(frame, bundle), "ingested_rows": rows},
                started,
                rows=len(frame),
                message=f"{info.path} ({info.format}, sha256 {info.sha256[:12]})",
            ),
        )
    return Batch(frame, row_ids, info)


def _column_roles(frame: pd.DataFrame, bundle: DatasetBundle) -> pd.DataFrame:
    definition = bundle.definition
    roles = {f.name: f.role.value for f in definition.features}
    roles.update({definition.label_column: "label"})
    if definition.id_column:
        roles[definition.id_column] = "id"
    if definition.annotator_column:
        roles[definition.annotator_column] = "annotator"
    if definition.tokens_column:
        roles[definition.tokens_column] = "tokens"
    return pd.DataFrame(
        {
            "position": np.arange(len(frame.columns), dtype=np.int32),
            "column_name": [str(c) for c in frame.columns],
            "dtype": [str(t) for t in frame.dtypes],
            "role": [roles.get(str(c), "other") for c in frame.columns],
        }
    )


def validate(
    store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, *, data_docs_dir: Path | None = None
) -> SuiteOutcome:
    """Run the dataset's GX suite on the batch; store every result; raise if any expectation failed."""
    with recording(store, run_id, "validate") as started:
        outcome = run_suite(batch.frame, bundle.suite, data_docs_dir=data_docs_dir)
        failed = outcome.failures
        message = f"{len(outcome.outcomes) - len(failed)} of {len(outcome.outcomes)} expectations met"
        store.write_stage(
            run_id,
            "validate",
            StageWrite(
                {"validation_results": outcomes_frame(outcome.outcomes)},
                started,
                rows=len(batch.frame),
                message=message,
            ),
        )
        if failed:
            lines = "\n".join(f"  - {f.describe()}" for f in failed)
            raise SchemaValidationError(
                f"{batch.source.path} failed {len(failed)} of {len(outcome.outcomes)} schema expectations:\n{lines}",
                failures=failed,
            )
    return outcome


@dataclass(frozen=True)
class FitInputs:
    """What fitting (or loading precomputed probabilities) starts from."""

    labels: np.ndarray
    classes: list[str]
    plan: FoldPlan | None
    started: datetime


def labels_and_classes(batch: Batch, bundle: DatasetBundle) -> tuple[np.ndarray, list[str]]:
    """Given labels as class indices, and the class names (the definition's order, else sorted)."""
    definition = bundle.definition
    column = batch.frame[definition.label_column]
    missing = np.flatnonzero(column.isna().to_numpy())
    if missing.size:
        raise InputDataError(
            "label is missing", source=batch.source.path, column=definition.label_column, rows=(missing + 1).tolist()
        )
    classes = list(definition.classes) if definition.classes else sorted(column.astype(str).unique().tolist())
    return encode_labels(column.astype(str), classes, source=batch.source.path), classes


def prepare_fit(store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, *, precomputed: bool) -> FitInputs:
    """Encode the labels and plan the folds; a batch that cannot be cross-validated fails the fit stage here."""
    definition = bundle.definition
    with recording(store, run_id, "fit") as started:
        labels, classes = labels_and_classes(batch, bundle)
        plan = None
        if not precomputed:
            plan = plan_folds(labels, classes, folds=definition.folds, seed=definition.seed)
        elif len(np.unique(labels)) < 2:
            raise FittingError(f"the batch has a single class ({classes[int(labels[0])]!r}); at least two are needed")
    return FitInputs(labels, classes, plan, started)


def store_fit(
    store: AuditStore,
    run_id: str,
    started: datetime,
    results: list[FoldResult],
    labels: np.ndarray,
    classes: list[str],
) -> tuple[np.ndarray, pd.DataFrame]:
    """Assemble the folds' out-of-fold probabilities and store them with per-fold metrics."""
    with recording(store, run_id, "fit"):
        probs, fold_of = assemble(results, len(labels), len(classes))
        metrics = fold_metrics(results, probs, labels)
        overall = metrics[metrics["fold"].isna()].iloc[0]
        _write_probs(
            store,
            run_id,
            "fit",
            started,
            probs,
            labels,
            classes,
            fold_of,
            metrics,
            f"{len(results)} folds, out-of-fold accuracy {overall['accuracy']:.4f}",
        )
    return probs, metrics


def _write_probs(
    store: AuditStore,
    run_id: str,
    stage: str,
    started: datetime,
    probs: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    fold_of: np.ndarray | None,
    metrics: pd.DataFrame,
    message: str,
) -> None:
    import pyarrow as pa

    k = probs.shape[1]
    prob_table = pa.table(
        {
            "row_idx": pa.array(np.arange(len(probs), dtype=np.int64)),
            "fold": pa.array(fold_of, type=pa.int32()) if fold_of is not None else pa.nulls(len(probs), pa.int32()),
            "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.astype(np.float32).ravel()), k),
        }
    )
    class_frame = pd.DataFrame(
        {"class_idx": np.arange(k, dtype=np.int32), "label": classes, "given_count": np.bincount(labels, minlength=k)}
    )
    tables = {"classes": class_frame, "fold_metrics": metrics, "oof_probs": prob_table}
    store.write_stage(run_id, stage, StageWrite(tables, started, rows=len(probs), message=message))


def use_precomputed(
    store: AuditStore, run_id: str, path: str, batch: Batch, labels: np.ndarray, classes: list[str], started: datetime
) -> tuple[np.ndarray, pd.DataFrame]:
    """Bring-your-own-model: load probabilities (id column + one column per class) instead of fitting."""
    from labelaudit.inputs.probabilities import load_precomputed

    with recording(store, run_id, "fit"):
        probs = load_precomputed(path, batch.row_ids, classes)
        metrics = fold_metrics([], probs, labels)
        _write_probs(store, run_id, "fit", started, probs, labels, classes, None, metrics, f"precomputed from {path}")
    return probs, metrics


def score(
    store: AuditStore,
    run_id: str,
    batch: Batch,
    labels: np.ndarray,
    probs: np.ndarray,
    classes: list[str],
    bundle: DatasetBundle,
    *,
    oof_log_loss: float | None = None,
) -> ScoredBatch:
    """Confident learning on the out-of-fold probabilities; store scores, noise matrix and rates."""
    with recording(store, run_id, "score") as started:
        scored = score_batch(
            labels, probs, classes, batch.row_ids, filter_by=bundle.definition.filter_by, oof_log_loss=oof_log_loss
        )
        tables = {
            "scores": scored.scores,
            "noise_matrix": scored.noise_matrix,
            "class_metrics": scored.class_metrics,
            "run_metrics": scored.run_metrics,
        }
        flagged = int(scored.scores["is_issue"].sum())
        store.write_stage(
            run_id, "score", StageWrite(tables, started, rows=len(labels), message=f"{flagged} rows flagged")
        )
    return scored


def gate(store: AuditStore, run_id: str, scored: ScoredBatch, bundle: DatasetBundle) -> GateResult:
    """Judge the batch against ``quality.json`` and store each threshold's outcome."""
    with recording(store, run_id, "gate") as started:
        rates = dict(zip(scored.class_metrics["label"], scored.class_metrics["estimated_error_rate"], strict=True))
        result = evaluate_gate(bundle.quality, scored.metrics, rates)
        store.write_stage(
            run_id, "gate", StageWrite({"gate_results": result.frame()}, started, message=result.message())
        )
    return result
