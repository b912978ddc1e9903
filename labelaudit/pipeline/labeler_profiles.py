"""Labeler profiles: who labels what, how well, which classes they mix up, and whom to route each class to.

Input is long-format annotations (one row per item, annotator and label, optionally a timestamp) plus the
audit's out-of-fold probabilities. The consensus comes from CROWDLAB (:mod:`labelaudit.cl.multiannotator`), which
weighs each annotator by how reliable they are instead of counting votes; the plain majority vote and the
share of annotators agreeing with it are reported beside it, because reviewers trust what they can recount.

Every result is a tidy DataFrame (one row per item, annotator, annotator x class, confusion or routing
choice) with the original item ids, annotator ids and class names, ready to be stored per run.

Estimated error rate
    The share of an annotator's labels that differ from the consensus, counted only on items someone else
    labelled too ("shared" items). On items only they labelled the consensus mostly echoes their own label,
    so counting those would flatter everyone who works alone. NaN for an annotator with no shared item.

Routing rule (:func:`route_classes`)
    For annotator a and class k, from the items a labelled: TP = consensus k and a said k, FN = consensus k
    and a said something else, FP = a said k and consensus is another class. The class score is the F1 of a on
    k, shrunk toward a's overall agreement with consensus with the weight of ``prior_strength`` labels::

        score = (2 TP + prior_strength * overall_agreement) / (2 TP + FP + FN + prior_strength)

    F1 penalises both missing class k and calling other classes k, so an annotator who files class b under
    class a ranks low for both. Shrinkage keeps an annotator with three lucky labels from outranking one with
    three hundred good ones. Only annotators with at least ``min_volume`` consensus-k items are ranked; the
    others are listed with ``eligible=False`` and no rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelaudit.cl.multiannotator import get_label_quality_multiannotator, get_majority_vote_label
from labelaudit.errors import InputDataError
from labelaudit.models.crossval import encode_labels

__all__ = ["AnnotationMatrix", "LabelerProfiles", "annotation_matrix", "profile_labelers", "route_classes"]


@dataclass(frozen=True)
class AnnotationMatrix:
    """Annotations in CROWDLAB's wide layout, with the ids needed to map results back.

    ``codes`` is (N, M) float: class index into ``classes``, NaN where an annotator did not label an item.
    ``positions`` (N,) gives each item's row in the probabilities the caller passed (items in ``item_ids``
    without any annotation are left out).
    """

    codes: pd.DataFrame
    classes: tuple[str, ...]
    positions: np.ndarray


@dataclass(frozen=True)
class LabelerProfiles:
    """Tidy tables describing the items' consensus and each annotator; see :func:`profile_labelers`."""

    items: pd.DataFrame
    annotators: pd.DataFrame
    annotator_classes: pd.DataFrame
    confusions: pd.DataFrame
    routing: pd.DataFrame


# Over 60 lines: the signature and numpydoc (34 lines, every option documented) are most of it; the body is 31.
def annotation_matrix(
    annotations: pd.DataFrame,
    *,
    item_ids: Sequence[object],
    classes: Sequence[str],
    id_column: str = "id",
    annotator_column: str = "annotator",
    label_column: str = "label",
    timestamp_column: str | None = None,
) -> AnnotationMatrix:
    """Validate long-format annotations and pivot them to one row per item, one column per annotator.

    Parameters
    ----------
    annotations : pd.DataFrame (A, 3+)
        One row per annotation.
    item_ids : sequence (N_all,)
        Item ids in the row order of the probabilities; every annotated item must be among them.
    classes : sequence of str (K,)
        Class names in the column order of the probabilities.
    timestamp_column : str, optional
        With it, an annotator who labelled an item twice counts with their latest label; without it, a
        repeated (item, annotator) pair is an error.

    Returns
    -------
    AnnotationMatrix

    Raises
    ------
    InputDataError
        Missing columns, labels outside ``classes``, unknown item ids or repeated (item, annotator) pairs,
        naming the rows (1 = first data row).
    """
    needed = [id_column, annotator_column, label_column] + ([timestamp_column] if timestamp_column else [])
    missing = [c for c in needed if c not in annotations.columns]
    if missing:
        raise InputDataError(f"annotations lack columns {missing}")
    if annotations.empty:
        raise InputDataError("no annotations")
    frame = annotations.reset_index(drop=True)
    if frame[annotator_column].isna().any():
        bad = np.flatnonzero(frame[annotator_column].isna())
        raise InputDataError("annotator is empty", column=annotator_column, rows=(bad + 1).tolist())
    codes = encode_labels(frame[label_column], list(classes))
    index = pd.Index(item_ids)
    if not index.is_unique:
        raise InputDataError("item_ids repeat; each item must appear once")
    positions = index.get_indexer(frame[id_column])
    if (positions < 0).any():
        bad = np.flatnonzero(positions < 0)
        raise InputDataError("item ids not in the batch", column=id_column, rows=(bad + 1).tolist())
    frame = frame.assign(_code=codes, _pos=positions)
    pair = [id_column, annotator_column]
    if timestamp_column:
        frame = frame.sort_values(timestamp_column, kind="stable").drop_duplicates(pair, keep="last")
    elif frame.duplicated(pair).any():
        bad = np.flatnonzero(frame.duplicated(pair, keep=False))
        raise InputDataError("an annotator labelled the same item twice", rows=(bad + 1).tolist())
    wide = frame.pivot(index="_pos", columns=annotator_column, values="_code").sort_index()
    wide = wide.astype(float)
    item_positions = wide.index.to_numpy()
    wide.index = index[item_positions]
    wide.index.name, wide.columns.name = id_column, None
    return AnnotationMatrix(wide, tuple(classes), item_positions)


