"""cleanlab's model-fitting helpers of ``count``: out-of-fold probabilities from any scikit-learn classifier.

Why here and not in :mod:`labelaudit.models.crossval`: these follow cleanlab 2.9 to the bit (same folds for the same
``seed``: ``StratifiedKFold(cv_n_folds, shuffle=True, random_state=seed)`` split on the labels; a class missing
from a training fold gets one of its held-out rows copied in, and that row's prediction replaced by a one-hot
vector of its label), so a cleanlab user gets the same ``pred_probs``. The audit flow's own fitting
(:mod:`labelaudit.models.crossval`) plans folds for Prefect tasks instead. Imported on first use by
:mod:`labelaudit.cl.count`, so ``import labelaudit.cl.count`` does not import scikit-learn.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd
import scipy.sparse as sp
import sklearn.base
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from labelaudit.cl._engine.counting import compute_confident_joint, estimate_latent
from labelaudit.cl._engine.validation import InvalidLabelsError

DEFAULT_CLASSIFIER = LogisticRegression(solver="lbfgs")
"""cleanlab's default ``clf`` (cloned before every fit, never fitted itself)."""
NO_KWARGS: Mapping = MappingProxyType({})


def _labels_for(X: object, labels: object) -> np.ndarray:
    """`labels` as an int array (N,) with classes ``0 .. K-1`` all present, one per row of `X`."""
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) == 0:
        raise InvalidLabelsError(f"labels must be a non-empty 1-D array, got shape {array.shape}", column="labels")
    if not np.issubdtype(array.dtype, np.integer):
        if not (np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array))):
            raise InvalidLabelsError("labels must be integer class indices 0..K-1", column="labels")
        array = array.astype(np.int64)
    present = np.unique(array)
    if present[0] < 0 or not np.array_equal(present, np.arange(len(present))):
        raise InvalidLabelsError(
            f"labels must use every class 0..K-1 (found classes {present[:20].tolist()}); map them to 0..K-1 "
            "first, as cleanlab requires for fitting",
            column="labels",
        )
    num_rows = X.shape[0] if hasattr(X, "shape") else len(X)
    if num_rows != len(array):
        raise ValueError(f"X has {num_rows} rows but labels has {len(array)}: they must be the same length")
    return array


def _split(X: object, train: np.ndarray, holdout: np.ndarray) -> tuple[object, object]:
    if isinstance(X, pd.DataFrame | pd.Series):
        return X.iloc[train], X.iloc[holdout]
    try:
        return X[train], X[holdout]
    except Exception as exc:
        raise ValueError(
            "X cannot be split by row numbers (required for cross-validation): use a NumPy array, a SciPy sparse "
            "matrix or a pandas DataFrame, or fit the folds yourself and pass out-of-sample pred_probs"
        ) from exc


def _append_row(to_data: object, from_data: object, index: int) -> object:
    """`to_data` with row `index` of `from_data` appended (cleanlab's ``append_extra_datapoint``)."""
    if isinstance(to_data, np.ndarray):
        return np.vstack([to_data, from_data[index]])
    if isinstance(to_data, pd.DataFrame | pd.Series):
        return pd.concat([to_data, from_data.iloc[[index]]]).reset_index(drop=True)
    if sp.issparse(to_data):
        return sp.vstack([to_data, from_data[index]]).tocsr()
    raise TypeError(f"cannot append a row to X of type {type(to_data).__name__}; use a NumPy array or DataFrame")


def _clone(clf: object) -> object:
    try:
        return sklearn.base.clone(clf)
    except Exception as exc:
        raise ValueError(
            "`clf` must be clonable via: sklearn.base.clone(clf). Implement `clf.get_params()`, or fit the folds "
            "yourself and pass out-of-sample pred_probs"
        ) from exc


def _fill_missing_classes(X_train, y_train, X_hold, y_hold, num_classes: int):
    """Copy one held-out row of each class absent from the training fold into it; return the copied rows."""
    missing = sorted(set(range(num_classes)) - set(np.unique(y_train).tolist()))
    if missing:
        warnings.warn(
            "Duplicated some data across multiple folds to ensure training does not fail because these classes "
            f"do not have enough data for proper cross-validation: {set(missing)}.",
            stacklevel=4,
        )
    copied = {}
    for k in missing:
        row = int(np.flatnonzero(y_hold == k)[0])
        y_train = np.append(y_train, y_hold[row])
        X_train = _append_row(X_train, X_hold, row)
        copied[k] = row
    return X_train, y_train, copied


