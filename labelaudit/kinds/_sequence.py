"""What the multi-label and token kinds share: their fit inputs and the stage skeletons around their hooks.

Both kinds write the same tables with the same meaning per *row* (the docstring of :mod:`labelaudit.kinds` describes
them); they differ in how labels are parsed and fitted, how probabilities are laid out and read, and how
confident learning scores them. :class:`SequenceKind` runs the stages (recording, storing) and calls the kind's
hooks for those differences; the two kinds subclass it directly (one level, no further inheritance).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labelaudit.data_issues.duplicates import label_keys
from labelaudit.errors import DefinitionError, FittingError, InputDataError
from labelaudit.inputs.definition import DatasetBundle, DatasetDefinition
from labelaudit.models.crossval import FoldPlan, FoldResult, assemble
from labelaudit.pipeline.data_issues import IssueLabels
from labelaudit.pipeline.ingest import Batch
from labelaudit.pipeline.labels import LabelInputs
from labelaudit.pipeline.recording import recording
from labelaudit.pipeline.score import RunMetrics, ScoredBatch, issue_ranks, write_score_stage
from labelaudit.store import AuditStore, StageWrite

__all__ = [
    "SequenceFitInputs",
    "SequenceKind",
    "issue_ranks",
    "read_probability_file",
    "refuse_annotations",
    "run_metrics",
]

#: The noise matrix is a multiclass table: sequence runs store none.
_EMPTY_NOISE_COLUMNS = ["given_label", "true_label", "confident_count", "joint", "noise"]


@dataclass(frozen=True)
class SequenceFitInputs:
    """What fitting (or loading precomputed probabilities) starts from, for multi-label or token batches.

    ``labels`` are the given class indices per row (multi-label: the row's tags) or per sentence (token: one
    per token); ``targets`` is what the folds fit: the (N, K) indicator matrix (multi-label) or the flat (T,)
    token classes (token). ``features`` are the hashed token features (token batches that are fitted).
    """

    label_type: str
    labels: list[list[int]]
    classes: list[str]
    targets: np.ndarray
    plan: FoldPlan | None
    started: datetime
    tokens: list[list[str]] | None = None
    features: sp.csr_matrix | None = None

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per sentence (token batches)."""
        return np.fromiter((len(row) for row in self.labels), dtype=np.int64, count=len(self.labels))

    @property
    def n_items(self) -> int:
        """Rows of the probability matrix: batch rows (multi-label) or tokens (token)."""
        return len(self.targets)


def refuse_annotations(store: AuditStore, run_id: str, bundle: DatasetBundle, annotations: str | None) -> None:
    """``--annotations`` (majority vote, CROWDLAB) is for multiclass datasets; refused at stage ``labels``."""
    if annotations is None:
        return
    with recording(store, run_id, "labels"):
        raise DefinitionError(
            f"--annotations is supported for multiclass datasets only; dataset {bundle.definition.name!r} has "
            f"label_type {bundle.definition.label_type!r}"
        )


def read_probability_file(path: str, classes: list[str], keys: list[str]) -> tuple[pd.DataFrame, str]:
    """The file and the name of its id column: the one column that is neither a class nor one of ``keys``."""
    from labelaudit.inputs.readers import read_batch

    frame, _ = read_batch(path)
    frame.columns = [str(c) for c in frame.columns]
    missing = [c for c in classes if c not in frame.columns]
    others = [c for c in frame.columns if c not in classes and c not in keys]
    absent_keys = [c for c in keys if c not in frame.columns]
    if len(others) != 1 or missing or absent_keys:
        wanted = ["<id>", *keys, *classes]
        raise InputDataError(
            f"expected the columns {wanted} (an id column, then one column per class); found {list(frame.columns)}",
            source=path,
        )
    frame[others[0]] = frame[others[0]].astype("str")
    return frame, others[0]


def probability_values(frame: pd.DataFrame, classes: list[str], path: str) -> np.ndarray:
    """The class columns as floats; a non-numeric value is an input error naming the file."""
    try:
        return frame[classes].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise InputDataError(f"probability columns must be numeric ({exc})", source=path) from exc


