"""The audit's label stages: which labels are fitted, and who gave them.

Two stages, each written only when it has something to say (a plain audit stores neither):

``labels`` (after schema validation, before fitting)
    With long-format annotations (``--annotations FILE``), the label fitted and scored for an annotated item
    is the **majority vote** of its annotators: ties go to the class given least often over the whole file,
    then to the class whose annotators agree most with the untied votes, then to the lowest class index
    (:func:`labelaudit.cl.multiannotator.get_majority_vote_label` without a model: there is none yet). Items
    without annotations keep the label in the batch file. Then **confirmed review corrections** (verdict
    ``error`` with a corrected label, from any earlier import for this dataset; the latest verdict per row id
    wins, so a later ``correct`` undoes a correction) replace the labels of those row ids. The stage stores the
    annotations and says in its message how many labels each step changed.

``labelers`` (after scoring, with annotations only)
    CROWDLAB consensus, consensus quality and annotator quality from the out-of-fold probabilities, then the
    labeler profiles and routing of :func:`labelaudit.pipeline.labelers.profile_labelers`, stored per run.

:func:`score` is the score stage with ``quality.json``'s ``flag_cutoff_from_reviews`` applied: see
:class:`labelaudit.inputs.definition.ReviewCutoffOption` for the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from labelaudit.cl.multiannotator import get_majority_vote_label
from labelaudit.errors import InputDataError, _where
from labelaudit.inputs.definition import AnnotationsSpec, DatasetBundle
from labelaudit.inputs.readers import read_batch
from labelaudit.pipeline import stages
from labelaudit.pipeline.labelers import LabelerProfiles, annotation_matrix, profile_labelers
from labelaudit.pipeline.scoring import ScoredBatch, score_batch
from labelaudit.review.verdicts import apply_corrections, cutoff_for_target_precision
from labelaudit.store import AuditStore, StageWrite

__all__ = ["LabelInputs", "prepare_labels", "profile", "restrict_flags", "score"]

#: Standard column names of the stored annotations (the file's names come from the definition).
ANNOTATION_COLUMNS = ("item_id", "annotator_id", "label", "timestamp")


@dataclass(frozen=True)
class LabelInputs:
    """The batch with the labels to fit, the definition (classes fixed when annotations add some), and the
    annotations in standard columns (None without ``--annotations``)."""

    batch: stages.Batch
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
    batch: stages.Batch,
    bundle: DatasetBundle,
    annotations_path: str | None,
    corrections: pd.DataFrame | None = None,
) -> LabelInputs:
    """The labels to fit: majority vote of the annotations, then confirmed corrections (module docstring).

    ``corrections`` are the dataset's stored verdicts (:func:`labelaudit.review.feedback.dataset_verdicts`); with
    neither annotations nor a correction that changes a label, nothing is stored and the batch is returned
    as it is. Invalid annotations fail the ``labels`` stage (and the run) with nothing of it stored.
    """
    definition = bundle.definition
    label_column = definition.label_column
    has_corrections = corrections is not None and bool((corrections["verdict"] == "error").any())
    if annotations_path is None and not has_corrections:
        return LabelInputs(batch, bundle)
    with stages.recording(store, run_id, "labels") as started:
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


def profile(
    store: AuditStore,
    run_id: str,
    inputs: LabelInputs,
    probs: np.ndarray,
    classes: list[str],
    *,
    min_volume: int = 5,
) -> LabelerProfiles | None:
    """CROWDLAB consensus and labeler profiles from the out-of-fold probabilities; stored as the ``labelers``
    stage. Returns None (and stores nothing) without annotations."""
    if inputs.annotations is None:
        return None
    with stages.recording(store, run_id, "labelers") as started:
        spec = inputs.bundle.definition.annotations or AnnotationsSpec()
        profiles = profile_labelers(
            inputs.annotations,
            probs,
            item_ids=inputs.batch.row_ids.astype(str).tolist(),
            classes=classes,
            id_column="item_id",
            annotator_column="annotator_id",
            label_column="label",
            timestamp_column="timestamp" if spec.timestamp_column else None,
            min_volume=min_volume,
        )
        tables = profile_tables(profiles)
        best = profiles.annotators.iloc[0]
        message = (
            f"{len(profiles.items)} items, {len(profiles.annotators)} annotators; CROWDLAB consensus differs "
            f"from the majority vote on {int((~profiles.items['consensus_is_majority']).sum())} items; "
            f"best annotator {best['annotator']} (quality {best['crowdlab_quality']:.3f})"
        )
        store.write_stage(run_id, "labelers", StageWrite(tables, started, rows=len(profiles.items), message=message))
    return profiles


def profile_tables(profiles: LabelerProfiles) -> dict[str, pd.DataFrame]:
    """The profiles in the stored tables' columns."""
    items = profiles.items.rename(
        columns={
            "majority_label": "majority_vote",
            "consensus_quality_score": "consensus_quality",
            "consensus_agreement": "annotator_agreement",
        }
    ).assign(item_id=lambda f: f["item_id"].astype(str), num_annotations=lambda f: f["num_annotations"].astype("int32"))
    annotators = profiles.annotators.rename(columns={"annotator": "annotator_id", "crowdlab_quality": "quality"})
    annotators = annotators.assign(annotator_id=annotators["annotator_id"].astype(str))
    annotators.insert(1, "rank", np.arange(1, len(annotators) + 1, dtype=np.int32))
    classes = profiles.annotator_classes.rename(columns={"annotator": "annotator_id", "class": "label"})
    classes = classes.assign(annotator_id=classes["annotator_id"].astype(str))
    confusions = profiles.confusions.rename(
        columns={"annotator": "annotator_id", "given": "given_label", "consensus": "consensus_label"}
    )
    confusions = confusions.assign(annotator_id=confusions["annotator_id"].astype(str))
    routing = profiles.routing.rename(columns={"annotator": "annotator_id", "class": "label"})
    routing = routing.assign(annotator_id=routing["annotator_id"].astype(str))
    return {
        "item_consensus": items,
        "labeler_profiles": annotators,
        "labeler_class_profiles": classes,
        "labeler_confusions": confusions,
        "labeler_routing": routing,
    }


