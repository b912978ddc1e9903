"""Consensus labels and annotator quality for data labelled by several people (CROWDLAB).

A vendor's items are often labelled by two or three annotators, and the audit has out-of-fold predicted
probabilities for every item. CROWDLAB (Goh, Tkachenko, Mueller 2022, https://arxiv.org/abs/2210.06812) mixes
both: each item's posterior is a weighted average of the model's probabilities and of every annotator's vote,
with weights estimated from how often the model and each annotator agree with the majority on items
labelled by several people. The consensus label is the posterior's argmax, its quality the label-quality
score under the posterior, and an annotator's quality mixes the scores of their labels with their agreement
with consensus.

The public functions keep cleanlab 2.9's names, argument order, defaults and returned structure
(``cleanlab.multiannotator``), so switching is a change of import. Deliberate differences:

- ties that survive every majority-vote tie-break go to the lowest class index (cleanlab draws at random);
- non-finite probabilities and labels outside ``0..K-1`` are rejected up front;
- the scores of individual labels always use ``label_quality_score_kwargs`` (cleanlab ignores them when
  ``return_detailed_quality=False``);
- notes go to the ``labelaudit.cl.multiannotator`` logger instead of ``print``;
- ``quality_method="agreement"`` and ``calibrate_probs`` count each label at its own class index: cleanlab
  2.9's ``value_counts`` places the counts of NaN-stripped float labels by rank, so an item labelled only
  ``[2, 2]`` counts as class 0 there. With that helper fixed, cleanlab agrees with this module (see tests).

Layout: labels are held as one row per annotation (item, annotator, class), so every statistic is a
``np.bincount`` over annotations instead of a loop over annotators.
"""

# Over 400 lines (961) on purpose: one module, as cleanlab.multiannotator, so a cleanlab user finds each public
# function where they expect it (labelaudit.cl.PUBLIC_API lists them); the shared kernels are in cl/_engine.
from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from labelaudit.cl._engine.validation import validate_pred_probs
from labelaudit.cl.rank import get_label_quality_scores

__all__ = [
    "convert_long_to_wide_dataset",
    "get_active_learning_scores",
    "get_active_learning_scores_ensemble",
    "get_label_quality_multiannotator",
    "get_label_quality_multiannotator_ensemble",
    "get_majority_vote_label",
]

log = logging.getLogger(__name__)

_CLIP = 1e-6  # cleanlab's CLIPPING_LOWER_BOUND: keeps weights and error rates strictly positive
_TINY = 1e-30  # floor for probabilities before a log in temperature scaling
_COARSE_TEMPERATURES = (0.1, 0.2, 0.5, 0.8, 1.0, 2.0, 3.0, 5.0, 8.0)
_FINE_STEPS = 4
_NO_KWARGS: Mapping[str, Any] = MappingProxyType({})


# --------------------------------------------------------------------------------------------------
# Inputs: validation and the one-row-per-annotation layout
# --------------------------------------------------------------------------------------------------


class _Annotations(NamedTuple):
    """Non-missing labels as parallel arrays, ordered by item, then annotator (row-major in the matrix)."""

    rows: np.ndarray  # (A,) item index
    cols: np.ndarray  # (A,) annotator index
    labels: np.ndarray  # (A,) class index
    num_annotations: np.ndarray  # (N,)
    n_annotators: int


def _to_matrix(labels_multiannotator: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, Any, Any]:
    """Return the labels as a float (N, M) matrix (NaN = missing), the annotator ids and the item index."""
    if isinstance(labels_multiannotator, pd.DataFrame):
        ids, index = labels_multiannotator.columns, labels_multiannotator.index
        source = labels_multiannotator.astype(object).where(labels_multiannotator.notna(), np.nan).to_numpy()
    elif isinstance(labels_multiannotator, np.ndarray):
        ids, index, source = None, None, labels_multiannotator
    else:
        raise ValueError("labels_multiannotator must be either a NumPy array or Pandas DataFrame.")
    try:
        return source.astype(float), ids, index
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "Labels cannot be strings, they must be zero-indexed integers corresponding to class indices "
            "0..K-1 (map string labels to indices first)."
        ) from exc


def _check_labels(matrix: np.ndarray, annotator_ids: Any, *, allow_single_label: bool) -> None:
    """Check the (N, M) label matrix, in cleanlab's words (users grep for them), naming items or annotators."""
    if matrix.ndim != 2:
        raise ValueError(
            "labels_multiannotator must be a 2D array or dataframe, each row represents an example and each column "
            "represents an annotator."
        )
    given = ~np.isnan(matrix)
    if not given.any(axis=1).all():
        rows = np.flatnonzero(~given.any(axis=1)).tolist()
        raise ValueError(
            "labels_multiannotator cannot have rows with all NaN, each example must have at least one label.\n"
            f"Examples {rows[:10]} do not have any labels."
        )
    if not given.any(axis=0).all():
        missing = np.flatnonzero(~given.any(axis=0))
        names = list(annotator_ids[missing]) if annotator_ids is not None else missing.tolist()
        raise ValueError(
            "labels_multiannotator cannot have columns with all NaN, each annotator must annotator at least one "
            f"example.\nAnnotators {names[:10]} did not label any examples."
        )
    values = matrix[given]
    if values.size and not (np.isfinite(values).all() and (values >= 0).all() and (values == np.round(values)).all()):
        raise ValueError("labels must be integer class indices 0..K-1.")
    if not allow_single_label:
        if matrix.shape[1] <= 1:
            raise ValueError(
                "labels_multiannotator must have more than one column.\nIf there is only one annotator, use "
                "labelaudit.cl.rank.get_label_quality_scores instead"
            )
        if (given.sum(axis=1) == 1).all():
            raise ValueError(
                "Each example only has one label, collapse the labels into a 1-D array and use "
                "labelaudit.cl.rank.get_label_quality_scores instead"
            )


