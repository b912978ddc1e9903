"""The multi-label kind: a row carries zero or more tags; each (row, tag) annotation can be missing or extra.

``scores`` has one row per batch row (given and suggested tag sets, the aggregated label-quality score,
``is_issue`` when any tag annotation looks wrong); the flagged ``(row, tag)`` cells are ``label_issue_details``;
``class_metrics`` has one row per tag; ``oof_probs`` one row per row with independent per-tag probabilities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labelaudit.errors import FittingError, InputDataError
from labelaudit.inputs.definition import DatasetDefinition
from labelaudit.kinds._sequence import (
    SequenceFitInputs,
    SequenceKind,
    details_frame,
    empty_noise_matrix,
    issue_ranks,
    probability_values,
    read_probability_file,
    run_metrics,
)
from labelaudit.models.crossval import FoldPlan, FoldResult
from labelaudit.pipeline.ingest import Batch
from labelaudit.pipeline.score import ScoredBatch

__all__ = ["MultilabelKind", "load_multilabel_probabilities"]


def load_multilabel_probabilities(path: str, row_ids: pd.Series, classes: list[str]) -> np.ndarray:
    """(N, K) independent per-class probabilities from a file with an id column and one column per class."""
    from labelaudit.inputs.label_formats import validate_multilabel_pred_probs
    from labelaudit.inputs.probabilities import positions_by_id

    frame, id_column = read_probability_file(path, classes, [])
    values = probability_values(frame, classes, path)[positions_by_id(frame, id_column, row_ids, path)]
    try:
        return validate_multilabel_pred_probs(values)
    except InputDataError as exc:
        raise InputDataError(f"{exc} (rows in batch order)", source=path) from exc


class MultilabelKind(SequenceKind):
    """Zero or more tags per row (:class:`labelaudit.kinds.base.LabelKind`)."""

    label_type = "multilabel"
    unit = "rows"
    fold_unit = "rows"
    accuracy_unit = "cell"
    issue_keys_sorted = True
    issue_count_unit = "tags"
    issue_skips = {  # noqa: RUF012 (read only)
        "uncertain": "multi-label probabilities are one independent yes/no per tag, not a distribution over "
        "classes, so their entropy does not measure how unsure the model is about the row",
    }
    section = "tags"
    chart_title = "Issue rate per tag"
    chart_desc = (
        "One bar per tag: the share of the batch's rows whose annotation of that tag is flagged (missing or "
        "extra). A black tick marks the tag's limit in the quality gate (max_class_label_error_rate); red "
        "bars breach it. The dashed line is the limit on the share of rows with any issue."
    )

    def _parse(self, batch: Batch, definition: DatasetDefinition) -> tuple[list[list[int]], list[str], None]:
        from labelaudit.inputs.label_formats import parse_multilabel_column

        labels, classes = parse_multilabel_column(
            batch.frame[definition.label_column],
            classes=definition.classes,
            fmt=definition.label_format,
            separator=definition.label_separator,
            source=batch.source.path,
        )
        return labels, classes, None

    def _targets_and_plan(
        self,
        labels: list[list[int]],
        classes: list[str],
        tokens: None,
        definition: DatasetDefinition,
        *,
        precomputed: bool,
    ) -> tuple[np.ndarray, FoldPlan | None, sp.csr_matrix | None]:
        from labelaudit.inputs.label_formats import multilabel_indicator
        from labelaudit.models.sequence_fitting import plan_multilabel_folds

        targets = multilabel_indicator(labels, len(labels), len(classes))
        if precomputed:
            return targets, None, None
        if not definition.features:
            raise FittingError(
                f"dataset {definition.name!r} declares no feature columns to fit the tags on; add features to "
                "dataset.json or supply precomputed probabilities (--probabilities)"
            )
        return targets, plan_multilabel_folds(targets, folds=definition.folds, seed=definition.seed), None

    def fit_fold(
        self, inputs: SequenceFitInputs, fold: int, frame: pd.DataFrame, definition: DatasetDefinition
    ) -> FoldResult:
        """One-vs-rest on the definition's features."""
        from labelaudit.models.sequence_fitting import fit_multilabel_fold

        if inputs.plan is None:
            raise FittingError("internal error: no fold plan (probabilities were precomputed)")
        return fit_multilabel_fold(frame, inputs.targets, inputs.plan, fold, definition)

    def _metrics(self, inputs: SequenceFitInputs, results: list[FoldResult], probs: np.ndarray) -> pd.DataFrame:
        from labelaudit.models.sequence_fitting import multilabel_fold_metrics

        return multilabel_fold_metrics(results, probs, inputs.targets)

    def _layout(self, inputs: SequenceFitInputs, n: int) -> tuple[np.ndarray, None, np.ndarray]:
        return np.arange(n, dtype=np.int64), None, inputs.targets.sum(axis=0)

    def _read_probabilities(self, path: str, batch: Batch, inputs: SequenceFitInputs) -> np.ndarray:
        return load_multilabel_probabilities(path, batch.row_ids, inputs.classes)

    def _score_frames(
        self,
        inputs: SequenceFitInputs,
        probs: np.ndarray,
        row_ids: np.ndarray,
        definition: DatasetDefinition,
        log_loss: float | None,
    ) -> tuple[ScoredBatch, pd.DataFrame, str]:
        from labelaudit.cl.multilabel_classification import audit_multilabel

        audit = audit_multilabel(inputs.labels, probs, class_names=inputs.classes, filter_by=definition.filter_by)
        given = inputs.targets.astype(bool)
        scores = _scores(inputs, audit, probs, given, row_ids, definition.label_separator)
        details = _details(audit.cells, row_ids)
        flagged_cells = audit.per_class_mask.sum(axis=0)
        n, k = probs.shape
        predicted = probs >= 0.5
        class_metrics = pd.DataFrame(
            {
                "label": inputs.classes,
                "given_count": given.sum(axis=0).astype(np.int64),
                "flagged": flagged_cells.astype(np.int64),
                "estimated_error_rate": flagged_cells / max(n, 1),
                "flagged_rate": flagged_cells / max(n, 1),
                "oof_accuracy": (predicted == given).mean(axis=0),
            }
        )
        accuracy = float((predicted == given).mean())
        metrics = run_metrics(n, k, audit.issue_mask, accuracy, log_loss, definition.filter_by)
        extra = int((audit.cells["kind"] == "extra").sum())
        message = (
            f"{int(audit.issue_mask.sum())} rows flagged ({len(audit.cells)} tag annotations: "
            f"{len(audit.cells) - extra} missing, {extra} extra)"
        )
        return ScoredBatch(scores, empty_noise_matrix(), class_metrics, metrics), details, message


