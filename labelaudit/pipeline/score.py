"""Stage ``score``: which labels are probably wrong (tables ``scores``, ``noise_matrix``, ``class_metrics``,
``run_metrics``, ``label_issue_details``).

The confident-learning arithmetic itself lives in :mod:`labelaudit.cl.filter` / :mod:`labelaudit.cl.count`
(cleanlab-compatible, exact). This module turns its summary into the tables a person reads, and holds the one
of each thing every kind of scoring shares: the run metrics (:class:`RunMetrics`), the ranking of flagged rows
(:func:`flag_ranks`, :func:`issue_ranks`), the per-class rates (:func:`class_metrics_frame`), the noise matrix
(:func:`noise_matrix_frame`) and the stage's write (:func:`write_score_stage`). The multi-label and token kinds
(:mod:`labelaudit.kinds`) and streamed scoring (:mod:`labelaudit.pipeline.streamed`) use them too.

:func:`score_multiclass` is the multiclass score stage, with ``quality.json``'s ``flag_cutoff_from_reviews``
applied when set: see :class:`labelaudit.inputs.definition.ReviewCutoffOption` for the rule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from labelaudit.errors import FittingError, InputDataError
from labelaudit.inputs.definition import DatasetBundle, DatasetDefinition, ReviewCutoffOption
from labelaudit.pipeline.ingest import Batch
from labelaudit.pipeline.recording import recording
from labelaudit.review.verdicts import cutoff_for_target_precision
from labelaudit.store import AuditStore, StageWrite

__all__ = [
    "RunMetrics",
    "ScoredBatch",
    "class_metrics_frame",
    "flag_ranks",
    "issue_ranks",
    "model_used",
    "noise_matrix_frame",
    "restrict_flags",
    "score_batch",
    "score_multiclass",
    "second_opinion",
    "with_flags",
    "write_score_stage",
]


@dataclass(frozen=True)
class ScoredBatch:
    """The score stage's output, ready to store."""

    scores: pd.DataFrame
    noise_matrix: pd.DataFrame
    class_metrics: pd.DataFrame
    run_metrics: pd.DataFrame

    @property
    def metrics(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.run_metrics.iloc[0].items() if isinstance(v, int | float | np.number)}


@dataclass(frozen=True)
class RunMetrics:
    """The one row of ``run_metrics``, whatever the kind or the scoring path (fields in the table's order)."""

    rows: int
    classes: int
    flagged: int
    estimated_issues: float
    estimated_error_rate: float
    flagged_rate: float
    oof_accuracy: float
    oof_log_loss: float | None
    method: str
    tie_rule: str
    scoring_path: str = "in-memory"
    # issue 15 (multiclass in memory; None elsewhere): the model scored, the flag rule and the opinions' split
    model: str | None = None
    flag_rule: str | None = None
    neighbours: int | None = None
    flagged_by_both: int | None = None
    flagged_by_cl_only: int | None = None
    flagged_by_neighbours_only: int | None = None

    @classmethod
    def from_summary(
        cls, summary: Any, rows: int, classes: int, correct: int, *, log_loss: float | None, method: str, path: str
    ) -> RunMetrics:
        """The metrics of a streamed run from its confident-learning summary (the estimated error rate is the
        off-diagonal mass of the estimated joint), ``correct`` rows predicted as given, out of ``rows``."""
        error_rate = float(max(0.0, 1.0 - np.trace(np.asarray(summary.joint, dtype=np.float64))))
        return cls(
            rows=rows,
            classes=classes,
            flagged=summary.num_issues,
            estimated_issues=error_rate * rows,
            estimated_error_rate=error_rate,
            flagged_rate=summary.num_issues / rows,
            oof_accuracy=correct / rows,
            oof_log_loss=log_loss,
            method=method,
            tie_rule=summary.tie_rule,
            scoring_path=path,
        )

    def frame(self) -> pd.DataFrame:
        """The one-row frame stored in ``run_metrics``."""
        return pd.DataFrame({name: [value] for name, value in asdict(self).items()})


