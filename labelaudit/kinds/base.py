"""The label-kind interface: what the audit asks of a kind of label, whatever the kind.

A *kind* is how one ``label_type`` of ``dataset.json`` (multiclass, multi-label, token) goes through the audit:
which labels are fitted, how the folds are planned and fitted, how the out-of-fold probabilities are assembled
and stored (or loaded from a file), how confident learning scores them, what one flagged row stands for, and
what the report shows. The flow and the tasks call these methods on the kind from the registry
(:func:`labelaudit.kinds.kind_for`) and never ask which kind it is, the way dbt-core's task loop asks a runner
table for each node (``../shared/STYLE.md``). Adding a kind is one module implementing :class:`LabelKind` and
one entry in the registry.

Every stage method records its stage like :mod:`labelaudit.pipeline.recording` (a failure is stored, then re-raised) and
writes the same tables, so the DuckDB schema does not depend on the kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from labelaudit.inputs.definition import DatasetBundle, DatasetDefinition
    from labelaudit.models.crossval import FoldPlan, FoldResult
    from labelaudit.pipeline.data_issues import IssueLabels
    from labelaudit.pipeline.ingest import Batch
    from labelaudit.pipeline.labels import LabelInputs
    from labelaudit.pipeline.score import ScoredBatch
    from labelaudit.store import AuditStore

__all__ = ["FitInputsLike", "LabelKind"]


class FitInputsLike(Protocol):
    """What every kind's fit inputs carry: the class names, the fold plan (None when probabilities are
    precomputed) and when the fit stage started. The rest (labels, targets, features) is the kind's own."""

    classes: list[str]
    plan: FoldPlan | None


@runtime_checkable
class LabelKind(Protocol):
    """One kind of label, behind the methods the audit calls (the stages in the order the flow runs them).

    Attributes
    ----------
    label_type : str
        The ``label_type`` of ``dataset.json`` this kind serves (the registry's key).
    unit : str
        What one row of ``scores`` (one flag) refers to, plural: ``"rows"`` or ``"sentences"``.
    fold_unit : str
        What a fold predicts, plural (logged per fold): ``"rows"`` or ``"tokens"``.
    fold_run_prefix : str
        Prefix of the fold task runs in Prefect (``fit-fold-<k>``, ``fit-sequence-fold-<k>``) and of the fold
        cache key: changing it refits every cached fold of the kind.
    score_run_name : str
        Name of the score task run in Prefect (``score``, ``score-sequences``).
    streamed_scoring : bool
        Whether ``labelaudit score`` (out-of-core scoring of a probabilities file) supports the kind.
    reviewable : bool
        Whether review sheets, verdict imports and cleaned exports take the kind's runs (one label per row).
    section : str or None
        Which part of the report's "Tags and tokens" section the kind shows (``"tags"``, ``"tokens"``), None
        for no section; ``chart_title`` / ``chart_desc`` caption its per-class issue-rate chart.
    """

    label_type: str
    unit: str
    fold_unit: str
    fold_run_prefix: str
    score_run_name: str
    streamed_scoring: bool
    reviewable: bool
    section: str | None
    chart_title: str | None
    chart_desc: str | None

    def prepare_labels(
        self, store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, annotations: str | None
    ) -> LabelInputs:
        """The labels to fit (stage ``labels``): annotations and review corrections where the kind takes them."""
        ...

    def prepare_fit(
        self, store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, *, precomputed: bool
    ) -> FitInputsLike:
        """Parse and encode the labels and plan the folds (stage ``fit``); bad labels fail here naming rows."""
        ...

    def plan_message(self, inputs: FitInputsLike, seed: int) -> str:
        """One log line describing the planned fit."""
        ...

    def fold_fingerprint(self, inputs: FitInputsLike) -> bytes:
        """The bytes of what the folds fit (labels or targets) for the fold cache key."""
        ...

    def fit_fold(
        self, inputs: FitInputsLike, fold: int, frame: pd.DataFrame, definition: DatasetDefinition
    ) -> FoldResult:
        """Fit one fold and predict its held-out part (no store access: runs on any worker)."""
        ...

    def store_fit(
        self, store: AuditStore, run_id: str, inputs: FitInputsLike, results: list[FoldResult]
    ) -> tuple[np.ndarray, pd.DataFrame]:
        """Assemble the folds' out-of-fold probabilities and store them with the fold metrics (stage ``fit``)."""
        ...

    def load_probabilities(
        self, store: AuditStore, run_id: str, path: str, batch: Batch, inputs: FitInputsLike
    ) -> tuple[np.ndarray, pd.DataFrame]:
        """Bring-your-own-model: read precomputed probabilities instead of fitting (stage ``fit``)."""
        ...

    def score(
        self,
        store: AuditStore,
        run_id: str,
        batch: Batch,
        inputs: FitInputsLike,
        probs: np.ndarray,
        bundle: DatasetBundle,
        *,
        oof_log_loss: float | None,
    ) -> ScoredBatch:
        """Confident learning on the probabilities; store scores, details and rates (stage ``score``)."""
        ...

    def score_message(self, run_metrics: pd.Series) -> str:
        """One log line summing up the score stage from its ``run_metrics`` row."""
        ...

    def issue_labels(self, inputs: FitInputsLike) -> IssueLabels:
        """The labels as the data-issue stage compares and counts them: one key per row (class, sorted tag set,
        tag sequence), the count per class in the kind's unit, and the detectors that do not apply, with why."""
        ...