def run_metrics(
    rows: int, classes: int, mask: np.ndarray, accuracy: float, log_loss: float | None, method: str
) -> pd.DataFrame:
    """The one-row ``run_metrics`` frame of a sequence run: the flagged share is the estimated error rate."""
    from labelaudit.cl.filter import TIE_RULE

    share = float(mask.mean()) if rows else 0.0
    return RunMetrics(
        rows=rows,
        classes=classes,
        flagged=int(mask.sum()),
        estimated_issues=float(mask.sum()),
        estimated_error_rate=share,
        flagged_rate=share,
        oof_accuracy=accuracy,
        oof_log_loss=log_loss,
        method=method,
        tie_rule=TIE_RULE,
    ).frame()


def details_frame(frame: pd.DataFrame, row_ids: np.ndarray) -> pd.DataFrame:
    """``label_issue_details`` rows: the row id beside each row index, and the order given as ``detail_rank``."""
    frame = frame.reset_index(drop=True)
    frame.insert(1, "row_id", row_ids[frame["row_idx"].to_numpy()])
    frame["detail_rank"] = np.arange(1, len(frame) + 1, dtype=np.int32)
    return frame


def empty_noise_matrix() -> pd.DataFrame:
    return pd.DataFrame(columns=_EMPTY_NOISE_COLUMNS)


