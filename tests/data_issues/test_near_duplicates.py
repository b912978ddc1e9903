"""Near duplicates on generated data with injected copies: known answers, precision and recall >= 0.9."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labelaudit.data_issues.duplicates import FINDING_COLUMNS
from labelaudit.data_issues.near_duplicates import find_near_duplicates, near_duplicate_groups
from labelaudit.features.neighbours import nearest_neighbours
from labelaudit.features.space import feature_space
from labelaudit.inputs.definition import DatasetDefinition, Feature, Role


def _batch(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(8, 6))
    values = centres[rng.integers(0, 8, n)] + rng.normal(size=(n, 6))
    frame = pd.DataFrame(values, columns=[f"x{i}" for i in range(6)])
    frame["shop"] = rng.choice(["north", "south", "east", "west"], n)
    frame["label"] = rng.choice(["a", "b"], n)
    return frame


def _definition(frame: pd.DataFrame, text: str | None = None) -> DatasetDefinition:
    features = [Feature(name=c, role=Role.numeric) for c in frame.columns if c.startswith("x")]
    features.append(Feature(name="shop", role=Role.categorical))
    if text:
        features.append(Feature(name=text, role=Role.text))
    return DatasetDefinition(name="t", label_column="label", features=features)


def _inject_copies(frame: pd.DataFrame, pairs: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Append ``pairs`` copies of random rows, nudged by 0.1% of a feature's spread; return the truth."""
    rng = np.random.default_rng(seed)
    originals = rng.choice(len(frame), size=pairs, replace=False)
    copies = frame.iloc[originals].copy()
    numeric = [c for c in frame.columns if c.startswith("x")]
    copies[numeric] += rng.normal(0, 1e-3, size=(pairs, len(numeric)))
    out = pd.concat([frame, copies], ignore_index=True)
    return out, originals


def _precision_recall(found: set[int], truth: set[int]) -> tuple[float, float]:
    hits = len(found & truth)
    return hits / max(len(found), 1), hits / len(truth)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_injected_near_duplicates_are_found(seed: int) -> None:
    frame, originals = _inject_copies(_batch(3000, seed), pairs=60, seed=seed)
    truth = set(originals.tolist()) | set(range(3000, 3060))
    space = feature_space(frame, _definition(frame))
    distances, indices = nearest_neighbours(space.matrix, 10)
    found = find_near_duplicates(distances, indices, row_ids=np.arange(1, len(frame) + 1), run_id="run-1")
    assert list(found.columns) == list(FINDING_COLUMNS) and len(found) == len(frame)
    precision, recall = _precision_recall(set(np.flatnonzero(found["is_issue"])), truth)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)
    # each original and its copy share a group; the copy's score is lower than any unflagged row's
    groups = found["group_id"]
    shared = [groups[3000 + j] == groups[o] for j, o in enumerate(originals) if found["is_issue"][o]]
    assert len(shared) >= 54 and all(shared)
    assert found.loc[found["is_issue"], "score"].max() < found.loc[~found["is_issue"], "score"].min()


def test_groups_chain_and_carry_ids_and_details() -> None:
    rng = np.random.default_rng(5)
    matrix = rng.normal(size=(500, 4)).astype(np.float32)
    matrix[100] = matrix[7] + 1e-4  # 7 ~ 100 ~ 200: one group of three by chaining
    matrix[200] = matrix[100] + 1e-4
    matrix[300] = matrix[9]  # an exact copy: distance 0, score 0
    distances, indices = nearest_neighbours(matrix, 5, backend="brute")
    group, median_nn = near_duplicate_groups(distances, indices)
    assert median_nn > 0
    assert group[7] == group[100] == group[200] >= 0 and group[9] == group[300] >= 0 and group[7] != group[9]
    assert (group >= 0).sum() == 5 and sorted(set(group[group >= 0])) == [0, 1]
    found = find_near_duplicates(distances, indices, row_ids=[f"id{i}" for i in range(500)], run_id="r")
    row = found.iloc[300]
    assert row["row_id"] == "id300" and row["score"] == 0 and row["is_issue"]
    assert json.loads(row["detail"]) == {"nearest_row_id": "id9", "distance": 0.0, "group_size": 2,
                                         "radius": pytest.approx(0.13 * median_nn, abs=1e-6)}  # fmt: skip
    assert found["group_id"].isna().sum() == 495 and found.loc[~found["is_issue"], "detail"].isna().all()


def test_near_identical_text_is_found_through_tfidf() -> None:
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(400)]
    frame = _batch(1500, 3)
    frame["note"] = [" ".join(rng.choice(words, 12)) for _ in range(len(frame))]
    originals = rng.choice(len(frame), 40, replace=False)
    copies = frame.iloc[originals].copy()
    copies["note"] = copies["note"].str.upper().str.replace(" ", "  ") + "!"  # case, spacing, punctuation
    frame = pd.concat([frame, copies], ignore_index=True)
    truth = set(originals.tolist()) | set(range(1500, 1540))
    space = feature_space(frame, _definition(frame, text="note"))
    assert space.explained_variance is not None  # text makes it wide: reduced by the SVD
    distances, indices = nearest_neighbours(space.matrix, 10)
    found = find_near_duplicates(distances, indices, row_ids=np.arange(len(frame)), run_id="r")
    precision, recall = _precision_recall(set(np.flatnonzero(found["is_issue"])), truth)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)


def test_shapes_must_agree() -> None:
    with pytest.raises(ValueError, match="disagree"):
        find_near_duplicates(np.zeros((3, 2)), np.zeros((3, 2), dtype=int), row_ids=[1, 2], run_id="r")
