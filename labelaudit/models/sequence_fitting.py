"""Cross-validated out-of-fold probabilities for multi-label rows and for tokens.

Confident learning needs, for every row (or token), probabilities from a model that never saw it. Both label
types reuse the multiclass machinery of :mod:`labelaudit.models.crossval`: a
:class:`~labelaudit.models.crossval.FoldPlan` planned once, one independent
:class:`~labelaudit.models.crossval.FoldResult` per fold (so an orchestrator can run and cache folds in parallel),
and :func:`~labelaudit.models.crossval.assemble` to put them together.

* Multi-label: the feature pipeline of :func:`labelaudit.models.crossval.build_pipeline` (column roles from the
  dataset definition) with its classifier wrapped in ``OneVsRestClassifier``, so each class gets an independent
  probability; folds are shuffled ``KFold`` over rows.
* Tokens: hashing features of the token and of its neighbours within a context window (``FeatureHasher``) and a
  multinomial ``LogisticRegression``; folds are ``GroupKFold`` over sentences, so no sentence has tokens on both
  sides of a split (its neighbours' features would leak its labels).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, KFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline

from labelaudit.errors import FittingError
from labelaudit.inputs.definition import DatasetDefinition
from labelaudit.models.crossval import FoldPlan, FoldResult, assemble, build_pipeline

__all__ = [
    "TOKEN_HASH_FEATURES",
    "build_multilabel_pipeline",
    "fit_multilabel_fold",
    "fit_token_fold",
    "multilabel_fold_metrics",
    "multilabel_oof_probabilities",
    "plan_multilabel_folds",
    "plan_token_folds",
    "token_features",
    "token_oof_probabilities",
]

TOKEN_HASH_FEATURES = 2**18
"""Width of the hashed token feature space (collisions are rare at NER-sample vocabulary sizes)."""


# --- multi-label ---------------------------------------------------------------------------------------------


def build_multilabel_pipeline(definition: DatasetDefinition) -> Pipeline:
    """:func:`labelaudit.models.crossval.build_pipeline` with its classifier fitted one-vs-rest, one per class."""
    pipeline = build_pipeline(definition)
    return pipeline.set_params(model=OneVsRestClassifier(pipeline.named_steps["model"]))


def plan_multilabel_folds(indicator: np.ndarray, *, folds: int, seed: int) -> FoldPlan:
    """Shuffled, seeded ``KFold`` over rows; refuses batches that cannot be cross-validated.

    Parameters
    ----------
    indicator : np.ndarray (N, K)
        1 where a class is given (:func:`labelaudit.inputs.label_formats.multilabel_indicator`).
    """
    num_rows = len(indicator)
    if num_rows < folds:
        raise FittingError(f"{num_rows} rows cannot be split into {folds} folds; use fewer folds")
    if not indicator.any() or indicator.all():
        raise FittingError("every class is absent from (or present in) every row: there is nothing to learn")
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return FoldPlan([test for _, test in splitter.split(np.zeros(num_rows))])


def fit_multilabel_fold(
    frame: pd.DataFrame, indicator: np.ndarray, plan: FoldPlan, fold: int, definition: DatasetDefinition
) -> FoldResult:
    """Fit on every fold but `fold`; return the held-out rows' per-class probabilities (M, K).

    A class absent from the training rows is predicted with probability 0 (sklearn's constant predictor).
    """
    started = time.perf_counter()
    test = plan.test_rows[fold]
    train = np.setdiff1d(np.arange(len(indicator)), test, assume_unique=True)
    pipeline = build_multilabel_pipeline(definition)
    if definition.model.classifier == "hist_gradient_boosting":
        pipeline.set_params(features__sparse_threshold=0.0)
    features = frame[definition.feature_names]
    pipeline.fit(features.iloc[train], indicator[train])
    probs = np.asarray(pipeline.predict_proba(features.iloc[test]), dtype=np.float64)
    return FoldResult(fold, test, probs, time.perf_counter() - started)


def multilabel_oof_probabilities(
    frame: pd.DataFrame,
    indicator: np.ndarray,
    definition: DatasetDefinition,
    *,
    folds: int | None = None,
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities for every row, all folds in this process.

    Parameters
    ----------
    frame : pd.DataFrame (N, ...)
        Holds the definition's feature columns.
    indicator : np.ndarray (N, K)
    definition : DatasetDefinition
        Feature roles and model; `folds` and `seed` default to the definition's.

    Returns
    -------
    pred_probs : np.ndarray (N, K)
        Independent per-class probabilities.
    fold_of : np.ndarray (N,) int32
    """
    plan = plan_multilabel_folds(
        indicator, folds=folds or definition.folds, seed=definition.seed if seed is None else seed
    )
    results = [fit_multilabel_fold(frame, indicator, plan, fold, definition) for fold in range(plan.n_folds)]
    return assemble(results, len(indicator), indicator.shape[1])


def _binary_metrics(probs: np.ndarray, indicator: np.ndarray) -> tuple[float, float]:
    """Per-cell accuracy at 0.5 and mean binary log-loss over all (row, class) cells."""
    clipped = np.clip(probs, 1e-15, 1 - 1e-15)
    loss = -np.mean(np.where(indicator == 1, np.log(clipped), np.log1p(-clipped)))
    return float(((probs >= 0.5) == (indicator == 1)).mean()), float(loss)


def multilabel_fold_metrics(results: list[FoldResult], probs: np.ndarray, indicator: np.ndarray) -> pd.DataFrame:
    """Per fold and overall (``fold`` missing): the columns of :func:`labelaudit.models.crossval.fold_metrics`.

    ``accuracy`` is the share of (row, class) cells predicted right at 0.5 and ``log_loss`` the mean binary
    log-loss per cell, so the gate's ``min_oof_accuracy`` reads the same way for multi-label batches. Token
    batches use :func:`labelaudit.models.crossval.fold_metrics` on the flat tokens directly.
    """
    rows = []
    for result in sorted(results, key=lambda r: r.fold):
        accuracy, loss = _binary_metrics(result.probs, indicator[result.test_rows])
        rows.append((result.fold, len(result.test_rows), accuracy, loss, result.seconds))
    rows.append((None, len(indicator), *_binary_metrics(probs, indicator), None))
    frame = pd.DataFrame(rows, columns=["fold", "rows", "accuracy", "log_loss", "seconds"])
    frame["fold"] = frame["fold"].astype("Int32")
    return frame


# --- tokens --------------------------------------------------------------------------------------------------


def _shape(token: str) -> str:
    """Word shape with runs collapsed: ``"Paris" -> "Xx"``, ``"2024" -> "d"``, ``"U.N." -> "X.X."``."""
    out = []
    for char in token:
        kind = "X" if char.isupper() else "x" if char.islower() else "d" if char.isdigit() else char
        if not out or out[-1] != kind:
            out.append(kind)
    return "".join(out)


def _token_strings(sentence: list[str], j: int, window: int) -> list[str]:
    token = sentence[j]
    lower = token.lower()
    features = [
        "bias",
        f"w={lower}",
        f"shape={_shape(token)}",
        f"pre3={lower[:3]}",
        f"suf3={lower[-3:]}",
        f"title={token.istitle()}",
        f"first={j == 0}",
    ]
    for offset in range(-window, window + 1):
        if offset:
            k = j + offset
            neighbour = sentence[k].lower() if 0 <= k < len(sentence) else ("<s>" if k < 0 else "</s>")
            features.append(f"w{offset:+d}={neighbour}")
            if 0 <= k < len(sentence):
                features.append(f"shape{offset:+d}={_shape(sentence[k])}")
    return features


def token_features(tokens: list[list[str]], *, window: int = 2, n_features: int = TOKEN_HASH_FEATURES) -> sp.csr_matrix:
    """Hashed features of every token, (T, n_features), in flat order (sentence by sentence).

    Per token: lower-cased form, word shape, 3-letter prefix and suffix, title case, sentence start, and the
    form and shape of each neighbour up to `window` tokens away (``<s>`` / ``</s>`` beyond the edges).
    """
    strings = [_token_strings(sentence, j, window) for sentence in tokens for j in range(len(sentence))]
    hasher = FeatureHasher(n_features=n_features, input_type="string", alternate_sign=False)
    return hasher.transform(strings).tocsr()


def plan_token_folds(lengths: np.ndarray, *, folds: int, seed: int) -> FoldPlan:
    """Folds of flat token positions that keep each sentence whole (shuffled ``GroupKFold`` on sentences).

    Parameters
    ----------
    lengths : np.ndarray (S,)
        Tokens per sentence.
    """
    lengths = np.asarray(lengths)
    if len(lengths) < folds:
        raise FittingError(f"{len(lengths)} sentences cannot be split into {folds} folds; use fewer folds")
    sentence_of = np.repeat(np.arange(len(lengths)), lengths)
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return FoldPlan([test for _, test in splitter.split(sentence_of, groups=sentence_of)])


def fit_token_fold(
    features: sp.spmatrix, flat_labels: np.ndarray, n_classes: int, plan: FoldPlan, fold: int, *, c: float = 1.0
) -> FoldResult:
    """Fit a multinomial logistic regression on every fold but `fold`; probabilities (M, K) of its tokens.

    Classes missing from the training tokens get probability 0 (columns follow class indices).
    """
    started = time.perf_counter()
    test = plan.test_rows[fold]
    train = np.setdiff1d(np.arange(len(flat_labels)), test, assume_unique=True)
    if len(np.unique(flat_labels[train])) < 2:
        raise FittingError(f"fold {fold}: the training tokens hold a single class; nothing to learn")
    # Only hashed columns seen in training can get a non-zero weight: fitting on those alone gives the same
    # model, and L-BFGS on a few thousand columns instead of 2**18 is ~50x faster.
    train_features = features[train]
    used = np.unique(train_features.indices)
    model = LogisticRegression(C=c, max_iter=1000)
    model.fit(train_features[:, used], flat_labels[train])
    probs = np.zeros((len(test), n_classes))
    probs[:, model.classes_] = model.predict_proba(features[test][:, used])
    return FoldResult(fold, test, probs, time.perf_counter() - started)


def token_oof_probabilities(
    tokens: list[list[str]],
    labels: list[list[int]],
    n_classes: int,
    *,
    folds: int = 5,
    seed: int = 0,
    window: int = 2,
) -> list[np.ndarray]:
    """Out-of-fold per-token probabilities, one (T_i, K) array per sentence, all folds in this process.

    Parameters
    ----------
    tokens : list of list of str (S,)
    labels : list of list of int (S,)
        Class index of each token.
    n_classes : int
        K, the number of token classes.

    Returns
    -------
    pred_probs : list of np.ndarray (S,), each (T_i, K)
        Ready for :func:`labelaudit.cl.token_classification.find_label_issues`.
    """
    lengths = np.array([len(sentence) for sentence in tokens])
    flat_labels = np.fromiter((k for row in labels for k in row), dtype=np.int64, count=int(lengths.sum()))
    features = token_features(tokens, window=window)
    plan = plan_token_folds(lengths, folds=folds, seed=seed)
    results = [fit_token_fold(features, flat_labels, n_classes, plan, fold) for fold in range(plan.n_folds)]
    probs, _ = assemble(results, len(flat_labels), n_classes)
    return np.split(probs, np.cumsum(lengths)[:-1])
