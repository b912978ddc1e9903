"""The model of one fold: a scikit-learn pipeline built from the feature roles, fitted and asked for probabilities.

Its own module, below both :mod:`labelaudit.models.crossval` (which fits the folds) and
:mod:`labelaudit.models.selection` (whose screening fits candidates on a subsample), so neither imports the other
to reach it and the library keeps no import cycle. ``labelaudit.models.crossval.build_pipeline`` stays importable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from labelaudit.errors import FittingError
from labelaudit.inputs.definition import DatasetDefinition, Role
from labelaudit.models.candidates import DENSE_ONLY, make_classifier

__all__ = ["build_pipeline", "fit_predict"]


def _select_text(frame: pd.DataFrame, column: str) -> np.ndarray:
    # TfidfVectorizer wants a 1-D sequence of strings; missing text counts as empty. A module-level function
    # (not a lambda) keeps the pipeline picklable for process and Dask workers.
    return frame[column].fillna("").astype(str).to_numpy()


def _text_column(column: str) -> FunctionTransformer:
    return FunctionTransformer(_select_text, kw_args={"column": column}, validate=False)


def build_pipeline(
    definition: DatasetDefinition,
    *,
    classifier: str | None = None,
    params: dict[str, Any] | None = None,
    available: list[str] | None = None,
) -> Pipeline:
    """A scikit-learn pipeline from the feature roles: scale numbers, one-hot categories, TF-IDF text.

    An embedding block is imputed and standardised like numbers, as one block (dense vectors suit linear and
    neighbour models once scaled). ``classifier`` and ``params`` default to the definition's model; with
    ``"auto"`` and no ``classifier`` given (the multi-label and token kinds), logistic regression is used.
    ``available`` (the batch's columns) resolves embedding column patterns.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    parts = []
    numeric = definition.columns_by_role(Role.numeric)
    if numeric:
        parts.append(("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric))
    for feature in (f for f in definition.features if f.role == Role.embedding):
        scaled = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        parts.append((f"embedding:{feature.name}", scaled, feature.column_names(available)))
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
    spec = definition.model
    if classifier is None:
        classifier = "logistic_regression" if spec.classifier == "auto" else spec.classifier
        params = spec.params if params is None else params
    model = make_classifier(classifier, params or {}, definition.seed)
    if classifier in DENSE_ONLY:
        features.set_params(sparse_threshold=0.0)
    return Pipeline([("features", features), ("model", model)])


def fit_predict(
    definition: DatasetDefinition,
    features: pd.DataFrame,
    labels: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    n_classes: int,
    *,
    classifier: str | None = None,
) -> np.ndarray:
    """Fit one pipeline on the ``train`` rows of ``features``; probabilities (len(test), n_classes) of ``test``."""
    available = [str(c) for c in features.columns]
    pipeline = build_pipeline(definition, classifier=classifier, available=available)
    pipeline.fit(features.iloc[train], labels[train])
    probs = np.zeros((len(test), n_classes))
    probs[:, pipeline.classes_] = pipeline.predict_proba(features.iloc[test])
    return probs