def _consensus(matrix: AnnotationMatrix, pred_probs: np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
    """Items table and CROWDLAB annotator quality (indexed by annotator id).

    CROWDLAB needs two annotators and an item labelled twice; without them (one annotator, or every item
    labelled once) the consensus is the majority vote (the single label unless the model breaks a tie), its
    quality the model's probability of it, and an annotator's quality the mean model probability of their labels.
    """
    codes = matrix.codes.to_numpy()
    given = ~np.isnan(codes)
    num_annotations = given.sum(axis=1)
    majority = get_majority_vote_label(matrix.codes, pred_probs, verbose=False)
    majority_agreement = (codes == majority[:, None]).sum(axis=1) / num_annotations
    if codes.shape[1] > 1 and (num_annotations > 1).any():
        info = get_label_quality_multiannotator(matrix.codes, pred_probs, verbose=False)
        table = info["label_quality"]
        consensus = table["consensus_label"].to_numpy()
        quality, agreement = table["consensus_quality_score"].to_numpy(), table["annotator_agreement"].to_numpy()
        annotator_quality = info["annotator_stats"]["annotator_quality"]
    else:
        consensus, agreement = majority, majority_agreement
        quality = pred_probs[np.arange(len(consensus)), consensus]
        rows, cols = np.nonzero(given)
        label_prob = pd.Series(pred_probs[rows, codes[rows, cols].astype(np.int64)])
        annotator_quality = label_prob.groupby(cols).mean().set_axis(matrix.codes.columns)
    names = np.asarray(matrix.classes, dtype=object)
    items = pd.DataFrame(
        {
            "item_id": matrix.codes.index,
            "num_annotations": num_annotations,
            "majority_label": names[majority],
            "majority_agreement": majority_agreement,
            "consensus_label": names[consensus],
            "consensus_quality_score": quality,
            "consensus_agreement": agreement,
            "consensus_is_majority": consensus == majority,
        }
    )
    return items, annotator_quality


def _long(matrix: AnnotationMatrix, consensus: np.ndarray) -> pd.DataFrame:
    """One row per annotation: annotator position, given and consensus class index, whether shared."""
    codes = matrix.codes.to_numpy()
    rows, cols = np.nonzero(~np.isnan(codes))
    return pd.DataFrame(
        {
            "annotator": cols,
            "given": codes[rows, cols].astype(np.int64),
            "consensus": consensus[rows],
            "shared": (~np.isnan(codes)).sum(axis=1)[rows] > 1,
        }
    )


def _confusion_tensor(long: pd.DataFrame, n_annotators: int, n_classes: int) -> np.ndarray:
    """(M, K, K) count of labels by annotator, given class and consensus class."""
    flat = (long["annotator"] * n_classes + long["given"]) * n_classes + long["consensus"]
    size = n_annotators * n_classes * n_classes
    return np.bincount(flat, minlength=size).reshape(n_annotators, n_classes, n_classes)


def _annotators_table(
    long: pd.DataFrame, matrix: AnnotationMatrix, annotator_quality: pd.Series, tensor: np.ndarray
) -> pd.DataFrame:
    long = long.assign(agree=long["given"] == long["consensus"])
    grouped = long.groupby("annotator")
    shared_agreement = long[long["shared"]].groupby("annotator")["agree"].mean()
    # rate at which each consensus class is labelled correctly; the worst one is what to coach on
    recall = np.diagonal(tensor, axis1=1, axis2=2) / np.maximum(tensor.sum(axis=1), 1)
    recall = np.where(tensor.sum(axis=1) > 0, recall, np.inf)
    ids = matrix.codes.columns
    table = pd.DataFrame(
        {
            "annotator": ids,
            "volume": grouped.size().reindex(range(len(ids)), fill_value=0).to_numpy(),
            "volume_shared": grouped["shared"].sum().to_numpy(),
            "agreement": grouped["agree"].mean().to_numpy(),
            "estimated_error_rate": 1 - shared_agreement.reindex(range(len(ids))).to_numpy(),
            "crowdlab_quality": annotator_quality.reindex(ids).to_numpy(),
            "worst_class": np.asarray(matrix.classes, dtype=object)[recall.argmin(axis=1)],
        }
    )
    return table.sort_values(["crowdlab_quality", "annotator"], ascending=[False, True], ignore_index=True)


def _annotator_classes_table(long: pd.DataFrame, matrix: AnnotationMatrix, tensor: np.ndarray) -> pd.DataFrame:
    tp = np.diagonal(tensor, axis1=1, axis2=2)
    consensus_volume = tensor.sum(axis=1)  # (M, K) items of consensus class k that a labelled
    given_volume = tensor.sum(axis=2)  # (M, K) times a said k
    shared = _confusion_tensor(long[long["shared"]], *tensor.shape[:2])
    shared_volume = shared.sum(axis=1)
    shared_errors = shared_volume - np.diagonal(shared, axis1=1, axis2=2)

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)

    grid = pd.MultiIndex.from_product([matrix.codes.columns, matrix.classes], names=["annotator", "class"])
    return pd.DataFrame(
        {
            "volume": consensus_volume.ravel(),
            "given_volume": given_volume.ravel(),
            "true_positives": tp.ravel(),
            "agreement": ratio(tp, consensus_volume).ravel(),
            "precision": ratio(tp, given_volume).ravel(),
            "f1": ratio(2 * tp, consensus_volume + given_volume).ravel(),
            "estimated_error_rate": ratio(shared_errors, shared_volume).ravel(),
        },
        index=grid,
    ).reset_index()


