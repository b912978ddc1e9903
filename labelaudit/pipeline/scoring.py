"""From out-of-fold probabilities to the stored audit: per-row scores, per-class rates, the noise matrix.

The confident-learning arithmetic itself lives in :mod:`labelaudit.cl.filter` / :mod:`labelaudit.cl.count`
(cleanlab-compatible, exact). This module turns its summary into the tables a person reads: which rows are
probably mislabelled and what their label probably should be, and how wrong each class is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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


def score_batch(
    labels: np.ndarray,
    probs: np.ndarray,
    classes: list[str],
    row_ids: pd.Series,
    *,
    filter_by: str = "prune_by_noise_rate",
    oof_log_loss: float | None = None,
) -> ScoredBatch:
    """Score every row and summarise the batch.

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
    """
    from labelaudit.cl.filter import confident_learning_summary

    summary = confident_learning_summary(labels, probs, filter_by=filter_by)
    names = np.asarray(classes, dtype=object)
    n, k = probs.shape
    mask = np.asarray(summary.issue_mask, dtype=bool)
    quality = np.asarray(summary.label_quality, dtype=np.float64)
    suggested = np.asarray(summary.suggested_label, dtype=np.int64)
    rank = np.full(n, -1, dtype=np.int64)
    flagged = np.flatnonzero(mask)
    # Most suspicious first; ties keep row order, so the ranking is reproducible.
    rank[flagged[np.argsort(quality[flagged], kind="stable")]] = np.arange(1, flagged.size + 1)
    scores = pd.DataFrame(
        {
            "row_idx": np.arange(n, dtype=np.int64),
            "row_id": row_ids.astype(str).to_numpy(),
            "given_label": names[labels],
            "suggested_label": names[suggested],
            "suggested_prob": probs[np.arange(n), suggested].astype(np.float64),
            "label_quality": quality,
            "is_issue": mask,
            "issue_rank": pd.array(np.where(rank > 0, rank, 0), dtype="Int32"),
        }
    )
    scores.loc[~mask, "issue_rank"] = pd.NA
    joint = np.asarray(summary.joint, dtype=np.float64)
    noise = np.asarray(summary.noise_matrix, dtype=np.float64)  # P(given | true), [given, true]
    confident = np.asarray(summary.confident_joint, dtype=np.float64)
    given_idx, true_idx = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    noise_frame = pd.DataFrame(
        {
            "given_label": names[given_idx.ravel()],
            "true_label": names[true_idx.ravel()],
            "confident_count": confident.ravel(),
            "joint": joint.ravel(),
            "noise": noise.ravel(),
        }
    )
    class_frame = _class_metrics(labels, probs, mask, joint, names)
    error_rate = float(max(0.0, 1.0 - np.trace(joint)))
    run_metrics = pd.DataFrame(
        {
            "rows": [n],
            "classes": [k],
            "flagged": [int(mask.sum())],
            "estimated_issues": [error_rate * n],
            "estimated_error_rate": [error_rate],
            "flagged_rate": [float(mask.mean())],
            "oof_accuracy": [float((probs.argmax(axis=1) == labels).mean())],
            "oof_log_loss": [oof_log_loss],
            "method": [filter_by],
            "tie_rule": [summary.tie_rule],
            "scoring_path": ["in-memory"],
        }
    )
    return ScoredBatch(scores, noise_frame, class_frame, run_metrics)


def _class_metrics(
    labels: np.ndarray, probs: np.ndarray, mask: np.ndarray, joint: np.ndarray, names: np.ndarray
) -> pd.DataFrame:
    """Per given class: how many rows, how many flagged, and the estimated share that is really another class."""
    k = probs.shape[1]
    given = np.bincount(labels, minlength=k)
    flagged = np.bincount(labels[mask], minlength=k)
    correct = np.bincount(labels[probs.argmax(axis=1) == labels], minlength=k)
    row_mass = joint.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        error = np.where(row_mass > 0, 1.0 - np.diag(joint) / row_mass, 0.0)
        flagged_rate = np.where(given > 0, flagged / np.maximum(given, 1), 0.0)
        accuracy = np.where(given > 0, correct / np.maximum(given, 1), np.nan)
    return pd.DataFrame(
        {
            "label": names,
            "given_count": given.astype(np.int64),
            "flagged": flagged.astype(np.int64),
            "estimated_error_rate": np.clip(error, 0.0, 1.0),
            "flagged_rate": flagged_rate,
            "oof_accuracy": accuracy,
        }
    )
