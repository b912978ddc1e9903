"""The feature space: the model's transformers, then a seeded SVD; embeddings taken as-is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelaudit.errors import InputDataError
from labelaudit.features.space import embedding_space, feature_space
from labelaudit.inputs.definition import DatasetDefinition, Feature, Role


def _definition(*features: tuple[str, Role]) -> DatasetDefinition:
    return DatasetDefinition(
        name="t", label_column="label", features=[Feature(name=n, role=r) for n, r in features], seed=3
    )


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = np.array(["red", "green", "blue", "apple", "pear", "plum", "big", "small", "round", "long"])
    return pd.DataFrame(
        {
            "x": rng.normal(10, 5, n),
            "y": rng.normal(-3, 0.1, n),
            "colour": rng.choice(["a", "b", "c"], n),
            "note": [" ".join(rng.choice(words, 4)) for _ in range(n)],
            "label": rng.choice(["p", "q"], n),
        }
    )


def test_numeric_only_is_standard_scaled_and_not_reduced() -> None:
    frame = _frame(200)
    space = feature_space(frame, _definition(("x", Role.numeric), ("y", Role.numeric)))
    assert space.matrix.shape == (200, 2) and space.matrix.dtype == np.float32
    assert space.explained_variance is None and space.input_dimensions == 2
    np.testing.assert_allclose(space.matrix.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(space.matrix.std(axis=0), 1, atol=1e-4)


def test_mixed_roles_are_reduced_deterministically_for_a_seed() -> None:
    frame = _frame(300)
    definition = _definition(("x", Role.numeric), ("colour", Role.categorical), ("note", Role.text))
    first = feature_space(frame, definition, dimensions=8)
    again = feature_space(frame, definition, dimensions=8)
    other = feature_space(frame, definition, dimensions=8, seed=99)
    assert first.matrix.shape == (300, 8) and first.input_dimensions > 8
    assert 0 < first.explained_variance <= 1
    np.testing.assert_array_equal(first.matrix, again.matrix)
    # another seed gives the same subspace up to the randomized solver's error: the distances agree closely
    d1 = np.linalg.norm(first.matrix[:50, None] - first.matrix[None, :50], axis=-1)
    d2 = np.linalg.norm(other.matrix[:50, None] - other.matrix[None, :50], axis=-1)
    assert np.corrcoef(d1.ravel(), d2.ravel())[0, 1] > 0.95


def test_equal_rows_stay_equal_and_missing_numbers_are_imputed() -> None:
    frame = _frame(100)
    frame.loc[7] = frame.loc[3]
    frame.loc[11, "x"] = np.nan
    definition = _definition(("x", Role.numeric), ("colour", Role.categorical), ("note", Role.text))
    space = feature_space(frame, definition, dimensions=4)
    np.testing.assert_array_equal(space.matrix[3], space.matrix[7])
    assert np.isfinite(space.matrix).all()


def test_missing_feature_column_is_named() -> None:
    with pytest.raises(InputDataError, match="'y'"):
        feature_space(_frame(20).drop(columns="y"), _definition(("x", Role.numeric), ("y", Role.numeric)))


def test_embedding_is_taken_as_is_and_checked() -> None:
    matrix = np.arange(12, dtype=np.float64).reshape(4, 3)
    space = embedding_space(matrix)
    assert space.source == "embedding" and space.matrix.dtype == np.float32
    np.testing.assert_array_equal(space.matrix, matrix)
    matrix[2, 1] = np.nan
    with pytest.raises(InputDataError, match="row 3"):
        embedding_space(matrix, source="emb.npy")
    with pytest.raises(InputDataError, match="2-D"):
        embedding_space(np.zeros(5))


def test_embedding_block_given_by_a_pattern_enters_standardised() -> None:
    frame = _frame(120)
    rng = np.random.default_rng(7)
    for j in range(5):
        frame[f"emb_{j}"] = rng.normal(100, 20, len(frame))
    definition = DatasetDefinition(
        name="t",
        label_column="label",
        features=[Feature(name="x", role=Role.numeric), Feature(name="vec", role=Role.embedding, columns="emb_*")],
    )
    space = feature_space(frame, definition)
    assert space.matrix.shape == (120, 6) and space.input_dimensions == 6
    np.testing.assert_allclose(space.matrix.std(axis=0), 1, atol=1e-4)