def _confusions_table(matrix: AnnotationMatrix, tensor: np.ndarray) -> pd.DataFrame:
    """Off-diagonal cells: how often annotator a gave class g to an item whose consensus is c."""
    a, g, c = np.nonzero(tensor * (1 - np.eye(tensor.shape[1], dtype=tensor.dtype)))
    names = np.asarray(matrix.classes, dtype=object)
    count = tensor[a, g, c]
    table = pd.DataFrame(
        {
            "annotator": matrix.codes.columns[a],
            "given": names[g],
            "consensus": names[c],
            "count": count,
            "rate": count / tensor.sum(axis=1)[a, c],
        }
    )
    table = table.sort_values(["annotator", "count", "rate"], ascending=[True, False, False], ignore_index=True)
    table["rank"] = table.groupby("annotator").cumcount() + 1
    return table


def route_classes(
    annotator_classes: pd.DataFrame,
    annotators: pd.DataFrame,
    *,
    min_volume: int = 5,
    prior_strength: float = 10.0,
) -> pd.DataFrame:
    """Rank annotators per class by shrunk F1 against consensus (rule in the module docstring).

    Parameters
    ----------
    annotator_classes : pd.DataFrame
        As in :attr:`LabelerProfiles.annotator_classes`.
    annotators : pd.DataFrame
        As in :attr:`LabelerProfiles.annotators` (its ``agreement`` is the shrinkage target).
    min_volume : int, default=5
        Consensus-k items an annotator must have labelled to be ranked for class k.
    prior_strength : float, default=10.0
        Weight, in labels, of the annotator's overall agreement in the shrunk score.

    Returns
    -------
    routing : pd.DataFrame
        ``class``, ``rank`` (1 = route here first; NA when not eligible), ``annotator``, ``score``,
        ``f1``, ``volume``, ``eligible``.
    """
    if min_volume < 0 or prior_strength < 0:
        raise ValueError("min_volume and prior_strength must be non-negative")
    prior = annotator_classes["annotator"].map(annotators.set_index("annotator")["agreement"])
    tp2 = 2 * annotator_classes["true_positives"]
    errors = annotator_classes["volume"] + annotator_classes["given_volume"] - tp2
    denominator = tp2 + errors + prior_strength
    score = (tp2 + prior_strength * prior) / denominator.where(denominator > 0)
    routing = annotator_classes[["class", "annotator", "f1", "volume"]].assign(
        score=score, eligible=annotator_classes["volume"] >= max(min_volume, 1)
    )
    routing = routing.sort_values(
        ["class", "eligible", "score", "volume", "annotator"],
        ascending=[True, False, False, False, True],
        ignore_index=True,
    )
    rank = routing[routing["eligible"]].groupby("class").cumcount() + 1
    routing["rank"] = rank.reindex(routing.index).astype("Int64")
    return routing[["class", "rank", "annotator", "score", "f1", "volume", "eligible"]]


