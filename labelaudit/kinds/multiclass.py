"""The multiclass kind: one class per row, the stages of :mod:`labelaudit.pipeline.labels`,
:mod:`labelaudit.pipeline.fit` and :mod:`labelaudit.pipeline.score`.

Only this kind takes annotations (majority vote, CROWDLAB) and review corrections, learns a flag cut-off from
reviews, and is scored out of core by ``labelaudit score``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelaudit.inputs.definition import DatasetBundle, DatasetDefinition
from labelaudit.models.crossval import FoldResult, fit_fold
from labelaudit.pipeline import fit, labels
from labelaudit.pipeline.data_issues import IssueLabels
from labelaudit.pipeline.fit import FitInputs
from labelaudit.pipeline.ingest import Batch
from labelaudit.pipeline.score import ScoredBatch, score_multiclass
from labelaudit.store import AuditStore
from labelaudit.store.queries import dataset_verdicts

__all__ = ["MulticlassKind"]


class MulticlassKind:
    """One class per row (:class:`labelaudit.kinds.base.LabelKind`)."""

    label_type = "multiclass"
    unit = "rows"
    fold_unit = "rows"
    fold_run_prefix = "fit-fold"
    score_run_name = "score"
    streamed_scoring = True
    reviewable = True
    section = None
    chart_title = None
    chart_desc = None

    def prepare_labels(
        self, store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, annotations: str | None
    ) -> labels.LabelInputs:
        """Majority vote of the annotations, then the dataset's confirmed review corrections."""
        verdicts = dataset_verdicts(store, bundle.definition.name)
        return labels.prepare_labels(store, run_id, batch, bundle, annotations, verdicts)

    def prepare_fit(
        self, store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, *, precomputed: bool
    ) -> FitInputs:
        return fit.prepare_fit(store, run_id, batch, bundle, precomputed=precomputed)

    def plan_message(self, inputs: FitInputs, seed: int) -> str:
        return f"{len(inputs.classes)} classes, {inputs.plan.n_folds} stratified folds (seed {seed})"

    def fold_fingerprint(self, inputs: FitInputs) -> bytes:
        return np.ascontiguousarray(inputs.labels).tobytes()

    def fit_fold(self, inputs: FitInputs, fold: int, frame: pd.DataFrame, definition: DatasetDefinition) -> FoldResult:
        plan = inputs.plan
        return fit_fold(frame, inputs.labels, len(inputs.classes), plan, fold, definition, screening=inputs.screening)

    def store_fit(
        self, store: AuditStore, run_id: str, inputs: FitInputs, results: list[FoldResult]
    ) -> tuple[np.ndarray, pd.DataFrame]:
        return fit.store_fit(store, run_id, inputs.started, results, inputs.labels, inputs.classes)

    def load_probabilities(
        self, store: AuditStore, run_id: str, path: str, batch: Batch, inputs: FitInputs
    ) -> tuple[np.ndarray, pd.DataFrame]:
        return fit.load_probabilities(store, run_id, path, batch, inputs.labels, inputs.classes, inputs.started)

    def score(
        self,
        store: AuditStore,
        run_id: str,
        batch: Batch,
        inputs: FitInputs,
        probs: np.ndarray,
        bundle: DatasetBundle,
        *,
        oof_log_loss: float | None,
    ) -> ScoredBatch:
        """Confident learning; with ``flag_cutoff_from_reviews`` in quality.json, flags only up to the learned
        cut-off (the verdicts of the dataset's other runs)."""
        verdicts = None
        if bundle.quality.flag_cutoff_from_reviews is not None:
            verdicts = dataset_verdicts(store, bundle.definition.name, exclude_run=run_id)
        return score_multiclass(
            store,
            run_id,
            batch,
            inputs.labels,
            probs,
            inputs.classes,
            bundle,
            oof_log_loss=oof_log_loss,
            verdicts=verdicts,
        )

    def score_message(self, run_metrics: pd.Series) -> str:
        m = run_metrics
        return (
            f"{m['flagged']} of {m['rows']} rows flagged; estimated label-error rate "
            f"{100 * m['estimated_error_rate']:.2f}%"
        )

    def issue_labels(self, inputs: FitInputs) -> IssueLabels:
        """The fitted class of each row (after any majority vote or review correction); every detector applies."""
        classes = np.asarray(inputs.classes, dtype=object)
        counts = np.bincount(inputs.labels, minlength=len(classes))
        return IssueLabels(classes[inputs.labels].tolist(), pd.Series(counts, index=inputs.classes), "rows")
