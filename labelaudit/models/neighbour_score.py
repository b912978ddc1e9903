"""A second opinion that does not trust one model: do a row's nearest neighbours carry its label?

Confident learning judges a label by one model's out-of-fold probabilities; when that model is wrong in a
region, it flags the region. The k-nearest-neighbour vote asks the data instead: a row whose neighbours (in the
model's feature space, or an embedding) mostly carry another label is suspect, whatever any classifier says.

Method: the unweighted local vote of SimiFeat (Zhu, Dong & Liu, "Detecting Corrupted Labels Without Training a
Model to Predict", ICML 2022, the "Vote" variant), which is also the kNN baseline of the AQuA benchmark
(Goswami et al., NeurIPS 2023 Datasets and Benchmarks). The score of a row is the share of its k nearest
neighbours (itself excluded) whose label equals its own; the row is a kNN suspect when another class gets more
votes than its own. Unweighted, not distance-weighted, because distances in a feature space mix scales and
collapse on duplicates (a zero distance would outvote everything); SimiFeat found the plain vote as good.

Every function takes the neighbour index array (N, k), however it was found (exact search, an approximate
index, precomputed by the user), so the score is exactly testable and independent of the search.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelaudit.inputs.definition import DatasetDefinition, FlagRule

__all__ = [
    "CombinedFlags",
    "NeighbourOpinion",
    "agreement_counts",
    "combine_flags",
    "knn_class_shares",
    "knn_disagrees",
    "knn_label_agreement",
    "neighbour_opinion",
]


def _check(labels: np.ndarray, neighbours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    neighbours = np.asarray(neighbours)
    if neighbours.ndim != 2 or neighbours.shape[0] != labels.shape[0] or neighbours.shape[1] < 1:
        raise ValueError(f"neighbours must have shape (N, k) with N = {labels.shape[0]} rows, got {neighbours.shape}")
    if neighbours.min() < 0 or neighbours.max() >= labels.shape[0]:
        raise ValueError("neighbours holds row positions outside [0, N)")
    if (neighbours == np.arange(labels.shape[0])[:, None]).any():
        raise ValueError("neighbours must exclude each row itself (a row always agrees with its own label)")
    return labels, neighbours


def knn_class_shares(labels: np.ndarray, neighbours: np.ndarray, n_classes: int) -> np.ndarray:
    """Share of each row's neighbours in each class.

    Parameters
    ----------
    labels : np.ndarray (N,)
        Given labels as class indices in ``[0, n_classes)``.
    neighbours : np.ndarray (N, k)
        Row positions of each row's k nearest neighbours, itself excluded.
    n_classes : int
        K.

    Returns
    -------
    shares : np.ndarray (N, K)
        ``shares[i, c] = #{j in neighbours[i] : labels[j] == c} / k``; rows sum to 1. Equal to the loop
        ``for i: for j in neighbours[i]: shares[i, labels[j]] += 1 / k``.
    """
    labels, neighbours = _check(labels, neighbours)
    n, k = neighbours.shape
    votes = labels[neighbours]  # (N, k) the neighbours' labels
    shares = np.zeros((n, n_classes))
    np.add.at(shares, (np.repeat(np.arange(n), k), votes.ravel()), 1.0 / k)
    return shares


def knn_label_agreement(labels: np.ndarray, neighbours: np.ndarray, n_classes: int) -> np.ndarray:
    """The neighbour score: share of each row's k neighbours that carry its label (N,), in [0, 1].

    Low means suspect, like confident learning's label-quality score, so the two can be averaged.
    """
    shares = knn_class_shares(labels, neighbours, n_classes)
    return shares[np.arange(len(shares)), np.asarray(labels)]


def knn_disagrees(labels: np.ndarray, neighbours: np.ndarray, n_classes: int) -> np.ndarray:
    """The kNN flag (N,) bool: some other class has strictly more neighbour votes than the given label.

    A tie with another class is not a flag: the neighbours do not contradict the label.
    """
    shares = knn_class_shares(labels, neighbours, n_classes)
    rows = np.arange(len(shares))
    own = shares[rows, np.asarray(labels)].copy()
    shares[rows, np.asarray(labels)] = -1.0
    return shares.max(axis=1) > own


@dataclass(frozen=True)
class CombinedFlags:
    """The flags of a ``flag_rule`` (N,) bool, and the score to rank rows by (N,), low = suspect."""

    flags: np.ndarray
    scores: np.ndarray


def _confident_learning(cl_flags, cl_scores, knn_flags, knn_scores) -> CombinedFlags:
    return CombinedFlags(cl_flags.copy(), cl_scores.copy())


def _both(cl_flags, cl_scores, knn_flags, knn_scores) -> CombinedFlags:
    return CombinedFlags(cl_flags & knn_flags, cl_scores.copy())


def _either(cl_flags, cl_scores, knn_flags, knn_scores) -> CombinedFlags:
    return CombinedFlags(cl_flags | knn_flags, cl_scores.copy())


def _rank(cl_flags, cl_scores, knn_flags, knn_scores) -> CombinedFlags:
    # as many flags as confident learning estimated, chosen by the mean score (stable: ties keep row order)
    scores = (cl_scores + knn_scores) / 2
    flags = np.zeros(len(scores), dtype=bool)
    flags[np.argsort(scores, kind="stable")[: int(cl_flags.sum())]] = True
    return CombinedFlags(flags, scores)


_RULES: dict[str, Callable[..., CombinedFlags]] = {
    "confident_learning": _confident_learning,
    "both": _both,
    "either": _either,
    "rank": _rank,
}


def combine_flags(
    cl_flags: np.ndarray,
    cl_scores: np.ndarray,
    knn_flags: np.ndarray,
    knn_scores: np.ndarray,
    *,
    rule: FlagRule = "confident_learning",
) -> CombinedFlags:
    """Combine confident learning's verdict with the neighbours' (the definition's ``flag_rule``).

    Parameters
    ----------
    cl_flags : np.ndarray (N,) bool
        Confident learning's label issues.
    cl_scores : np.ndarray (N,)
        Its label-quality scores in [0, 1], low = suspect (e.g. self-confidence).
    knn_flags : np.ndarray (N,) bool
        :func:`knn_disagrees`.
    knn_scores : np.ndarray (N,)
        :func:`knn_label_agreement`, in [0, 1].
    rule : {"confident_learning", "both", "either", "rank"}, default="confident_learning"
        ``confident_learning``: CL's flags, CL's scores. ``both``: flagged by CL and the neighbours (fewer,
        surer flags). ``either``: flagged by one or the other (more recall). ``rank``: as many flags as CL
        raised, taken from the lowest mean of the two scores, and that mean as the ranking score.

    Returns
    -------
    CombinedFlags
        ``flags`` (N,) bool and ``scores`` (N,) float.
    """
    arrays = [np.asarray(a) for a in (cl_flags, cl_scores, knn_flags, knn_scores)]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        raise ValueError(
            f"cl_flags, cl_scores, knn_flags and knn_scores must be (N,) alike, got {[a.shape for a in arrays]}"
        )
    if rule not in _RULES:
        raise ValueError(f"flag_rule must be one of {sorted(_RULES)}, got {rule!r}")
    cl_flags, cl_scores, knn_flags, knn_scores = arrays
    return _RULES[rule](
        cl_flags.astype(bool), cl_scores.astype(float), knn_flags.astype(bool), knn_scores.astype(float)
    )


def agreement_counts(cl_flags: np.ndarray, knn_flags: np.ndarray) -> dict[str, int]:
    """How the two opinions split the rows, for the report: where they agree and where they do not."""
    cl_flags = np.asarray(cl_flags, dtype=bool)
    knn_flags = np.asarray(knn_flags, dtype=bool)
    return {
        "both": int((cl_flags & knn_flags).sum()),
        "confident_learning_only": int((cl_flags & ~knn_flags).sum()),
        "neighbours_only": int((~cl_flags & knn_flags).sum()),
        "neither": int((~cl_flags & ~knn_flags).sum()),
    }


@dataclass(frozen=True)
class NeighbourOpinion:
    """The neighbour score of a batch: agreement (N,) in [0, 1], the kNN flag (N,) bool, and the k used."""

    agreement: np.ndarray
    disagrees: np.ndarray
    k: int


def neighbour_opinion(
    frame: pd.DataFrame, labels: np.ndarray, n_classes: int, definition: DatasetDefinition
) -> NeighbourOpinion | None:
    """The second opinion of a batch in the model's feature space (scaled, one-hot, TF-IDF, embeddings,
    reduced to 32 dimensions when wider: :func:`labelaudit.features.space.feature_space`), with the
    definition's ``neighbours`` (fewer when the batch is smaller). None for a batch without feature columns
    or of fewer than two rows: no neighbours to ask.
    """
    from labelaudit.features.neighbours import nearest_neighbours
    from labelaudit.features.space import feature_space

    if not definition.features or len(labels) < 2:
        return None
    space = feature_space(frame, definition)
    k = min(definition.neighbours, len(labels) - 1)
    _, found = nearest_neighbours(space.matrix, k, seed=definition.seed)
    return NeighbourOpinion(knn_label_agreement(labels, found, n_classes), knn_disagrees(labels, found, n_classes), k)