def _check_probs_array(probs: object, name: str, *, ensemble: bool) -> bool:
    """cleanlab's shape checks: (N, K) for the single-model functions, (P, N, K) for the ensemble ones."""
    if not isinstance(probs, np.ndarray):
        raise TypeError(f"{name} must be a numpy array.")
    wanted, other = (3, 2) if ensemble else (2, 3)
    if probs.ndim != wanted:
        message = f"{name} must be a {wanted}d array."
        if probs.ndim == other:
            version = "non-ensemble" if ensemble else "ensemble"
            message += f" If you have a {other}d {name} array, use the {version} version of this function."
        raise ValueError(message)
    return ensemble


def _validate(
    matrix: np.ndarray,
    pred_probs: np.ndarray | None,
    annotator_ids: Any,
    *,
    allow_single_label: bool,
    ensemble: bool = False,
) -> None:
    """Check the inputs once, raising a ValueError that names the offending items or annotators."""
    _check_labels(matrix, annotator_ids, allow_single_label=allow_single_label)
    if pred_probs is None:
        return
    _check_probs_array(pred_probs, "pred_probs", ensemble=ensemble)
    if pred_probs.shape[-2] != len(matrix):
        raise ValueError(
            f"pred_probs and labels_multiannotator must have same length: pred_probs has {pred_probs.shape[-2]} "
            f"rows but labels_multiannotator has {len(matrix)}."
        )
    if pred_probs.shape[-1] < 2 or not np.isfinite(pred_probs).all() or (pred_probs < 0).any():
        raise ValueError("pred_probs needs at least two columns of finite, non-negative probabilities.")
    values = matrix[~np.isnan(matrix)]
    if values.size and values.max() >= pred_probs.shape[-1]:
        raise ValueError(
            f"pred_probs must have at least {int(values.max()) + 1} columns based on the largest class label."
        )


def _probabilities(pred_probs: np.ndarray) -> np.ndarray:
    """Each model's rows checked against the input policy of :mod:`labelaudit.cl._engine.validation` (sums within 1e-3).

    Stricter than cleanlab on purpose (``docs/scoring.md``): the consensus quality scores a posterior that mixes
    these rows, so unnormalised rows would give meaningless scores. ActiveLab does not call this.
    """
    if pred_probs.ndim == 2:
        return validate_pred_probs(pred_probs)
    return np.stack([validate_pred_probs(probs) for probs in pred_probs])


def _annotations(matrix: np.ndarray) -> _Annotations:
    given = ~np.isnan(matrix)
    rows, cols = np.nonzero(given)
    labels = matrix[rows, cols].astype(np.int64)
    return _Annotations(rows, cols, labels, given.sum(axis=1), matrix.shape[1])


def _warn_if_no_agreement(ann: _Annotations, n_classes: int) -> None:
    if not (_class_counts(ann, n_classes) > 1).any():
        warnings.warn("Annotators do not agree on any example. Check input data.", stacklevel=3)


# --------------------------------------------------------------------------------------------------
# Counting helpers
# --------------------------------------------------------------------------------------------------


def _class_counts(ann: _Annotations, n_classes: int, weights: np.ndarray | None = None) -> np.ndarray:
    """(N, K) number (or total weight) of annotations of each class on each item."""
    n = len(ann.num_annotations)
    flat = ann.rows * n_classes + ann.labels
    return np.bincount(flat, weights=weights, minlength=n * n_classes).reshape(n, n_classes).astype(float)