def cross_validated_probabilities(
    X: object,
    labels: object,
    clf: object,
    *,
    cv_n_folds: int,
    seed: int | None,
    clf_kwargs: Mapping,
    validation_func: Callable | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Checked labels (N,) and out-of-fold ``pred_probs`` (N, K) float64, fold by fold as cleanlab does.

    ``validation_func(X_holdout, y_holdout)`` returns extra keyword arguments for ``clf.fit`` (e.g. an eval set).
    """
    if validation_func is not None and not callable(validation_func):
        raise TypeError("validation_func must be callable function with args: X_val, y_val")
    checked = _labels_for(X, labels)
    num_classes = int(checked.max()) + 1
    pred_probs = np.zeros((len(checked), num_classes))
    folds = StratifiedKFold(n_splits=cv_n_folds, shuffle=True, random_state=seed)
    for train, holdout in folds.split(X=checked, y=checked):
        model = _clone(clf)
        X_train, X_hold = _split(X, train, holdout)
        y_train, y_hold = checked[train], checked[holdout]
        X_train, y_train, copied = _fill_missing_classes(X_train, y_train, X_hold, y_hold, num_classes)
        extra = validation_func(X_hold, y_hold) if validation_func is not None else {}
        model.fit(X_train, y_train, **dict(clf_kwargs), **extra)
        fold_probs = model.predict_proba(X_hold)
        for k, row in copied.items():
            fold_probs[row] = np.eye(num_classes)[k]  # predicted with full confidence, as cleanlab does
        pred_probs[holdout] = fold_probs
    return checked, pred_probs


# --- the public functions, re-exported by labelaudit.cl.count ---------------------------------------------------


def estimate_confident_joint_and_cv_pred_proba(
    X,
    labels,
    clf=DEFAULT_CLASSIFIER,
    *,
    cv_n_folds=5,
    thresholds=None,
    seed=None,
    calibrate=True,
    clf_kwargs=NO_KWARGS,
    validation_func=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit `clf` in `cv_n_folds` stratified folds, then count the confident joint of the out-of-fold probabilities.

    Parameters
    ----------
    X : np.ndarray, scipy sparse matrix or pd.DataFrame (N, ...)
        Features `clf` can ``fit`` and ``predict_proba``.
    labels : np.ndarray (N,)
        Given labels; every class ``0 .. K-1`` must occur.
    clf : scikit-learn classifier, default=LogisticRegression(solver="lbfgs")
        Cloned for each fold (never fitted itself).
    cv_n_folds : int, default=5
    thresholds : array_like (K,), optional
        As in :func:`labelaudit.cl.count.compute_confident_joint`.
    seed : int, optional
        ``random_state`` of the shuffled folds (``None``: numpy's global state, as cleanlab).
    calibrate : bool, default=True
    clf_kwargs : mapping, optional
        Extra keyword arguments for ``clf.fit``.
    validation_func : callable, optional
        ``validation_func(X_holdout, y_holdout) -> dict`` of extra ``fit`` arguments per fold.

    Returns
    -------
    (confident_joint, pred_probs) : np.ndarray (K, K) int, np.ndarray (N, K) float64
    """
    checked, pred_probs = cross_validated_probabilities(
        X, labels, clf, cv_n_folds=cv_n_folds, seed=seed, clf_kwargs=clf_kwargs, validation_func=validation_func
    )
    joint = compute_confident_joint(checked, pred_probs, thresholds=thresholds, calibrate=calibrate)
    return joint, pred_probs


def estimate_py_noise_matrices_and_cv_pred_proba(
    X,
    labels,
    clf=DEFAULT_CLASSIFIER,
    *,
    cv_n_folds=5,
    thresholds=None,
    converge_latent_estimates=False,
    py_method="cnt",
    seed=None,
    clf_kwargs=NO_KWARGS,
    validation_func=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold probabilities, then prior, noise matrices and confident joint from them.

    Parameters
    ----------
    X : array_like (N, ...)
        Features, anything `clf` fits (rows indexed by the folds).
    labels : np.ndarray (N,)
        Given labels as class indices ``0..K-1``.
    clf : scikit-learn classifier, default=LogisticRegression
        Cloned and fitted once per fold.
    cv_n_folds : int, default=5
        Stratified folds.
    seed : int, optional
        ``random_state`` of the shuffled folds.
    thresholds, clf_kwargs, validation_func :
        As in :func:`estimate_confident_joint_and_cv_pred_proba`.
    converge_latent_estimates : bool, default=False
        As in :func:`labelaudit.cl.count.estimate_latent`.
    py_method : {"cnt", "eqn", "marginal", "marginal_ps"}, default="cnt"
        As in :func:`labelaudit.cl.count.estimate_latent`.

    Returns
    -------
    (py, noise_matrix, inverse_noise_matrix, confident_joint, pred_probs)
        Shapes (K,), (K, K), (K, K), (K, K), (N, K).
    """
    joint, pred_probs = estimate_confident_joint_and_cv_pred_proba(
        X,
        labels,
        clf,
        cv_n_folds=cv_n_folds,
        thresholds=thresholds,
        seed=seed,
        clf_kwargs=clf_kwargs,
        validation_func=validation_func,
    )
    py, noise, inverse = estimate_latent(
        joint, _labels_for(X, labels), py_method=py_method, converge_latent_estimates=converge_latent_estimates
    )
    return py, noise, inverse, joint, pred_probs


def estimate_cv_predicted_probabilities(
    X,
    labels,
    clf=DEFAULT_CLASSIFIER,
    *,
    cv_n_folds=5,
    seed=None,
    clf_kwargs=NO_KWARGS,
    validation_func=None,
) -> np.ndarray:
    """Out-of-fold predicted probabilities of `clf`, each row predicted by the fold that did not see it.

    Parameters
    ----------
    X : array_like (N, ...)
        Features, anything `clf` fits (rows indexed by the folds).
    labels : np.ndarray (N,)
        Given labels as class indices ``0..K-1``.
    clf : scikit-learn classifier, default=LogisticRegression
        Cloned and fitted once per fold.
    cv_n_folds : int, default=5
        Stratified folds.
    seed : int, optional
        ``random_state`` of the shuffled folds.
    clf_kwargs, validation_func :
        As in :func:`estimate_confident_joint_and_cv_pred_proba`.

    Returns
    -------
    pred_probs : np.ndarray (N, K)
        Rows sum to 1.
    """
    return cross_validated_probabilities(
        X, labels, clf, cv_n_folds=cv_n_folds, seed=seed, clf_kwargs=clf_kwargs, validation_func=validation_func
    )[1]


def estimate_noise_matrices(
    X,
    labels,
    clf=DEFAULT_CLASSIFIER,
    *,
    cv_n_folds=5,
    thresholds=None,
    converge_latent_estimates=True,
    seed=None,
    clf_kwargs=NO_KWARGS,
    validation_func=None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(noise_matrix, inverse_noise_matrix)`` from out-of-fold probabilities of `clf`.

    Parameters
    ----------
    X : array_like (N, ...)
        Features, anything `clf` fits (rows indexed by the folds).
    labels : np.ndarray (N,)
        Given labels as class indices ``0..K-1``.
    clf : scikit-learn classifier, default=LogisticRegression
        Cloned and fitted once per fold.
    cv_n_folds : int, default=5
        Stratified folds.
    seed : int, optional
        ``random_state`` of the shuffled folds.
    thresholds, clf_kwargs, validation_func :
        As in :func:`estimate_confident_joint_and_cv_pred_proba`.
    converge_latent_estimates : bool, default=True
        As in :func:`labelaudit.cl.count.estimate_latent` (here the estimates converge by default, as in
        cleanlab).

    Returns
    -------
    (noise_matrix, inverse_noise_matrix) : np.ndarray (K, K), np.ndarray (K, K)
        ``P(given = i | true = j)`` and ``P(true = i | given = j)``; columns sum to 1.
    """
    return estimate_py_noise_matrices_and_cv_pred_proba(
        X,
        labels,
        clf,
        cv_n_folds=cv_n_folds,
        thresholds=thresholds,
        converge_latent_estimates=converge_latent_estimates,
        seed=seed,
        clf_kwargs=clf_kwargs,
        validation_func=validation_func,
    )[1:3]
