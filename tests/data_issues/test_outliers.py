"""Outliers on generated data with injected far rows and unsure predictions: known answers, P and R >= 0.9."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from labelaudit.data_issues.near_duplicates import find_near_duplicates
from labelaudit.data_issues.outliers import find_outliers, find_uncertain, normalised_entropy, outlier_scores
from labelaudit.features.neighbours import nearest_neighbours
from labelaudit.features.space import feature_space
from labelaudit.inputs.definition import DatasetDefinition, Feature, Role


def _batch_with_outliers(n: int, outliers: int, seed: int) -> tuple[pd.DataFrame, set[int]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(6, 8))
    values = centres[rng.integers(0, 6, n)] + rng.normal(size=(n, 8))
    far = rng.choice(n, outliers, replace=False)
    # pushed 12 units along a random direction: far from every cluster, in no cluster of their own
    directions = rng.normal(size=(outliers, 8))
    values[far] += 12 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    frame = pd.DataFrame(values, columns=[f"x{i}" for i in range(8)])
    frame["label"] = "a"
    return frame, set(far.tolist())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_injected_outliers_are_found(seed: int) -> None:
    frame, truth = _batch_with_outliers(4000, 40, seed)
    definition = DatasetDefinition(
        name="t", label_column="label", features=[Feature(name=c, role=Role.numeric) for c in frame if c != "label"]
    )
    distances, _ = nearest_neighbours(feature_space(frame, definition).matrix, 10)
    found = find_outliers(distances, row_ids=np.arange(len(frame)), run_id="run-1")
    flagged = set(np.flatnonzero(found["is_issue"]))
    hits = len(flagged & truth)
    assert hits / max(len(flagged), 1) >= 0.9 and hits / len(truth) >= 0.9, (len(flagged), hits)
    # the score ranks: every injected outlier scores below the median row
    assert found["score"].iloc[sorted(truth)].max() < found["score"].median()
    assert found["issue_type"].eq("outlier").all() and found["group_id"].isna().all()
    detail = json.loads(found.loc[found["is_issue"], "detail"].iloc[0])
    assert detail["mean_knn_distance"] > detail["fence"]


def test_outlier_score_is_datalabs_transform() -> None:
    distances = np.array([[1.0, 1.0], [2.0, 4.0], [0.0, 0.0]])
    avg, score = outlier_scores(distances)
    np.testing.assert_allclose(avg, [1.0, 3.0, 0.0])
    np.testing.assert_allclose(score, np.exp(-avg / 1.0))  # median of avg is 1


def test_unsure_rows_are_found_relative_to_the_batch() -> None:
    rng = np.random.default_rng(4)
    n, k = 2000, 4
    # sure rows: 70-95% on one class, the rest spread at random (normalised entropy below ~0.5)
    top = rng.uniform(0.7, 0.95, n)
    confident = (1 - top)[:, None] * rng.dirichlet(np.ones(k), size=n)
    confident[np.arange(n), rng.integers(0, k, n)] += top
    unsure = rng.choice(n, 30, replace=False)
    confident[unsure] = rng.dirichlet(np.full(k, 30.0), size=30)  # near uniform
    found = find_uncertain(confident, row_ids=np.arange(n), run_id="r")
    flagged = set(np.flatnonzero(found["is_issue"]))
    hits = len(flagged & set(unsure.tolist()))
    assert hits / max(len(flagged), 1) >= 0.9 and hits / 30 >= 0.9, (len(flagged), hits)
    np.testing.assert_allclose(found["score"], 1 - normalised_entropy(confident))


def test_a_confident_batch_flags_no_unsure_row() -> None:
    probs = np.tile([0.97, 0.01, 0.01, 0.01], (500, 1))
    probs[:5] = [0.9, 0.04, 0.03, 0.03]  # less sure than the batch, but still sure: below the 0.5 floor
    assert not find_uncertain(probs, row_ids=np.arange(500), run_id="r")["is_issue"].any()


def test_entropy_bounds() -> None:
    np.testing.assert_allclose(normalised_entropy(np.array([[1.0, 0, 0], [1 / 3, 1 / 3, 1 / 3]])), [0.0, 1.0])
    with pytest.raises(ValueError, match="K >= 2"):
        normalised_entropy(np.ones((3, 1)))


def test_large_batch_memory_stays_linear() -> None:
    """50,000 rows: neighbours, near duplicates and outliers in far less than an N x N float64 matrix (20 GB)."""
    rng = np.random.default_rng(0)
    matrix = (rng.normal(0, 4, (30, 8))[rng.integers(0, 30, 50_000)] + rng.normal(size=(50_000, 8))).astype(np.float32)
    tracemalloc.start()
    distances, indices = nearest_neighbours(matrix, 10, backend="kd_tree")
    near = find_near_duplicates(distances, indices, row_ids=np.arange(50_000), run_id="r")
    far = find_outliers(distances, row_ids=np.arange(50_000), run_id="r")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(near) == len(far) == 50_000
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MiB"