class SequenceKind:
    """The stages of a sequence kind; subclasses give the hooks (``_parse`` ... ``_score_frames``)."""

    label_type: str
    unit: str
    fold_unit: str
    #: What the out-of-fold accuracy in the fit stage's message is per ("cell", "token").
    accuracy_unit: str
    fold_run_prefix = "fit-sequence-fold"
    score_run_name = "score-sequences"
    streamed_scoring = False
    reviewable = False
    section: str | None
    chart_title: str | None
    chart_desc: str | None
    #: The data-issue stage's view of the labels (:meth:`issue_labels`): a row's key is its sorted tag set
    #: (multi-label) or its tag sequence (token); classes are counted per tag or per token; and the detectors
    #: that do not apply to the kind, with why.
    issue_keys_sorted: bool
    issue_count_unit: str
    issue_skips: dict[str, str]

    # -- hooks ------------------------------------------------------------------------------------------------

    def _parse(self, batch: Batch, definition: DatasetDefinition) -> tuple[list[list[int]], list[str], list | None]:
        raise NotImplementedError

    def _targets_and_plan(
        self,
        labels: list[list[int]],
        classes: list[str],
        tokens: list | None,
        definition: DatasetDefinition,
        *,
        precomputed: bool,
    ) -> tuple[np.ndarray, FoldPlan | None, sp.csr_matrix | None]:
        raise NotImplementedError

    def _metrics(self, inputs: SequenceFitInputs, results: list[FoldResult], probs: np.ndarray) -> pd.DataFrame:
        raise NotImplementedError

    def _layout(self, inputs: SequenceFitInputs, n: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """``oof_probs.row_idx``, ``oof_probs.token_idx`` (None: no token index) and each class's given count."""
        raise NotImplementedError

    def _read_probabilities(self, path: str, batch: Batch, inputs: SequenceFitInputs) -> np.ndarray:
        raise NotImplementedError

    def _score_frames(
        self,
        inputs: SequenceFitInputs,
        probs: np.ndarray,
        row_ids: np.ndarray,
        definition: DatasetDefinition,
        log_loss: float | None,
    ) -> tuple[ScoredBatch, pd.DataFrame, str]:
        raise NotImplementedError

    # -- the stages -------------------------------------------------------------------------------------------

    def prepare_labels(
        self, store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, annotations: str | None
    ) -> LabelInputs:
        """The file's labels as they are: annotations are refused (stage ``labels``), no corrections apply."""
        refuse_annotations(store, run_id, bundle, annotations)
        return LabelInputs(batch, bundle)

    def prepare_fit(
        self, store: AuditStore, run_id: str, batch: Batch, bundle: DatasetBundle, *, precomputed: bool
    ) -> SequenceFitInputs:
        """Parse the label (and tokens) column and plan the folds; bad formats fail the fit stage naming rows."""
        definition = bundle.definition
        with recording(store, run_id, "fit") as started:
            labels, classes, tokens = self._parse(batch, definition)
            if len(classes) < 2:
                raise FittingError(f"the batch uses {len(classes)} class(es) {classes}; at least two are needed")
            targets, plan, features = self._targets_and_plan(
                labels, classes, tokens, definition, precomputed=precomputed
            )
        return SequenceFitInputs(self.label_type, labels, classes, targets, plan, started, tokens, features)

    def plan_message(self, inputs: SequenceFitInputs, seed: int) -> str:
        return f"{self.label_type} labels, {len(inputs.classes)} classes, {inputs.plan.n_folds} folds (seed {seed})"

    def fold_fingerprint(self, inputs: SequenceFitInputs) -> bytes:
        return np.ascontiguousarray(inputs.targets).tobytes()

    def store_fit(
        self, store: AuditStore, run_id: str, inputs: SequenceFitInputs, results: list[FoldResult]
    ) -> tuple[np.ndarray, pd.DataFrame]:
        """Assemble the folds' out-of-fold probabilities ((N, K) or flat (T, K)) and store them with metrics."""
        with recording(store, run_id, "fit"):
            probs, fold_of = assemble(results, inputs.n_items, len(inputs.classes))
            metrics = self._metrics(inputs, results, probs)
            overall = metrics[metrics["fold"].isna()].iloc[0]
            message = f"{len(results)} folds, out-of-fold {self.accuracy_unit} accuracy {overall['accuracy']:.4f}"
            self._write_probs(store, run_id, inputs, probs, fold_of, metrics, message)
        return probs, metrics

    def load_probabilities(
        self, store: AuditStore, run_id: str, path: str, batch: Batch, inputs: SequenceFitInputs
    ) -> tuple[np.ndarray, pd.DataFrame]:
        """Bring-your-own-model (file layouts: README, "Bring your own")."""
        with recording(store, run_id, "fit"):
            probs = self._read_probabilities(path, batch, inputs)
            metrics = self._metrics(inputs, [], probs)
            self._write_probs(store, run_id, inputs, probs, None, metrics, f"precomputed from {path}")
        return probs, metrics

    def score(
        self,
        store: AuditStore,
        run_id: str,
        batch: Batch,
        inputs: SequenceFitInputs,
        probs: np.ndarray,
        bundle: DatasetBundle,
        *,
        oof_log_loss: float | None,
    ) -> ScoredBatch:
        """Confident learning per tag or per token; store scores, details and rates."""
        with recording(store, run_id, "score") as started:
            row_ids = batch.row_ids.astype(str).to_numpy()
            with warnings.catch_warnings():
                # a class no fold could predict well is expected on small batches; the report shows its rate
                warnings.simplefilter("ignore", RuntimeWarning)
                scored, details, message = self._score_frames(inputs, probs, row_ids, bundle.definition, oof_log_loss)
            write_score_stage(store, run_id, started, scored, rows=len(scored.scores), message=message, details=details)
        return scored

    def score_message(self, run_metrics: pd.Series) -> str:
        m = run_metrics
        return f"{m['flagged']} of {m['rows']} {self.unit} have a flagged annotation ({100 * m['flagged_rate']:.2f}%)"

    def issue_labels(self, inputs: SequenceFitInputs) -> IssueLabels:
        keys = label_keys(inputs.labels, inputs.classes, sort=self.issue_keys_sorted)
        flat = np.fromiter((k for row in inputs.labels for k in row), dtype=np.int64)
        counts = pd.Series(np.bincount(flat, minlength=len(inputs.classes)), index=inputs.classes)
        return IssueLabels(keys, counts, self.issue_count_unit, dict(self.issue_skips))

    def _write_probs(
        self,
        store: AuditStore,
        run_id: str,
        inputs: SequenceFitInputs,
        probs: np.ndarray,
        fold_of: np.ndarray | None,
        metrics: pd.DataFrame,
        message: str,
    ) -> None:
        import pyarrow as pa

        n, k = probs.shape
        row_idx, token_idx, given = self._layout(inputs, n)
        prob_table = pa.table(
            {
                "row_idx": pa.array(row_idx),
                "fold": pa.array(fold_of, type=pa.int32()) if fold_of is not None else pa.nulls(n, pa.int32()),
                "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.astype(np.float32).ravel()), k),
                "token_idx": pa.array(token_idx, pa.int32()) if token_idx is not None else pa.nulls(n, pa.int32()),
            }
        )
        class_frame = pd.DataFrame(
            {"class_idx": np.arange(k, dtype=np.int32), "label": inputs.classes, "given_count": given.astype(np.int64)}
        )
        tables = {"classes": class_frame, "fold_metrics": metrics, "oof_probs": prob_table}
        store.write_stage(run_id, "fit", StageWrite(tables, inputs.started, rows=len(inputs.labels), message=message))
