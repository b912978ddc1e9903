"""A batch's rows as points: the dense, scaled, reduced matrix that distance-based detectors work in.

Near duplicates, outliers and (issue 15) kNN label agreement all ask "which rows are close to which", so they
share one space. It is built from the same feature transformers the model is fitted on
(:func:`labelaudit.models.crossval.build_pipeline`: numbers imputed and standard-scaled, categories one-hot, each
text column TF-IDF), so "close" means close to what the model sees, then reduced with a truncated SVD to at most
``dimensions`` columns (32 by default):

- neighbour search costs grow with the dimension (trees stop pruning above ~20-30 dims, brute force is linear in
  it), and one-hot/TF-IDF columns can number 100,000;
- a seeded randomized SVD is deterministic for a seed, works on the sparse TF-IDF matrix without densifying it,
  and keeps the directions of largest spread, so rows that are (nearly) equal stay (nearly) equal and rows far
  from the bulk along the main directions stay far. What it loses is spread along minor directions: an outlier
  only in a low-variance direction can be missed; raise ``dimensions`` if that matters.

With no more transformed columns than ``dimensions`` nothing is reduced (the matrix is the transformed features).

Embedding features declared in ``dataset.json`` (role ``embedding``) enter through the same transformers
(standardised as one block). A caller holding an embedding matrix outside the batch can use :func:`embedding_space`,
which takes it as-is, since an embedding's geometry is the point of it and rescaling would change it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD

from labelaudit.errors import FittingError, InputDataError
from labelaudit.inputs.definition import DatasetDefinition

DEFAULT_DIMENSIONS = 32


@dataclass(frozen=True)
class FeatureSpace:
    """Rows as points.

    Attributes
    ----------
    matrix : np.ndarray (N, D) float32
        One row per batch row, in batch order.
    source : {"features", "embedding"}
        Built from the definition's feature columns, or a user-provided embedding taken as-is.
    input_dimensions : int
        Columns before the reduction (transformed features, or the embedding's width).
    explained_variance : float or None
        Fraction of the transformed features' variance the kept SVD components explain; None when not reduced.
    """

    matrix: np.ndarray
    source: str
    input_dimensions: int
    explained_variance: float | None

    @property
    def n_rows(self) -> int:
        return int(self.matrix.shape[0])


def feature_space(
    frame: pd.DataFrame,
    definition: DatasetDefinition,
    *,
    dimensions: int = DEFAULT_DIMENSIONS,
    seed: int | None = None,
) -> FeatureSpace:
    """The scaled, reduced feature matrix of a batch.

    Parameters
    ----------
    frame : pd.DataFrame (N rows)
        The batch, holding at least the definition's feature columns.
    definition : DatasetDefinition
        Gives the feature columns and their roles, and the seed when ``seed`` is None.
    dimensions : int, default=32
        At most this many output columns.
    seed : int, optional
        Seed of the randomized SVD; the definition's seed by default. Same data and seed, same matrix.

    Returns
    -------
    FeatureSpace
        ``matrix`` is float32 (N, min(dimensions, transformed columns)).
    """
    if dimensions < 1:
        raise ValueError(f"dimensions must be at least 1, got {dimensions}")
    available = [str(c) for c in frame.columns]
    columns = definition.model_columns(available)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputDataError(f"feature columns {missing} are missing from the batch", column=missing[0])
    transformed = _transform(frame, definition, columns, available)
    width = int(transformed.shape[1])
    if width <= dimensions or transformed.shape[0] <= dimensions:
        dense = transformed.toarray() if sp.issparse(transformed) else np.asarray(transformed)
        return FeatureSpace(np.ascontiguousarray(dense, dtype=np.float32), "features", width, None)
    svd = TruncatedSVD(n_components=dimensions, random_state=definition.seed if seed is None else seed)
    reduced = svd.fit_transform(transformed)
    explained = float(svd.explained_variance_ratio_.sum())
    return FeatureSpace(np.ascontiguousarray(reduced, dtype=np.float32), "features", width, explained)


def _transform(
    frame: pd.DataFrame, definition: DatasetDefinition, columns: list[str], available: list[str]
) -> np.ndarray | sp.spmatrix:
    # The model's own feature step (embedding blocks standardised as one block, like numbers), so the space
    # matches what the model is fitted on. Imported here: crossval pulls in the classifiers.
    from labelaudit.models.crossval import build_pipeline

    transformer = build_pipeline(definition, available=available).named_steps["features"]
    try:
        return transformer.fit_transform(frame[columns])
    except ValueError as exc:  # e.g. a text column whose words all occur once ("empty vocabulary")
        raise FittingError(f"cannot build the feature space of dataset {definition.name!r}: {exc}") from exc


def embedding_space(matrix: np.ndarray, *, source: str | None = None) -> FeatureSpace:
    """A user-provided embedding (N, D) taken as-is (float32), after checking it is finite and 2-D.

    Parameters
    ----------
    matrix : array-like (N, D)
        One embedding per batch row, in batch order.
    source : str, optional
        Where it came from (a file name), named in errors.
    """
    array = np.asarray(matrix)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise InputDataError(f"an embedding must be a non-empty 2-D matrix, got shape {array.shape}", source=source)
    if not np.issubdtype(array.dtype, np.number):
        raise InputDataError(f"an embedding must be numeric, got dtype {array.dtype}", source=source)
    array = np.ascontiguousarray(array, dtype=np.float32)
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        raise InputDataError("embedding rows hold NaN or infinite values", source=source, rows=(bad + 1).tolist())
    return FeatureSpace(array, "embedding", int(array.shape[1]), None)