def restrict_flags(scored: ScoredBatch, labels: np.ndarray, cutoff: float) -> ScoredBatch:
    """Keep only the flags whose label-quality score is at or below ``cutoff``; re-rank and re-count them."""
    scores = scored.scores.copy()
    mask = scores["is_issue"].to_numpy(dtype=bool) & (scores["label_quality"].to_numpy() <= cutoff)
    quality = scores["label_quality"].to_numpy()
    flagged = np.flatnonzero(mask)
    rank = pd.array([pd.NA] * len(scores), dtype="Int32")
    rank[flagged[np.argsort(quality[flagged], kind="stable")]] = np.arange(1, flagged.size + 1)
    scores["is_issue"], scores["issue_rank"] = mask, rank
    k = len(scored.class_metrics)
    per_class = np.bincount(labels[mask], minlength=k)
    classes = scored.class_metrics.copy()
    given = classes["given_count"].to_numpy()
    classes["flagged"] = per_class.astype(np.int64)
    classes["flagged_rate"] = np.where(given > 0, per_class / np.maximum(given, 1), 0.0)
    metrics = scored.run_metrics.copy()
    metrics["flagged"] = int(mask.sum())
    metrics["flagged_rate"] = float(mask.mean())
    return ScoredBatch(scores, scored.noise_matrix, classes, metrics)


def score(
    store: AuditStore,
    run_id: str,
    batch: stages.Batch,
    labels: np.ndarray,
    probs: np.ndarray,
    classes: list[str],
    bundle: DatasetBundle,
    *,
    oof_log_loss: float | None = None,
    verdicts: pd.DataFrame | None = None,
) -> ScoredBatch:
    """The score stage; with ``flag_cutoff_from_reviews`` set, CL's flags restricted to the learned cut-off.

    ``verdicts`` are the dataset's stored verdicts from earlier runs (``score`` is the row's label-quality
    score when it was reviewed). Without the option this is :func:`labelaudit.pipeline.stages.score`.
    """
    option = bundle.quality.flag_cutoff_from_reviews
    if option is None:
        return stages.score(store, run_id, batch, labels, probs, classes, bundle, oof_log_loss=oof_log_loss)
    with stages.recording(store, run_id, "score") as started:
        scored = score_batch(
            labels, probs, classes, batch.row_ids, filter_by=bundle.definition.filter_by, oof_log_loss=oof_log_loss
        )
        cl_flags = int(scored.scores["is_issue"].sum())
        usable = verdicts if verdicts is not None else pd.DataFrame({"verdict": [], "score": []})
        usable = usable[usable["score"].notna()]
        cut = cutoff_for_target_precision(
            usable["verdict"].tolist(),
            usable["score"].astype(float).tolist(),
            target=option.target_precision,
            min_verdicts=option.min_verdicts,
            min_flagged=option.min_flagged,
        )
        if cut.cutoff is None:
            note = f"review cut-off not applied ({cut.reason}): confident learning's flags unchanged"
        else:
            scored = restrict_flags(scored, labels, cut.cutoff)
            note = (
                f"confident learning flagged {cl_flags}; kept those with label quality <= {cut.cutoff:.4f}, the "
                f"cut-off where {cut.n_flagged} reviewed flags reached {cut.precision:.0%} precision "
                f"(target {option.target_precision:.0%}, {cut.n_decided} decided verdicts)"
            )
        flagged = int(scored.scores["is_issue"].sum())
        tables = {
            "scores": scored.scores,
            "noise_matrix": scored.noise_matrix,
            "class_metrics": scored.class_metrics,
            "run_metrics": scored.run_metrics,
        }
        store.write_stage(
            run_id, "score", StageWrite(tables, started, rows=len(labels), message=f"{flagged} rows flagged; {note}")
        )
    return scored
