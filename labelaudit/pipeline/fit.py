"""Stage ``fit``: out-of-fold probabilities, fitted here or brought from a model that ran elsewhere (tables
``classes``, ``fold_metrics``, ``oof_probs``).

The multiclass stage functions are here; the folds themselves are fitted by :mod:`labelaudit.models.crossval`
(one fold per task, on any worker). The multi-label and token kinds have theirs in :mod:`labelaudit.kinds`.
Out-of-core scoring records a precomputed fit without copying the probabilities
(:func:`record_streamed_fit`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd

from labelaudit.errors import FittingError, InputDataError
from labelaudit.inputs.definition import DatasetBundle
from labelaudit.models.crossval import FoldPlan, FoldResult, assemble, encode_labels, fold_metrics, plan_folds
from labelaudit.models.selection import CRITERION, ModelSelection, Screening, resolve, screen
from labelaudit.pipeline.ingest import Batch
from labelaudit.pipeline.recording import recording
from labelaudit.store import AuditStore, StageWrite
from labelaudit.store.database import utcnow

__all__ = [
    "FitInputs",
    "candidates_frame",
    "labels_and_classes",
    "load_probabilities",
    "prepare_fit",
    "prepare_streamed_fit",
    "record_streamed_fit",
    "store_fit",
    "write_probs",
]


@dataclass(frozen=True)
class FitInputs:
    """What fitting (or loading precomputed probabilities) starts from."""

    labels: np.ndarray
    classes: list[str]
    plan: FoldPlan | None
    started: datetime
    #: ``"classifier": "auto"`` on a large batch: the candidates screened once for every fold (None: all)
    screening: Screening | None = None


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
        plan, screening = None, None
        if not precomputed:
            plan = plan_folds(labels, classes, folds=definition.folds, seed=definition.seed)
            if definition.model.classifier == "auto":  # once here, not in every fold
                screening = screen(batch.frame, labels, len(classes), definition)
        elif len(np.unique(labels)) < 2:
            raise FittingError(f"the batch has a single class ({classes[int(labels[0])]!r}); at least two are needed")
    return FitInputs(labels, classes, plan, started, screening)


def store_fit(
    store: AuditStore,
    run_id: str,
    started: datetime,
    results: list[FoldResult],
    labels: np.ndarray,
    classes: list[str],
) -> tuple[np.ndarray, pd.DataFrame]:
    """Assemble the folds' out-of-fold probabilities and store them with per-fold metrics.

    With ``"classifier": "auto"`` the candidate is chosen here (:func:`labelaudit.models.selection.resolve`)
    and every candidate's figures go to ``model_candidates``.
    """
    with recording(store, run_id, "fit"):
        results, selection = resolve(results)
        results = [replace(r, candidates=None) for r in results]  # resolved: assemble need not choose again
        probs, fold_of = assemble(results, len(labels), len(classes))
        metrics = fold_metrics(results, probs, labels)
        overall = metrics[metrics["fold"].isna()].iloc[0]
        chosen = f"; auto chose {selection.chosen}" if selection is not None else ""
        write_probs(
            store,
            run_id,
            "fit",
            started,
            probs,
            labels,
            classes,
            fold_of,
            metrics,
            f"{len(results)} folds, out-of-fold accuracy {overall['accuracy']:.4f}{chosen}",
            candidates=candidates_frame(selection),
        )
    return probs, metrics


def candidates_frame(selection: ModelSelection | None) -> pd.DataFrame | None:
    """``model_candidates`` rows of an ``auto`` fit (None for a fixed classifier: no rows)."""
    if selection is None:
        return None
    frame = selection.to_frame()
    frame["criterion"] = CRITERION
    return frame


def write_probs(
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
    *,
    candidates: pd.DataFrame | None = None,
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
    if candidates is not None:
        tables["model_candidates"] = candidates
    store.write_stage(run_id, stage, StageWrite(tables, started, rows=len(probs), message=message))


def load_probabilities(
    store: AuditStore, run_id: str, path: str, batch: Batch, labels: np.ndarray, classes: list[str], started: datetime
) -> tuple[np.ndarray, pd.DataFrame]:
    """Bring-your-own-model: load probabilities (id column + one column per class) instead of fitting."""
    from labelaudit.inputs.probabilities import load_precomputed

    with recording(store, run_id, "fit"):
        probs = load_precomputed(path, batch.row_ids, classes)
        metrics = fold_metrics([], probs, labels)
        write_probs(store, run_id, "fit", started, probs, labels, classes, None, metrics, f"precomputed from {path}")
    return probs, metrics


def prepare_streamed_fit(store: AuditStore, run_id: str, label_counts: dict[str, int]) -> None:
    """Refuse a probabilities file with fewer than two classes present, as the in-memory audit does (a failed
    fit stage); ``label_counts`` are the given labels per class, counted by the validate stage."""
    with recording(store, run_id, "fit"):
        present = [c for c, n in label_counts.items() if n]
        if len(present) < 2:
            raise FittingError(
                f"the batch has a single class ({present[0] if present else 'none'!r}); at least two are needed"
            )


def record_streamed_fit(
    store: AuditStore,
    run_id: str,
    path: str,
    classes: list[str],
    given_count: np.ndarray,
    *,
    accuracy: float,
    log_loss: float | None,
) -> None:
    """The fit stage of a probabilities file scored out of core: nothing is fitted and ``oof_probs`` is not
    copied (the file is the record); ``classes`` and the precomputed probabilities' accuracy are stored."""
    n = int(given_count.sum())
    tables = {
        "classes": pd.DataFrame(
            {
                "class_idx": np.arange(len(classes), dtype=np.int32),
                "label": classes,
                "given_count": np.asarray(given_count, dtype=np.int64),
            }
        ),
        "fold_metrics": pd.DataFrame(
            {
                "fold": pd.array([None], dtype="Int32"),
                "rows": [n],
                "accuracy": [accuracy],
                "log_loss": [log_loss],
                "seconds": [None],
            }
        ),
    }
    message = f"precomputed (out of core): {path}; probabilities not copied, the file is the record"
    store.write_stage(run_id, "fit", StageWrite(tables, utcnow(), rows=n, message=message))
