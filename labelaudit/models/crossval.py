"""Cross-validated fitting: out-of-fold predicted probabilities for every row.

Confident learning needs, for each row, the probability of every class from a model that never saw that row.
Folds are planned once (stratified, seeded) and each fold is an independent unit of work, so an orchestrator
can run them in parallel (Prefect tasks, a Dask cluster) and cache them one by one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from labelaudit.errors import FittingError, InputDataError
from labelaudit.inputs.definition import DatasetDefinition, ModelSpec, Role


@dataclass(frozen=True)
class FoldPlan:
    """Which rows each fold holds out. ``test_rows[i]`` are 0-based row positions."""

    test_rows: list[np.ndarray]

    @property
    def n_folds(self) -> int:
        return len(self.test_rows)


@dataclass(frozen=True)
class FoldResult:
    """Out-of-fold probabilities of one fold's held-out rows, in class-index order."""

    fold: int
    test_rows: np.ndarray
    probs: np.ndarray
    seconds: float


def encode_labels(labels: pd.Series, classes: list[str], *, source: str | None = None) -> np.ndarray:
    """Map label strings to class indices, refusing values outside ``classes`` (naming rows)."""
    codes = pd.Categorical(labels, categories=classes).codes.astype(np.int64)
    bad = np.flatnonzero(codes < 0)
    if bad.size:
        values = sorted({str(v) for v in labels.iloc[bad[:20]]})
        raise InputDataError(
            f"label values {values} are not among the classes {classes}",
            source=source,
            column=str(labels.name),
            rows=(bad + 1).tolist(),
        )
    return codes


def plan_folds(labels: np.ndarray, classes: list[str], *, folds: int, seed: int) -> FoldPlan:
    """Stratified folds; refuses data that cannot be cross-validated, saying what to change."""
    counts = np.bincount(labels, minlength=len(classes))
    present = np.flatnonzero(counts)
    if present.size < 2:
        only = classes[int(present[0])] if present.size else "none"
        raise FittingError(f"the batch has a single class ({only!r}); confident learning needs at least two classes")
    small = [(classes[i], int(counts[i])) for i in present if counts[i] < folds]
    if small:
        listed = ", ".join(f"{name!r} has {n}" for name, n in small)
        raise FittingError(
            f"{listed} row(s), fewer than the {folds} folds: each class needs at least one row per fold. "
            f"Use fewer folds (--folds {max(2, min(n for _, n in small))}) if that is at least 2, "
            "fix or remove those rows, or supply precomputed probabilities"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    dummy = np.zeros(len(labels))
    return FoldPlan([test for _, test in splitter.split(dummy, labels)])


def _select_text(frame: pd.DataFrame, column: str) -> np.ndarray:
    # TfidfVectorizer wants a 1-D sequence of strings; missing text counts as empty. A module-level function
    # (not a lambda) keeps the pipeline picklable for process and Dask workers.
    return frame[column].fillna("").astype(str).to_numpy()


def _text_column(column: str) -> FunctionTransformer:
    return FunctionTransformer(_select_text, kw_args={"column": column}, validate=False)


def build_pipeline(definition: DatasetDefinition) -> Pipeline:
    """A scikit-learn pipeline from the feature roles: scale numbers, one-hot categories, TF-IDF text."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    parts = []
    numeric = definition.columns_by_role(Role.numeric)
    if numeric:
        parts.append(("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric))
    categorical = definition.columns_by_role(Role.categorical)
    if categorical:
        encoder = OneHotEncoder(handle_unknown="ignore", min_frequency=2)
        imputer = SimpleImputer(strategy="constant", fill_value="(missing)")
        parts.append(("categorical", make_pipeline(imputer, encoder), categorical))
    for column in definition.columns_by_role(Role.text):
        vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2, max_features=100_000)
        parts.append((f"text:{column}", make_pipeline(_text_column(column), vectorizer), [column]))
    if not parts:
        raise FittingError(f"dataset {definition.name!r} declares no feature columns to fit a model on")
    features = ColumnTransformer(parts, sparse_threshold=0.3)
    return Pipeline([("features", features), ("model", _classifier(definition.model, definition.seed))])


def _classifier(spec: ModelSpec, seed: int) -> object:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    factories = {
        "logistic_regression": lambda: LogisticRegression(max_iter=2000, **spec.params),
        "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(random_state=seed, **spec.params),
        "random_forest": lambda: RandomForestClassifier(random_state=seed, n_jobs=1, **spec.params),
    }
    return factories[spec.classifier]()


def fit_fold(
    frame: pd.DataFrame,
    labels: np.ndarray,
    n_classes: int,
    plan: FoldPlan,
    fold: int,
    definition: DatasetDefinition,
) -> FoldResult:
    """Fit on every fold but ``fold`` and predict its held-out rows."""
    started = time.perf_counter()
    test = plan.test_rows[fold]
    train = np.setdiff1d(np.arange(len(labels)), test, assume_unique=True)
    pipeline = build_pipeline(definition)
    features = frame[definition.feature_names]
    if definition.model.classifier == "hist_gradient_boosting":
        pipeline.set_params(features__sparse_threshold=0.0)
    pipeline.fit(features.iloc[train], labels[train])
    probs = np.zeros((len(test), n_classes))
    probs[:, pipeline.classes_] = pipeline.predict_proba(features.iloc[test])
    return FoldResult(fold, test, probs, time.perf_counter() - started)


def assemble(results: list[FoldResult], n_rows: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities (N, K) and the fold of each row, from the per-fold results."""
    probs = np.zeros((n_rows, n_classes))
    fold_of = np.full(n_rows, -1, dtype=np.int32)
    for result in results:
        probs[result.test_rows] = result.probs
        fold_of[result.test_rows] = result.fold
    if (fold_of < 0).any():
        raise FittingError("internal error: some rows were in no fold")
    return probs, fold_of


def fold_metrics(results: list[FoldResult], probs: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Accuracy and log-loss per fold and overall (``fold`` missing) of the out-of-fold predictions."""
    k = probs.shape[1]
    rows = []
    for result in sorted(results, key=lambda r: r.fold):
        y = labels[result.test_rows]
        p = result.probs
        rows.append((result.fold, len(y), _accuracy(p, y), log_loss(y, p, labels=range(k)), result.seconds))
    rows.append((None, len(labels), _accuracy(probs, labels), log_loss(labels, probs, labels=range(k)), None))
    frame = pd.DataFrame(rows, columns=["fold", "rows", "accuracy", "log_loss", "seconds"])
    frame["fold"] = frame["fold"].astype("Int32")
    return frame


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float((probs.argmax(axis=1) == labels).mean())
