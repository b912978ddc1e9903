"""Stage ``labels`` (after schema validation, before fitting): which labels are fitted.

Written only when it has something to say (a plain audit stores nothing; table ``annotations``):

- With long-format annotations (``--annotations FILE``), the label fitted and scored for an annotated item is
  the **majority vote** of its annotators: ties go to the class given least often over the whole file, then to
  the class whose annotators agree most with the untied votes, then to the lowest class index
  (:func:`labelaudit.cl.multiannotator.get_majority_vote_label` without a model: there is none yet). Items
  without annotations keep the label in the batch file.
- Then **confirmed review corrections** (verdict ``error`` with a corrected label, from any earlier import for
  this dataset; the latest verdict per row id wins, so a later ``correct`` undoes a correction) replace the
  labels of those row ids.

The stage stores the annotations and says in its message how many labels each step changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from labelaudit.cl.multiannotator import get_majority_vote_label
from labelaudit.errors import InputDataError, _where
from labelaudit.inputs.definition import AnnotationsSpec, DatasetBundle
from labelaudit.inputs.readers import read_batch
from labelaudit.pipeline.ingest import Batch
from labelaudit.pipeline.labeler_profiles import annotation_matrix
from labelaudit.pipeline.recording import recording
from labelaudit.review.verdicts import apply_corrections
from labelaudit.store import AuditStore, StageWrite

__all__ = ["ANNOTATION_COLUMNS", "LabelInputs", "prepare_labels", "read_annotations"]


#: Standard column names of the stored annotations (the file's names come from the definition).
ANNOTATION_COLUMNS = ("item_id", "annotator_id", "label", "timestamp")


@dataclass(frozen=True)
class LabelInputs:
    """The batch with the labels to fit, the definition (classes fixed when annotations add some), and the
    annotations in standard columns (None without ``--annotations``)."""

    batch: Batch
    bundle: DatasetBundle
    annotations: pd.DataFrame | None = None
    majority_changed: int = 0
    corrections_applied: int = 0
    message: str | None = None


def read_annotations(path: str, spec: AnnotationsSpec) -> pd.DataFrame:
    """Read an annotations file and return it with the standard columns (ids and labels as text)."""
    names = [spec.item_column, spec.annotator_column, spec.label_column]
    if spec.timestamp_column:
        names.append(spec.timestamp_column)
    frame, _ = read_batch(path, string_columns=tuple(names))
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise InputDataError(
            f"annotations file lacks columns {missing} (it has {[str(c) for c in frame.columns]}); set the "
            'column names in dataset.json\'s "annotations" block',
            source=path,
        )
    out = pd.DataFrame({std: frame[name] for std, name in zip(ANNOTATION_COLUMNS, names, strict=False)})
    if "timestamp" not in out:
        out["timestamp"] = pd.Series(pd.NA, index=out.index, dtype="str")
    for std, name in zip(ANNOTATION_COLUMNS[:3], names, strict=False):
        empty = np.flatnonzero(out[std].isna().to_numpy() | (out[std].astype("str").str.strip() == "").to_numpy())
        if empty.size:
            raise InputDataError(
                f"{std.replace('_', ' ')} is empty", source=path, column=name, rows=(empty + 1).tolist()
            )
    out["timestamp"] = out["timestamp"].astype("str")
    return out


def _classes(bundle: DatasetBundle, file_labels: pd.Series, annotations: pd.DataFrame | None) -> list[str]:
    if bundle.definition.classes:
        return list(bundle.definition.classes)
    values = set(file_labels.dropna().astype(str))
    if annotations is not None:
        values |= set(annotations["label"].astype(str))
    return sorted(values)


def _matrix(annotations: pd.DataFrame, row_ids: pd.Series, classes: list[str], spec: AnnotationsSpec, path: str):
    """Validate against the batch (unknown ids, unknown labels, repeated pairs), naming the file's rows."""
    try:
        return annotation_matrix(
            annotations,
            item_ids=row_ids.astype(str).tolist(),
            classes=classes,
            id_column="item_id",
            annotator_column="annotator_id",
            label_column="label",
            timestamp_column="timestamp" if spec.timestamp_column else None,
        )
    except InputDataError as exc:
        column = {"item_id": spec.item_column, "label": spec.label_column, "annotator_id": spec.annotator_column}.get(
            exc.column or "", exc.column
        )
        prefix = _where(None, exc.column, exc.rows)
        detail = str(exc)[len(prefix) + 2 :] if prefix else str(exc)
        raise InputDataError(f"annotations: {detail}", source=path, column=column, rows=exc.rows) from exc


def prepare_labels(
    store: AuditStore,
    run_id: str,
    batch: Batch,
    bundle: DatasetBundle,
    annotations_path: str | None,
    corrections: pd.DataFrame | None = None,
) -> LabelInputs:
    """The labels to fit: majority vote of the annotations, then confirmed corrections (module docstring).

    ``corrections`` are the dataset's stored verdicts (:func:`labelaudit.store.queries.dataset_verdicts`); with
    neither annotations nor a correction that changes a label, nothing is stored and the batch is returned
    as it is. Invalid annotations fail the ``labels`` stage (and the run) with nothing of it stored.
    """
    definition = bundle.definition
    label_column = definition.label_column
    has_corrections = corrections is not None and bool((corrections["verdict"] == "error").any())
    if annotations_path is None and not has_corrections:
        return LabelInputs(batch, bundle)
    with recording(store, run_id, "labels") as started:
        frame = batch.frame.copy()
        if label_column not in frame.columns:
            frame[label_column] = pd.Series(pd.NA, index=frame.index, dtype="str")
        file_labels = frame[label_column].astype("str")
        row_ids = batch.row_ids.astype(str).reset_index(drop=True)
        annotations, notes, majority_changed = None, [], 0
        if annotations_path is not None:
            spec = definition.annotations or AnnotationsSpec()
            annotations = read_annotations(annotations_path, spec)
            classes = _classes(bundle, file_labels, annotations)
            matrix = _matrix(annotations, row_ids, classes, spec, annotations_path)
            majority = get_majority_vote_label(matrix.codes, None, verbose=False)
            voted = np.asarray(classes, dtype=object)[majority]
            before = file_labels.iloc[matrix.positions].to_numpy()
            majority_changed = int(sum(a != b for a, b in zip(voted, before, strict=True)))
            frame.iloc[matrix.positions, frame.columns.get_loc(label_column)] = voted
            if not definition.classes:
                bundle = bundle.model_copy(update={"definition": definition.model_copy(update={"classes": classes})})
            notes.append(
                f"majority vote of {len(annotations)} annotations by {annotations['annotator_id'].nunique()} "
                f"annotators on {len(matrix.positions)} items ({majority_changed} differ from the batch file)"
            )
        applied = 0
        if has_corrections:
            current = pd.Series(frame[label_column].astype("str").to_numpy(), index=row_ids.to_numpy())
            corrected = apply_corrections(current, corrections, order_by="imported_at")
            changed = ~(corrected.eq(current) | (corrected.isna() & current.isna()))
            applied = int(changed.sum())
            frame[label_column] = corrected.to_numpy()
            notes.append(f"{applied} confirmed review corrections applied")
        message = "; ".join(notes)
        tables = {"annotations": annotations} if annotations is not None else {}
        store.write_stage(
            run_id,
            "labels",
            StageWrite(tables, started, rows=len(annotations) if annotations is not None else applied, message=message),
        )
    new_batch = replace(batch, frame=frame)
    return LabelInputs(new_batch, bundle, annotations, majority_changed, applied, message)