def _scores(
    inputs: SequenceFitInputs, audit, probs: np.ndarray, given: np.ndarray, row_ids: np.ndarray, separator: str
) -> pd.DataFrame:
    """One ``scores`` row per batch row: the given and suggested tag sets, the row's weakest tag's score."""
    from labelaudit.inputs.label_formats import format_multilabel

    suggested = given ^ audit.per_class_mask
    n = len(probs)
    worst = audit.class_scores.argmin(axis=1)
    p_worst = probs[np.arange(n), worst]
    quality = np.asarray(audit.label_quality, dtype=np.float64)
    return pd.DataFrame(
        {
            "row_idx": np.arange(n, dtype=np.int64),
            "row_id": row_ids,
            "given_label": format_multilabel(inputs.labels, inputs.classes, separator=separator),
            "suggested_label": format_multilabel(
                [np.flatnonzero(row).tolist() for row in suggested], inputs.classes, separator=separator
            ),
            "suggested_prob": np.where(suggested[np.arange(n), worst], p_worst, 1 - p_worst).astype(np.float64),
            "label_quality": quality,
            "is_issue": audit.issue_mask,
            "issue_rank": issue_ranks(quality, audit.issue_mask),
        }
    )


def _details(cells: pd.DataFrame, row_ids: np.ndarray) -> pd.DataFrame:
    """One ``label_issue_details`` row per flagged (row, tag) cell: ``missing`` or ``extra``."""
    extra = (cells["kind"] == "extra").to_numpy()
    return details_frame(
        pd.DataFrame(
            {
                "row_idx": cells["row"].to_numpy(dtype=np.int64),
                "position": cells["class_index"].to_numpy(dtype=np.int32),
                "item": cells["class_name"].astype(str).to_numpy(),
                "kind": cells["kind"].to_numpy(),
                "given": np.where(extra, "present", "absent"),
                "suggested": np.where(extra, "absent", "present"),
                "score": cells["class_score"].to_numpy(dtype=np.float64),
                "suggested_prob": np.where(extra, 1 - cells["probability"], cells["probability"]).astype(np.float64),
            }
        ),
        row_ids,
    )