def _per_annotator_mean(ann: _Annotations, values: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
    """(M,) mean of a per-annotation value for each annotator, NaN for an annotator with nothing selected."""
    keep = np.ones(len(ann.rows), dtype=bool) if where is None else where
    total = np.bincount(ann.cols[keep], weights=values[keep], minlength=ann.n_annotators)
    count = np.bincount(ann.cols[keep], minlength=ann.n_annotators)
    out = np.full(ann.n_annotators, np.nan)
    np.divide(total, count, out=out, where=count > 0)
    return out


def _item_agreement(ann: _Annotations, consensus: np.ndarray) -> np.ndarray:
    """(N,) fraction of an item's annotators whose label equals its consensus label."""
    agree = np.bincount(ann.rows, weights=ann.labels == consensus[ann.rows], minlength=len(consensus))
    return agree / ann.num_annotations


def _narrow(candidates: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Keep, per row, the candidate columns with the highest score (ties all kept)."""
    masked = np.where(candidates, score, -np.inf)
    return candidates & (masked == masked.max(axis=1, keepdims=True))


# --------------------------------------------------------------------------------------------------
# Majority vote
# --------------------------------------------------------------------------------------------------


def _majority_vote(ann: _Annotations, pred_probs: np.ndarray | None, n_classes: int) -> np.ndarray:
    """Most frequent label per item; ties broken by the model, then the rarer class, then better annotators.

    Tie-breaks, in cleanlab's order, each applied only to items still tied: (1) the highest ``pred_probs``;
    (2) the class given least often over the whole data set (so ties do not deepen class imbalance); (3) the
    class whose annotators agree most with the untied majority votes; (4) the lowest class index.
    """
    counts = _class_counts(ann, n_classes)
    candidates = _narrow(counts > 0, counts)
    untied = candidates.sum(axis=1) == 1
    tiebreaks: list[Callable[[], np.ndarray]] = []
    if pred_probs is not None:
        tiebreaks.append(lambda: pred_probs)
    tiebreaks.append(lambda: np.broadcast_to(-counts.sum(axis=0), counts.shape))
    tiebreaks.append(lambda: _annotator_vote_score(ann, counts, candidates.argmax(axis=1), untied))
    for tiebreak in tiebreaks:
        tied = candidates.sum(axis=1) > 1
        if not tied.any():
            break
        candidates[tied] = _narrow(candidates[tied], tiebreak()[tied])
    still_tied = np.flatnonzero(candidates.sum(axis=1) > 1)
    if still_tied.size:
        warnings.warn(
            f"majority-vote ties at items {still_tied[:10].tolist()} broken by the lowest class index",
            stacklevel=3,
        )
    return candidates.argmax(axis=1)


def _annotator_vote_score(ann: _Annotations, counts: np.ndarray, label: np.ndarray, untied: np.ndarray) -> np.ndarray:
    """(N, K) mean agreement-with-majority of the annotators who gave each class to each item."""
    on_untied = untied[ann.rows]
    agreement = _per_annotator_mean(ann, (ann.labels == label[ann.rows]).astype(float), on_untied)
    known = ~np.isnan(agreement)
    agreement[~known] = agreement[known].mean() if known.any() else 0.0
    total = _class_counts(ann, counts.shape[1], weights=agreement[ann.cols])
    score = np.zeros_like(total)
    np.divide(total, counts, out=score, where=counts > 0)
    return score


def get_majority_vote_label(
    labels_multiannotator: pd.DataFrame | np.ndarray,
    pred_probs: np.ndarray | None = None,
    verbose: bool = True,
) -> np.ndarray:
    """Return the majority-vote label of each item, with ties broken deterministically.

    Parameters
    ----------
    labels_multiannotator : pd.DataFrame or np.ndarray (N, M)
        Class index given by annotator m to item n, NaN where m did not label n.
    pred_probs : np.ndarray (N, K), optional
        Out-of-fold predicted probabilities, used as the first tie-break.
    verbose : bool, default=True
        Log a warning when a class given by annotators never wins a vote.

    Returns
    -------
    majority_vote_label : np.ndarray (N,)
        Tie-breaks in order: highest ``pred_probs``, least frequent class overall, class chosen by the
        annotators who agree most with the untied votes, lowest class index (cleanlab picks at random here).
    """
    matrix, annotator_ids, _ = _to_matrix(labels_multiannotator)
    _validate(matrix, pred_probs, annotator_ids, allow_single_label=True)
    ann = _annotations(matrix)
    n_classes = pred_probs.shape[1] if pred_probs is not None else int(ann.labels.max()) + 1
    label = _majority_vote(ann, pred_probs, n_classes)
    if verbose:
        _log_lost_classes(ann, label, "majority_vote")
    return label


def _log_lost_classes(ann: _Annotations, consensus: np.ndarray, method: str) -> None:
    lost = sorted(set(np.unique(ann.labels).tolist()) - set(np.unique(consensus).tolist()))
    if lost:
        log.warning("classes %s are given by annotators but never chosen by consensus %r", lost, method)


# --------------------------------------------------------------------------------------------------
# Posterior probabilities and weights, per quality method
# --------------------------------------------------------------------------------------------------


def _agreement_with_other_annotators(ann: _Annotations, n_classes: int, *, verbose: bool) -> np.ndarray:
    """(M,) share of the other annotators on the same items who gave the same label, pooled over items.

    Equal to ``np.average(per_item_share, weights=num_annotations - 1)`` over each annotator's items; an
    annotator who never shares an item gets the mean of the others.
    """
    counts = _class_counts(ann, n_classes)
    others_agreeing = counts[ann.rows, ann.labels] - 1
    others = ann.num_annotations[ann.rows] - 1
    agreed = np.bincount(ann.cols, weights=others_agreeing, minlength=ann.n_annotators)
    possible = np.bincount(ann.cols, weights=others, minlength=ann.n_annotators)
    share = np.full(ann.n_annotators, np.nan)
    np.divide(agreed, possible, out=share, where=possible > 0)
    alone = np.isnan(share)
    if alone.any():
        if verbose:
            log.info("annotators %s share no item with others; using the mean agreement", np.flatnonzero(alone))
        share[alone] = share[~alone].mean()
    return share


def _crowdlab_posterior(
    ann: _Annotations, pred_probs: np.ndarray, consensus: np.ndarray, *, verbose: bool
) -> tuple[np.ndarray, float, np.ndarray]:
    """Weighted average of model probabilities and annotator votes (CROWDLAB), with the weights used.

    Weights come from items with two or more labels: each source's error rate relative to the error of always
    predicting the most common consensus class, so a source no better than that baseline gets weight ~0.
    Reference loop it equals::

        post[n, k] = (model_weight * pred_probs[n, k]
                      + sum(w[m] * (p_agree if label[n, m] == k else p_other) for m labelling n))
                     / (model_weight + sum(w[m] for m labelling n))
    """
    n_classes = pred_probs.shape[-1]
    multi = ann.num_annotations != 1
    p_agree = _item_agreement(ann, consensus)[multi].mean()
    p_other = (1 - p_agree) / (n_classes - 1)
    on_multi = consensus[multi]
    baseline_error = max(np.mean(on_multi != np.bincount(on_multi, minlength=n_classes).argmax()), _CLIP)
    annotator_error = 1 - _agreement_with_other_annotators(ann, n_classes, verbose=verbose)
    annotator_weight = np.clip(1 - annotator_error / baseline_error, _CLIP, None)
    models = pred_probs if pred_probs.ndim == 3 else pred_probs[np.newaxis]
    model_error = np.array([np.mean(probs[multi].argmax(axis=1) != on_multi) for probs in models])
    model_weight = np.maximum(1 - model_error / baseline_error, _CLIP) * np.sqrt(ann.num_annotations.mean())

    votes = _class_counts(ann, n_classes, weights=annotator_weight[ann.cols])
    vote_weight = np.bincount(ann.rows, weights=annotator_weight[ann.cols], minlength=models.shape[1])
    if pred_probs.ndim == 2:  # one model: its weight is a float, as in cleanlab
        model_part, model_weight = pred_probs * model_weight[0], float(model_weight[0])
    else:  # an ensemble: each model weighted by its own agreement with consensus
        model_part = np.tensordot(model_weight, models, axes=1)
    post = model_part + p_agree * votes + p_other * (vote_weight[:, None] - votes)
    return post / (vote_weight + np.sum(model_weight))[:, None], model_weight, annotator_weight


def _agreement_posterior(
    ann: _Annotations, pred_probs: np.ndarray, consensus: np.ndarray, *, verbose: bool
) -> tuple[np.ndarray, None, None]:
    """Share of each item's annotators who gave each class; the model is not used."""
    del consensus, verbose
    return _class_counts(ann, pred_probs.shape[1]) / ann.num_annotations[:, None], None, None


def _crowdlab_annotator_quality(
    ann: _Annotations, label_scores: np.ndarray, agreement: np.ndarray, weights: tuple[Any, Any]
) -> np.ndarray:
    """Mix each annotator's mean label score with their agreement with consensus on multi-label items.

    The mix is the model's share of the total weight, with the annotators' weight scaled by the average
    number of labels per item: the more the model is trusted, the more the scores count.
    """
    model_weight, annotator_weight = weights
    model_weight = float(np.mean(model_weight))  # an ensemble's annotators are scored against its mean weight
    mean_score = _per_annotator_mean(ann, label_scores)
    scaled = np.sum(annotator_weight) * ann.num_annotations.mean() / ann.n_annotators
    w = model_weight / (model_weight + scaled)
    return w * mean_score + (1 - w) * agreement


def _agreement_annotator_quality(
    ann: _Annotations, label_scores: np.ndarray, agreement: np.ndarray, weights: tuple[Any, Any]
) -> np.ndarray:
    del ann, label_scores, weights
    return agreement


class _QualityMethod(NamedTuple):
    posterior: Callable[..., tuple[np.ndarray, Any, Any]]
    consensus_quality: Callable[[np.ndarray, np.ndarray, np.ndarray, Mapping[str, Any]], np.ndarray]
    annotator_quality: Callable[..., np.ndarray]


_QUALITY_METHODS: Mapping[str, _QualityMethod] = MappingProxyType(
    {
        "crowdlab": _QualityMethod(
            _crowdlab_posterior,
            lambda label, post, agreement, kwargs: get_label_quality_scores(label, post, **kwargs),
            _crowdlab_annotator_quality,
        ),
        "agreement": _QualityMethod(
            _agreement_posterior,
            lambda label, post, agreement, kwargs: agreement,
            _agreement_annotator_quality,
        ),
    }
)


# --------------------------------------------------------------------------------------------------
# Consensus
# --------------------------------------------------------------------------------------------------


class _Consensus(NamedTuple):
    label: np.ndarray  # (N,)
    quality: np.ndarray  # (N,)
    agreement: np.ndarray  # (N,)
    post: np.ndarray  # (N, K)
    model_weight: float | None
    annotator_weight: np.ndarray | None


def _consensus_stats(
    ann: _Annotations,
    pred_probs: np.ndarray,
    label: np.ndarray,
    method: _QualityMethod,
    kwargs: Mapping[str, Any],
    *,
    verbose: bool,
) -> _Consensus:
    agreement = _item_agreement(ann, label)
    post, model_weight, annotator_weight = method.posterior(ann, pred_probs, label, verbose=verbose)
    quality = method.consensus_quality(label, post, agreement, kwargs)
    return _Consensus(label, quality, agreement, post, model_weight, annotator_weight)


def _vote_tiebreak(pred_probs: np.ndarray) -> np.ndarray:
    """Probabilities that break majority-vote ties: the model's, or the ensemble's mean (as cleanlab)."""
    return pred_probs.mean(axis=0) if pred_probs.ndim == 3 else pred_probs


def _best_quality_label(majority: _Consensus) -> np.ndarray:
    """Argmax of the posterior computed around the majority vote; the majority vote where that argmax ties."""
    post = majority.post
    top = post == post.max(axis=1, keepdims=True)
    return np.where(top.sum(axis=1) == 1, post.argmax(axis=1), majority.label)


_CONSENSUS_METHODS: Mapping[str, Callable[[_Consensus], np.ndarray]] = MappingProxyType(
    {"majority_vote": lambda majority: majority.label, "best_quality": _best_quality_label}
)


# --------------------------------------------------------------------------------------------------
# Per-label and per-annotator results
# --------------------------------------------------------------------------------------------------


def _annotation_scores(ann: _Annotations, post: np.ndarray, kwargs: Mapping[str, Any]) -> np.ndarray:
    """(A,) label-quality score of each annotation, scored per annotator as cleanlab does.

    Per annotator matters only with ``adjust_pred_probs=True``, whose class thresholds come from the labels
    scored together; the other scorers are elementwise.
    """
    scores = np.empty(len(ann.rows))
    order = np.argsort(ann.cols, kind="stable")
    for chunk in np.split(order, np.cumsum(np.bincount(ann.cols, minlength=ann.n_annotators))[:-1]):
        scores[chunk] = get_label_quality_scores(ann.labels[chunk], post[ann.rows[chunk]], **kwargs)
    return scores


def _worst_class(ann: _Annotations, consensus: _Consensus, n_classes: int) -> np.ndarray:
    """(M,) class each annotator gives with the lowest agreement with consensus.

    Ties: the class they give most often, then the highest mean consensus quality, then the lowest index.
    """
    flat = ann.cols * n_classes + ann.labels
    size = ann.n_annotators * n_classes

    def per_cell(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(flat, weights=weights, minlength=size).reshape(ann.n_annotators, n_classes)

    count = per_cell().astype(float)
    given = count > 0
    safe = np.where(given, count, 1.0)
    accuracy = per_cell((ann.labels == consensus.label[ann.rows]).astype(float)) / safe
    mean_quality = per_cell(consensus.quality[ann.rows]) / safe
    candidates = _narrow(given, -accuracy)
    candidates = _narrow(candidates, count)
    candidates = _narrow(candidates, mean_quality)
    return candidates.argmax(axis=1)


def _annotator_stats(
    ann: _Annotations, consensus: _Consensus, label_scores: np.ndarray, method: _QualityMethod, ids: Any
) -> pd.DataFrame:
    agrees = (ann.labels == consensus.label[ann.rows]).astype(float)
    on_multi = ann.num_annotations[ann.rows] != 1
    weights = (consensus.model_weight, consensus.annotator_weight)
    stats = pd.DataFrame(
        {
            "annotator_quality": method.annotator_quality(
                ann, label_scores, _per_annotator_mean(ann, agrees, on_multi), weights
            ),
            "agreement_with_consensus": _per_annotator_mean(ann, agrees),
            "worst_class": _worst_class(ann, consensus, consensus.post.shape[1]),
            "num_examples_labeled": np.bincount(ann.cols, minlength=ann.n_annotators),
        },
        index=ids,
    )
    return stats.sort_values(by=["annotator_quality", "agreement_with_consensus"])


def _label_quality_frame(ann: _Annotations, results: Mapping[str, _Consensus], index: Any) -> pd.DataFrame:
    main, *extra = results
    first = results[main]
    frame = pd.DataFrame(
        {
            "consensus_label": first.label,
            "consensus_quality_score": first.quality,
            "annotator_agreement": first.agreement,
            "num_annotations": ann.num_annotations,
        },
        index=index,
    )
    for name in extra:
        frame[f"consensus_label_{name}"] = results[name].label
        frame[f"consensus_quality_score_{name}"] = results[name].quality
        frame[f"annotator_agreement_{name}"] = results[name].agreement
    return frame


# --------------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------------


# Over 60 lines: the signature and numpydoc (50 lines, every option documented) are most of it; the body is 34.
def get_label_quality_multiannotator(
    labels_multiannotator: pd.DataFrame | np.ndarray,
    pred_probs: np.ndarray,
    *,
    consensus_method: str | list[str] = "best_quality",
    quality_method: str = "crowdlab",
    calibrate_probs: bool = False,
    return_detailed_quality: bool = True,
    return_annotator_stats: bool = True,
    return_weights: bool = False,
    verbose: bool = True,
    label_quality_score_kwargs: Mapping[str, Any] = _NO_KWARGS,
) -> dict[str, Any]:
    """Consensus label and its quality per item, quality per label and per annotator (CROWDLAB).

    Same arguments and returned structure as ``cleanlab.multiannotator.get_label_quality_multiannotator``.

    Parameters
    ----------
    labels_multiannotator : pd.DataFrame or np.ndarray (N, M)
        Class index in ``0..K-1`` given by annotator m to item n, NaN where m did not label n. Each item needs
        one label, each annotator one label, and at least one item needs two. DataFrame columns are annotator
        ids and its index the item ids; both carry over to the results.
    pred_probs : np.ndarray (N, K)
        Out-of-fold predicted probabilities of the audit's model.
    consensus_method : {"best_quality", "majority_vote"} or list of them, default="best_quality"
        The first names the main ``consensus_*`` columns; the others add columns suffixed ``_<method>``.
    quality_method : {"crowdlab", "agreement"}, default="crowdlab"
        ``agreement`` ignores the model and scores by the share of annotators who agree.
    calibrate_probs : bool, default=False
        Temperature-scale ``pred_probs`` to the annotators' label distribution first, so an overconfident
        model does not outvote the people.
    return_detailed_quality, return_annotator_stats, return_weights : bool
        Include ``detailed_label_quality``; ``annotator_stats``; ``model_weight`` and ``annotator_weight``
        (``crowdlab`` only).
    verbose : bool, default=True
        Log notes (annotators sharing no item, classes lost by the consensus).
    label_quality_score_kwargs : mapping, default={}
        Passed to :func:`labelaudit.cl.rank.get_label_quality_scores` (``method``, ``adjust_pred_probs``).

    Returns
    -------
    dict
        ``label_quality`` : pd.DataFrame (N, 4+) -- ``consensus_label``, ``consensus_quality_score``,
        ``annotator_agreement``, ``num_annotations``;
        ``detailed_label_quality`` : pd.DataFrame (N, M) -- ``quality_annotator_<id>``, NaN where unlabelled;
        ``annotator_stats`` : pd.DataFrame (M, 4) -- ``annotator_quality``, ``agreement_with_consensus``,
        ``worst_class``, ``num_examples_labeled``, worst annotator first;
        ``model_weight`` : float and ``annotator_weight`` : np.ndarray (M,).
    """
    methods = consensus_method if isinstance(consensus_method, list) else [consensus_method]
    unknown = [m for m in methods if m not in _CONSENSUS_METHODS]
    if unknown or not methods:
        raise ValueError(
            f"{unknown or methods} is not a valid consensus method! Please choose valid consensus_method(s): "
            f"{sorted(_CONSENSUS_METHODS)}"
        )
    if quality_method not in _QUALITY_METHODS:
        raise ValueError(
            f"{quality_method} is not a valid quality method! Please choose a valid quality_method: "
            f"{sorted(_QUALITY_METHODS)}"
        )
    if return_weights and quality_method != "crowdlab":
        raise ValueError(
            "Model and annotator weights are only applicable to the crowdlab quality method. Either set "
            "return_weights=False or quality_method='crowdlab'."
        )
    matrix, annotator_ids, index = _to_matrix(labels_multiannotator)
    _validate(matrix, pred_probs, annotator_ids, allow_single_label=False)
    pred_probs = _probabilities(pred_probs)
    ann = _annotations(matrix)
    _warn_if_no_agreement(ann, pred_probs.shape[1])
    if calibrate_probs:
        pred_probs = _temperature_scale(pred_probs, _best_temperature(ann, pred_probs))
    return _compute_label_quality(
        ann,
        pred_probs,
        methods,
        _QUALITY_METHODS[quality_method],
        dict(label_quality_score_kwargs),
        flags=(return_detailed_quality, return_annotator_stats, return_weights),
        ids=(annotator_ids, index),
        verbose=verbose,
    )


def get_label_quality_multiannotator_ensemble(
    labels_multiannotator: pd.DataFrame | np.ndarray,
    pred_probs: np.ndarray,
    *,
    calibrate_probs: bool = False,
    return_detailed_quality: bool = True,
    return_annotator_stats: bool = True,
    return_weights: bool = False,
    verbose: bool = True,
    label_quality_score_kwargs: Mapping[str, Any] = _NO_KWARGS,
) -> dict[str, Any]:
    """:func:`get_label_quality_multiannotator` (CROWDLAB, best-quality consensus) with an ensemble of models.

    Each model gets its own weight from its agreement with consensus on items labelled several times; the
    posterior is the weighted average of every model's probabilities and every annotator's vote. Majority-vote
    ties are broken by the models' mean probabilities; annotators are scored against the models' mean weight.

    Parameters
    ----------
    labels_multiannotator : pd.DataFrame or np.ndarray (N, M)
        As in :func:`get_label_quality_multiannotator`.
    pred_probs : np.ndarray (P, N, K)
        Out-of-fold probabilities of each of P models (not modified, even with `calibrate_probs`).
    calibrate_probs, return_detailed_quality, return_annotator_stats, return_weights, verbose :
        As in :func:`get_label_quality_multiannotator` (each model is temperature-scaled on its own).
    label_quality_score_kwargs : mapping, default={}
        Used for every score, the consensus quality included (cleanlab 2.9 passes them only to the per-label
        scores and fails with a ``TypeError`` on any key).

    Returns
    -------
    dict
        As :func:`get_label_quality_multiannotator`; ``model_weight`` is an np.ndarray (P,).
    """
    matrix, annotator_ids, index = _to_matrix(labels_multiannotator)
    _validate(matrix, pred_probs, annotator_ids, allow_single_label=False, ensemble=True)
    pred_probs = _probabilities(pred_probs)
    ann = _annotations(matrix)
    _warn_if_no_agreement(ann, pred_probs.shape[-1])
    if calibrate_probs:
        pred_probs = np.stack([_temperature_scale(p, _best_temperature(ann, p)) for p in pred_probs])
    return _compute_label_quality(
        ann,
        pred_probs,
        ["best_quality"],
        _QUALITY_METHODS["crowdlab"],
        dict(label_quality_score_kwargs),
        flags=(return_detailed_quality, return_annotator_stats, return_weights),
        ids=(annotator_ids, index),
        verbose=verbose,
    )


def _compute_label_quality(
    ann: _Annotations,
    pred_probs: np.ndarray,
    methods: list[str],
    quality: _QualityMethod,
    kwargs: dict[str, Any],
    *,
    flags: tuple[bool, bool, bool],
    ids: tuple[Any, Any],
    verbose: bool,
) -> dict[str, Any]:
    return_detailed, return_stats, return_weights = flags
    annotator_ids, index = ids
    majority = _consensus_stats(
        ann,
        pred_probs,
        _majority_vote(ann, _vote_tiebreak(pred_probs), pred_probs.shape[-1]),
        quality,
        kwargs,
        verbose=verbose,
    )
    results: dict[str, _Consensus] = {}
    for name in methods:
        label = _CONSENSUS_METHODS[name](majority)
        same = np.array_equal(label, majority.label)
        results[name] = majority if same else _consensus_stats(ann, pred_probs, label, quality, kwargs, verbose=verbose)
        if verbose:
            _log_lost_classes(ann, label, name)
    main = results[methods[0]]
    info: dict[str, Any] = {"label_quality": _label_quality_frame(ann, results, index)}
    label_scores = _annotation_scores(ann, main.post, kwargs)
    if return_detailed:
        detailed = np.full((len(ann.num_annotations), ann.n_annotators), np.nan)
        detailed[ann.rows, ann.cols] = label_scores
        columns = annotator_ids if annotator_ids is not None else range(ann.n_annotators)
        info["detailed_label_quality"] = pd.DataFrame(detailed, index=index, columns=columns).add_prefix(
            "quality_annotator_"
        )
    if return_stats:
        info["annotator_stats"] = _annotator_stats(ann, main, label_scores, quality, annotator_ids)
    if return_weights:
        info["model_weight"] = main.model_weight
        info["annotator_weight"] = main.annotator_weight
    return info


# --------------------------------------------------------------------------------------------------
# Temperature scaling and active learning (ActiveLab)
# --------------------------------------------------------------------------------------------------


def _softmax_of_log(log_probs: np.ndarray, temperature: float) -> np.ndarray:
    exp = np.exp(log_probs / max(temperature, _CLIP))
    return exp / exp.sum(axis=1, keepdims=True)


def _temperature_scale(pred_probs: np.ndarray, temperature: float) -> np.ndarray:
    """Sharpen (T < 1) or soften (T > 1) probabilities: ``softmax(log(p) / T)``."""
    probs = np.clip(pred_probs, _TINY, None)
    probs = probs / probs.sum(axis=1, keepdims=True)
    scaled = _softmax_of_log(np.log(probs), temperature)
    return scaled / scaled.sum(axis=1, keepdims=True)


def _best_temperature(ann: _Annotations, pred_probs: np.ndarray) -> float:
    """Temperature minimising the soft cross-entropy to the annotators' label shares (coarse, then fine)."""
    n_classes = pred_probs.shape[1]
    shares = _class_counts(ann, n_classes) / ann.num_annotations[:, None]
    log_probs = np.log(pred_probs, where=pred_probs > 0, out=np.full(pred_probs.shape, -np.inf))

    def loss(temperature: float) -> float:
        scaled = np.clip(_softmax_of_log(log_probs, temperature), _TINY, None)
        return float(np.mean(-np.sum(shares * np.log(scaled), axis=1) / np.log(n_classes)))

    coarse = list(_COARSE_TEMPERATURES)
    best = int(np.argmin([loss(t) for t in coarse]))
    fine = np.array([])
    if best != 0:
        fine = np.linspace(coarse[best - 1], coarse[best], _FINE_STEPS, endpoint=False)
    if best != len(coarse) - 1:
        fine = np.append(fine, np.linspace(coarse[best], coarse[best + 1], _FINE_STEPS + 1))
    return float(fine[int(np.argmin([loss(t) for t in fine]))])


def _check_active_learning_inputs(labels_multiannotator, pred_probs, pred_probs_unlabeled, *, ensemble: bool) -> None:
    """cleanlab's checks of the active-learning inputs, in its words."""
    if pred_probs is None and pred_probs_unlabeled is None:
        raise ValueError("pred_probs and pred_probs_unlabeled cannot both be None, specify at least one of the two.")
    for name, probs in (("pred_probs", pred_probs), ("pred_probs_unlabeled", pred_probs_unlabeled)):
        if probs is not None:
            _check_probs_array(probs, name, ensemble=ensemble)
            if not np.isfinite(probs).all() or (probs < 0).any():
                raise ValueError(f"{name} must hold finite, non-negative scores.")
    both = pred_probs is not None and pred_probs_unlabeled is not None
    if both and pred_probs.shape[-1] != pred_probs_unlabeled.shape[-1]:
        raise ValueError("pred_probs and pred_probs_unlabeled must have the same number of classes")
    if pred_probs is not None and labels_multiannotator is None:
        raise ValueError(
            "labels_multiannotator cannot be None when passing in pred_probs. Either provide labels_multiannotator "
            "to obtain active learning scores for the labeled examples, or just pass in pred_probs_unlabeled to "
            "get active learning scores for unlabeled examples."
        )


class _ActiveLabWeights(NamedTuple):
    """What scoring unlabelled items reuses from the labelled ones: temperatures and weights."""

    temperatures: np.ndarray  # (P,), 1.0 when nothing was labelled or every item has one label
    model_weight: np.ndarray  # (P,)
    mean_annotator_weight: float


def _self_confidence(probs: np.ndarray, label: np.ndarray) -> np.ndarray:
    """``probs[i, label[i]]`` with no check that rows sum to 1.

    ActiveLab accepts unnormalised scores (cleanlab documents and tests it), so the strict input policy of
    :func:`labelaudit.cl.rank.get_label_quality_scores` does not apply here.
    """
    return probs[np.arange(len(label)), label]


def _activelab_labelled(
    labels_multiannotator: pd.DataFrame | np.ndarray, models: np.ndarray
) -> tuple[np.ndarray, _ActiveLabWeights]:
    """ActiveLab scores (N,) of labelled items from P models (P, N, K), and the weights the unlabelled reuse."""
    matrix, annotator_ids, _ = _to_matrix(labels_multiannotator)
    _validate(matrix, models, annotator_ids, allow_single_label=True, ensemble=True)
    ann = _annotations(matrix)
    n_models, _, n_classes = models.shape
    if (ann.num_annotations == 1).all():
        temperatures, model_weight = np.ones(n_models), np.ones(n_models)
        annotator_weight = np.ones(ann.n_annotators)
        average = models.mean(axis=0) if n_models > 1 else models[0]
        quality = _self_confidence(average, _majority_vote(ann, average, n_classes))
    else:
        _warn_if_no_agreement(ann, n_classes)
        temperatures = np.array([_best_temperature(ann, p) for p in models])
        scaled = np.stack([_temperature_scale(p, t) for p, t in zip(models, temperatures, strict=True)])
        info = _compute_label_quality(
            ann,
            scaled if n_models > 1 else scaled[0],
            ["best_quality"],
            _QUALITY_METHODS["crowdlab"],
            {},
            flags=(False, False, True),
            ids=(annotator_ids, None),
            verbose=False,
        )
        quality = info["label_quality"]["consensus_quality_score"].to_numpy()
        model_weight, annotator_weight = np.atleast_1d(info["model_weight"]), info["annotator_weight"]
    mean_weight = float(np.mean(annotator_weight))
    item_weight = np.bincount(ann.rows, weights=annotator_weight[ann.cols], minlength=len(matrix))
    item_weight = item_weight + np.sum(model_weight)
    scores = (quality * item_weight + (1 / n_classes) * mean_weight) / (item_weight + mean_weight)
    return scores, _ActiveLabWeights(temperatures, model_weight, mean_weight)


def _activelab_unlabelled(models: np.ndarray, weights: _ActiveLabWeights) -> np.ndarray:
    """ActiveLab scores (U,) of unlabelled items: the model's confidence mixed with one average annotator.

    One model: its temperature-scaled top probability. An ensemble: the score of the models' majority-vote
    class under the weighted average of the scaled models and a uniform "annotator" (cleanlab's).
    """
    n_classes = models.shape[-1]
    scaled = np.stack([_temperature_scale(p, t) for p, t in zip(models, weights.temperatures, strict=True)])
    if len(models) == 1:
        return np.average(
            np.stack([scaled[0].max(axis=1), np.full(scaled.shape[1], 1 / n_classes)]),
            weights=[weights.model_weight[0], weights.mean_annotator_weight],
            axis=0,
        )
    votes = _annotations(np.argmax(scaled, axis=2).T.astype(float))
    label = _majority_vote(votes, scaled.mean(axis=0), n_classes)
    mixed = np.average(
        np.concatenate((scaled, np.full(scaled.shape[1:], 1 / n_classes)[np.newaxis])),
        weights=np.concatenate((weights.model_weight, [weights.mean_annotator_weight])),
        axis=0,
    )
    return _self_confidence(mixed, label)


def _active_learning(labels_multiannotator, pred_probs, pred_probs_unlabeled, *, ensemble: bool):
    _check_active_learning_inputs(labels_multiannotator, pred_probs, pred_probs_unlabeled, ensemble=ensemble)
    as_models = (lambda p: p) if ensemble else (lambda p: p[np.newaxis])
    scores = np.array([])
    reference = pred_probs if pred_probs is not None else pred_probs_unlabeled
    n_models = len(reference) if ensemble else 1
    weights = _ActiveLabWeights(np.ones(n_models), np.ones(n_models), 1.0)
    if pred_probs is not None:
        scores, weights = _activelab_labelled(labels_multiannotator, as_models(pred_probs))
    unlabelled = np.array([])
    if pred_probs_unlabeled is not None:
        unlabelled = _activelab_unlabelled(as_models(pred_probs_unlabeled), weights)
    return scores, unlabelled


def get_active_learning_scores(
    labels_multiannotator: pd.DataFrame | np.ndarray | None = None,
    pred_probs: np.ndarray | None = None,
    pred_probs_unlabeled: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """ActiveLab scores: which items would gain most from one more label (lowest first).

    The score is the weighted mean of the consensus quality (weight: the model's plus the item's annotators'
    CROWDLAB weights) and of ``1/K`` (weight: one average annotator), so items with few, unreliable labels
    and an unsure model score lowest. Same as ``cleanlab.multiannotator.get_active_learning_scores``, including
    its tolerance: `pred_probs` may be unnormalised scores (rows need not sum to 1; when every item has one
    label they are used as they are, otherwise temperature scaling normalises them).

    Parameters
    ----------
    labels_multiannotator : pd.DataFrame or np.ndarray (N, M), optional
    pred_probs : np.ndarray (N, K), optional
    pred_probs_unlabeled : np.ndarray (U, K), optional

    Returns
    -------
    active_learning_scores : np.ndarray (N,)
        Empty without labelled data.
    active_learning_scores_unlabeled : np.ndarray (U,)
        Empty without unlabelled data; comparable with the labelled scores.
    """
    return _active_learning(labels_multiannotator, pred_probs, pred_probs_unlabeled, ensemble=False)


def get_active_learning_scores_ensemble(
    labels_multiannotator: pd.DataFrame | np.ndarray | None = None,
    pred_probs: np.ndarray | None = None,
    pred_probs_unlabeled: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """ActiveLab scores from an ensemble of P models, as :func:`get_active_learning_scores`.

    Parameters
    ----------
    labels_multiannotator : pd.DataFrame or np.ndarray (N, M), optional
    pred_probs : np.ndarray (P, N, K), optional
    pred_probs_unlabeled : np.ndarray (P, U, K), optional
        Not modified (cleanlab 2.9 temperature-scales the caller's arrays in place).

    Returns
    -------
    active_learning_scores : np.ndarray (N,)
    active_learning_scores_unlabeled : np.ndarray (U,)
    """
    return _active_learning(labels_multiannotator, pred_probs, pred_probs_unlabeled, ensemble=True)


def convert_long_to_wide_dataset(labels_multiannotator_long: pd.DataFrame) -> pd.DataFrame:
    """Pivot long annotations (columns ``task``, ``annotator``, ``label``) to the (N, M) wide layout.

    Parameters
    ----------
    labels_multiannotator_long : pd.DataFrame (A, 3+)
        One row per annotation; a (task, annotator) pair may appear once.

    Returns
    -------
    labels_multiannotator_wide : pd.DataFrame (N, M)
        Index: task ids; columns: annotator ids; NaN where an annotator did not label a task.
    """
    missing = {"task", "annotator", "label"} - set(labels_multiannotator_long.columns)
    if missing:
        raise ValueError(f"long-format annotations lack columns {sorted(missing)}")
    wide = labels_multiannotator_long.pivot(index="task", columns="annotator", values="label")
    wide.index.name = None
    wide.columns.name = None
    return wide