def flag_ranks(quality: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rank flagged rows: 1 for the lowest label quality, ties by row position (reproducible).

    Parameters
    ----------
    quality : np.ndarray (M,)
        Label-quality scores of the M flagged rows.
    rows : np.ndarray (M,)
        Their row positions (the tie-breaker).

    Returns
    -------
    ranks : np.ndarray (M,) of int32
        ``ranks[i]`` is the rank of the i-th flagged row given.
    """
    order = np.lexsort((rows, quality))
    ranks = np.empty(len(rows), dtype=np.int32)
    ranks[order] = np.arange(1, len(rows) + 1, dtype=np.int32)
    return ranks


def issue_ranks(quality: np.ndarray, mask: np.ndarray) -> pd.array:
    """``scores.issue_rank``: :func:`flag_ranks` for the rows in ``mask`` (N,), NA for the others."""
    flagged = np.flatnonzero(mask)
    out = pd.array(np.zeros(len(quality), dtype=np.int64), dtype="Int32")
    out[flagged] = flag_ranks(np.asarray(quality)[flagged], flagged)
    out[~np.asarray(mask, dtype=bool)] = pd.NA
    return out


def class_metrics_frame(
    given: np.ndarray, flagged: np.ndarray, correct: np.ndarray, joint: np.ndarray, names: np.ndarray
) -> pd.DataFrame:
    """Per given class: rows, flagged rows, and the estimated share that is really another class.

    Parameters
    ----------
    given, flagged, correct : np.ndarray (K,) of int
        Rows per given class, flagged rows, and rows whose most probable class is the given one.
    joint : np.ndarray (K, K)
        Confident learning's estimated joint of given (rows) and true (columns) labels.
    names : np.ndarray (K,)
        Class names.
    """
    row_mass = joint.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        error = np.where(row_mass > 0, 1.0 - np.diag(joint) / row_mass, 0.0)
        flagged_rate = np.where(given > 0, flagged / np.maximum(given, 1), 0.0)
        accuracy = np.where(given > 0, correct / np.maximum(given, 1), np.nan)
    return pd.DataFrame(
        {
            "label": names,
            "given_count": np.asarray(given, dtype=np.int64),
            "flagged": np.asarray(flagged, dtype=np.int64),
            "estimated_error_rate": np.clip(error, 0.0, 1.0),
            "flagged_rate": flagged_rate,
            "oof_accuracy": accuracy,
        }
    )


def noise_matrix_frame(summary: Any, names: np.ndarray) -> pd.DataFrame:
    """``noise_matrix`` rows, one per (given, true) pair, from a confident-learning summary (K classes)."""
    k = len(names)
    given_idx, true_idx = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    return pd.DataFrame(
        {
            "given_label": names[given_idx.ravel()],
            "true_label": names[true_idx.ravel()],
            "confident_count": np.asarray(summary.confident_joint, dtype=np.float64).ravel(),
            "joint": np.asarray(summary.joint, dtype=np.float64).ravel(),
            "noise": np.asarray(summary.noise_matrix, dtype=np.float64).ravel(),  # P(given | true)
        }
    )


def write_score_stage(
    store: AuditStore,
    run_id: str,
    started: datetime,
    scored: ScoredBatch,
    *,
    rows: int,
    message: str,
    details: pd.DataFrame | None = None,
    scores: Any = None,
) -> None:
    """Store the score stage's tables in one transaction: the one write every kind of scoring uses.

    ``scores`` replaces ``scored.scores`` (streamed scoring passes an Arrow reader); an empty noise matrix (the
    sequence kinds have none) is not written; ``details`` are ``label_issue_details`` rows.
    """
    tables: dict[str, Any] = {"scores": scored.scores if scores is None else scores}
    if len(scored.noise_matrix):
        tables["noise_matrix"] = scored.noise_matrix
    tables["class_metrics"] = scored.class_metrics
    tables["run_metrics"] = scored.run_metrics
    if details is not None:
        tables["label_issue_details"] = details
    store.write_stage(run_id, "score", StageWrite(tables, started, rows=rows, message=message))


# Over 60 lines: the signature and numpydoc (31 lines, every option documented) are most of it; the body is 43.
def score_batch(
    labels: np.ndarray,
    probs: np.ndarray,
    classes: list[str],
    row_ids: pd.Series,
    *,
    filter_by: str = "prune_by_noise_rate",
    oof_log_loss: float | None = None,
) -> ScoredBatch:
    """Score every row and summarise the batch (multiclass, in memory; nothing is stored).

    Parameters
    ----------
    labels : np.ndarray (N,)
        Given labels as class indices.
    probs : np.ndarray (N, K)
        Out-of-fold predicted probabilities, columns in ``classes`` order.
    classes : list of str
        Class names, index ``k`` naming column ``k``.
    row_ids : pd.Series (N,)
        The batch's row ids, stored beside each score so users can join back to their data.
    filter_by : str
        Confident-learning pruning method (cleanlab's ``filter_by``).
    oof_log_loss : float or None
        The folds' log loss, stored in ``run_metrics``.

    Returns
    -------
    ScoredBatch
        ``scores`` (N rows), ``noise_matrix`` (K*K rows), ``class_metrics`` (K rows), ``run_metrics`` (1 row).
    """
    from labelaudit.cl.filter import confident_learning_summary

    summary = confident_learning_summary(labels, probs, filter_by=filter_by)
    names = np.asarray(classes, dtype=object)
    n, k = probs.shape
    mask = np.asarray(summary.issue_mask, dtype=bool)
    quality = np.asarray(summary.label_quality, dtype=np.float64)
    suggested = np.asarray(summary.suggested_label, dtype=np.int64)
    scores = pd.DataFrame(
        {
            "row_idx": np.arange(n, dtype=np.int64),
            "row_id": row_ids.astype(str).to_numpy(),
            "given_label": names[labels],
            "suggested_label": names[suggested],
            "suggested_prob": probs[np.arange(n), suggested].astype(np.float64),
            "label_quality": quality,
            "is_issue": mask,
            "issue_rank": issue_ranks(quality, mask),
        }
    )
    joint = np.asarray(summary.joint, dtype=np.float64)
    predicted = probs.argmax(axis=1)
    class_frame = class_metrics_frame(
        np.bincount(labels, minlength=k),
        np.bincount(labels[mask], minlength=k),
        np.bincount(labels[predicted == labels], minlength=k),
        joint,
        names,
    )
    error_rate = float(max(0.0, 1.0 - np.trace(joint)))
    metrics = RunMetrics(
        rows=n,
        classes=k,
        flagged=int(mask.sum()),
        estimated_issues=error_rate * n,
        estimated_error_rate=error_rate,
        flagged_rate=float(mask.mean()),
        oof_accuracy=float((predicted == labels).mean()),
        oof_log_loss=oof_log_loss,
        method=filter_by,
        tie_rule=summary.tie_rule,
    )
    return ScoredBatch(scores, noise_matrix_frame(summary, names), class_frame, metrics.frame())


def restrict_flags(scored: ScoredBatch, labels: np.ndarray, cutoff: float) -> ScoredBatch:
    """Keep only the flags whose label-quality score is at or below ``cutoff``; re-rank and re-count them."""
    quality = scored.scores["label_quality"].to_numpy()
    mask = scored.scores["is_issue"].to_numpy(dtype=bool) & (quality <= cutoff)
    return with_flags(scored, labels, mask, quality)


def with_flags(scored: ScoredBatch, labels: np.ndarray, mask: np.ndarray, ranking: np.ndarray) -> ScoredBatch:
    """``scored`` with the flags ``mask`` (N,) ranked by ``ranking`` (N,, low = suspect), re-counted per class
    and in the run metrics."""
    scores = scored.scores.copy()
    scores["is_issue"], scores["issue_rank"] = mask, issue_ranks(ranking, mask)
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


def second_opinion(
    scored: ScoredBatch, batch: Batch, labels: np.ndarray, definition: DatasetDefinition, model: str
) -> ScoredBatch:
    """The neighbours' opinion stored beside confident learning's, and the ``flag_rule`` applied.

    ``scores`` gains ``cl_issue`` (CL's flag), ``knn_agreement`` and ``knn_disagrees``; ``run_metrics`` the
    model, the rule and how the opinions split. With the default rule (``confident_learning``) flags and ranks
    are CL's, unchanged.
    """
    from labelaudit.models.neighbour_score import agreement_counts, combine_flags, neighbour_opinion

    k = len(scored.class_metrics)
    scored.run_metrics["model"] = model
    try:
        opinion = neighbour_opinion(batch.frame, labels, k, definition)
    except (FittingError, InputDataError):
        if definition.flag_rule != "confident_learning":
            raise  # the flags depend on it: say why it cannot be computed
        return scored  # only a second opinion: CL's flags stand, the columns stay NULL
    if opinion is None:
        return scored
    cl_flags = scored.scores["is_issue"].to_numpy(dtype=bool)
    quality = scored.scores["label_quality"].to_numpy(dtype=np.float64)
    rule = definition.flag_rule
    combined = combine_flags(cl_flags, quality, opinion.disagrees, opinion.agreement, rule=rule)
    if rule != "confident_learning":
        scored = with_flags(scored, labels, combined.flags, combined.scores)
    scored.scores["cl_issue"] = cl_flags
    scored.scores["knn_agreement"] = opinion.agreement
    scored.scores["knn_disagrees"] = opinion.disagrees
    split = agreement_counts(cl_flags, opinion.disagrees)
    metrics = scored.run_metrics
    metrics["flag_rule"], metrics["neighbours"] = rule, opinion.k
    metrics["flagged_by_both"] = split["both"]
    metrics["flagged_by_cl_only"] = split["confident_learning_only"]
    metrics["flagged_by_neighbours_only"] = split["neighbours_only"]
    return scored


def model_used(store: AuditStore, run_id: str, definition: DatasetDefinition) -> str:
    """The classifier whose probabilities a run scored: auto's choice, the fixed one, or ``precomputed``."""
    from labelaudit.store.queries import model_candidates

    chosen = [c["name"] for c in model_candidates(store, run_id) if c["chosen"]]
    if chosen:
        return chosen[0]
    fit = store.query("SELECT message FROM run_stages WHERE run_id = ? AND stage = 'fit'", [run_id])
    if len(fit) and str(fit["message"].iloc[0]).startswith("precomputed"):
        return "precomputed"
    return definition.model.classifier


def _review_cutoff(
    scored: ScoredBatch, labels: np.ndarray, option: ReviewCutoffOption, verdicts: pd.DataFrame | None
) -> tuple[ScoredBatch, str]:
    """CL's flags restricted to the cut-off learned from earlier reviews, and the note saying what was done."""
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
        return scored, f"review cut-off not applied ({cut.reason}): confident learning's flags unchanged"
    note = (
        f"confident learning flagged {cl_flags}; kept those with label quality <= {cut.cutoff:.4f}, the "
        f"cut-off where {cut.n_flagged} reviewed flags reached {cut.precision:.0%} precision "
        f"(target {option.target_precision:.0%}, {cut.n_decided} decided verdicts)"
    )
    return restrict_flags(scored, labels, cut.cutoff), note


def score_multiclass(
    store: AuditStore,
    run_id: str,
    batch: Batch,
    labels: np.ndarray,
    probs: np.ndarray,
    classes: list[str],
    bundle: DatasetBundle,
    *,
    oof_log_loss: float | None = None,
    verdicts: pd.DataFrame | None = None,
) -> ScoredBatch:
    """Confident learning on the out-of-fold probabilities (N, K); store scores, noise matrix and rates.

    With ``flag_cutoff_from_reviews`` in quality.json, CL's flags are restricted to the learned cut-off;
    ``verdicts`` are the dataset's stored verdicts from earlier runs (``score`` is the row's label-quality
    score when it was reviewed).
    """
    option = bundle.quality.flag_cutoff_from_reviews
    with recording(store, run_id, "score") as started:
        scored = score_batch(
            labels, probs, classes, batch.row_ids, filter_by=bundle.definition.filter_by, oof_log_loss=oof_log_loss
        )
        model = model_used(store, run_id, bundle.definition)
        scored = second_opinion(scored, batch, labels, bundle.definition, model)
        note = None
        if option is not None:
            scored, note = _review_cutoff(scored, labels, option, verdicts)
        message = f"{int(scored.scores['is_issue'].sum())} rows flagged" + (f"; {note}" if note else "")
        write_score_stage(store, run_id, started, scored, rows=len(labels), message=message)
    return scored