# Over 60 lines: the signature and numpydoc (43 lines, every option documented) are most of it; the body is 20.
def profile_labelers(
    annotations: pd.DataFrame,
    pred_probs: np.ndarray,
    *,
    item_ids: Sequence[object],
    classes: Sequence[str],
    id_column: str = "id",
    annotator_column: str = "annotator",
    label_column: str = "label",
    timestamp_column: str | None = None,
    min_volume: int = 5,
    prior_strength: float = 10.0,
) -> LabelerProfiles:
    """Consensus per item and a profile per annotator and class, from long-format annotations.

    Parameters
    ----------
    annotations : pd.DataFrame (A, 3+)
        One row per annotation; see :func:`annotation_matrix` for the columns and their validation.
    pred_probs : np.ndarray (N_all, K)
        Out-of-fold probabilities, rows in ``item_ids`` order, columns in ``classes`` order.
    item_ids, classes, id_column, annotator_column, label_column, timestamp_column
        As in :func:`annotation_matrix`.
    min_volume, prior_strength
        As in :func:`route_classes`.

    Returns
    -------
    LabelerProfiles
        ``items`` (one row per annotated item): ``item_id``, ``num_annotations``, ``majority_label``,
        ``majority_agreement``, ``consensus_label`` (CROWDLAB), ``consensus_quality_score``,
        ``consensus_agreement``, ``consensus_is_majority``.
        ``annotators``: ``annotator``, ``volume``, ``volume_shared`` (labels on items others labelled too),
        ``agreement`` (with consensus), ``estimated_error_rate`` (on shared items), ``crowdlab_quality``
        (CROWDLAB's annotator quality, the ranking), ``worst_class``
        (consensus class they label correctly least often); best first.
        ``annotator_classes`` (annotator x class, by consensus class): ``volume``, ``given_volume``,
        ``true_positives``, ``agreement`` (recall), ``precision``, ``f1``, ``estimated_error_rate`` (on shared
        items of that consensus class).
        ``confusions``: ``annotator``, ``given``, ``consensus``, ``count``, ``rate`` (share of that consensus
        class they labelled as ``given``), ``rank`` within the annotator (1 = most frequent mix-up).
        ``routing``: see :func:`route_classes`.
    """
    pred_probs = np.asarray(pred_probs, dtype=float)
    if pred_probs.ndim != 2 or pred_probs.shape != (len(item_ids), len(classes)):
        raise ValueError(f"pred_probs must have shape ({len(item_ids)}, {len(classes)}), got {pred_probs.shape}")
    matrix = annotation_matrix(
        annotations,
        item_ids=item_ids,
        classes=classes,
        id_column=id_column,
        annotator_column=annotator_column,
        label_column=label_column,
        timestamp_column=timestamp_column,
    )
    items, annotator_quality = _consensus(matrix, pred_probs[matrix.positions])
    consensus = pd.Index(matrix.classes).get_indexer(items["consensus_label"])
    long = _long(matrix, consensus)
    tensor = _confusion_tensor(long, matrix.codes.shape[1], len(matrix.classes))
    annotators = _annotators_table(long, matrix, annotator_quality, tensor)
    annotator_classes = _annotator_classes_table(long, matrix, tensor)
    routing = route_classes(annotator_classes, annotators, min_volume=min_volume, prior_strength=prior_strength)
    return LabelerProfiles(items, annotators, annotator_classes, _confusions_table(matrix, tensor), routing)
