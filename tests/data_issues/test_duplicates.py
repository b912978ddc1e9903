"""Exact and conflicting duplicates: a hand-checked batch, then generated batches with injected answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labelaudit.data_issues.duplicates import (
    CONFLICTING_DUPLICATE,
    EXACT_DUPLICATE,
    FINDING_COLUMNS,
    find_duplicates,
    label_keys,
)
from labelaudit.data_issues.hashing import row_hashes
from labelaudit.inputs.definition import DatasetDefinition

DEFINITION = DatasetDefinition(
    name="d",
    label_column="y",
    id_column="id",
    features=[{"name": "x1", "role": "numeric"}, {"name": "x2", "role": "numeric"}, {"name": "c", "role": "text"}],
)


def test_a_small_batch_by_hand() -> None:
    hashes = np.array([7, 8, 7, 9, 7, 8], dtype=np.uint64)
    ids = ["a", "b", "c", "d", "e", "f"]
    labels = ["cat", "dog", "cat", "cat", "dog", "dog"]

    found = find_duplicates(hashes, ids, labels, run_id="run-1")

    exact = found.rows[found.rows["issue_type"] == EXACT_DUPLICATE].set_index("row_id")
    assert list(found.rows.columns) == list(FINDING_COLUMNS)
    assert set(found.rows["run_id"]) == {"run-1"}
    assert exact["is_issue"].to_dict() == {"a": False, "b": False, "c": True, "e": True, "f": True}
    assert exact["group_id"].to_dict() == {"a": 0, "b": 1, "c": 0, "e": 0, "f": 1}
    assert json.loads(exact.loc["f", "detail"]) == {"kept_row_id": "b", "group_size": 2}
    assert (found.duplicate_groups, found.duplicate_rows, found.duplicate_rate) == (2, 3, 0.5)
    conflicting = found.rows[found.rows["issue_type"] == CONFLICTING_DUPLICATE].set_index("row_id")
    assert conflicting["score"].round(3).to_dict() == {"a": 0.667, "c": 0.667, "e": 0.333}  # minority ranks first
    assert json.loads(conflicting.loc["e", "detail"]) == {"labels": {"cat": 2, "dog": 1}, "group_size": 3}
    assert conflicting["group_id"].tolist() == [0, 0, 0]
    assert (found.conflicting_groups, found.conflicting_rows, found.conflicting_rate) == (1, 3, 0.5)


def test_no_labels_means_no_conflicts_and_a_clean_batch_has_no_findings() -> None:
    assert find_duplicates(np.array([1, 1], dtype=np.uint64), ["a", "b"], run_id="r").conflicting_rows == 0
    clean = find_duplicates(np.array([1, 2, 3], dtype=np.uint64), ["a", "b", "c"], ["x", "x", "y"], run_id="r")
    assert clean.rows.empty and clean.duplicate_rate == 0.0 and clean.conflicting_rate == 0.0


def test_lengths_must_agree() -> None:
    with pytest.raises(ValueError, match="one value per row"):
        find_duplicates(np.array([1, 2], dtype=np.uint64), ["a"], run_id="r")


def _generated_batch(seed: int, n: int = 3000) -> tuple[pd.DataFrame, set[str], set[str], set[str]]:
    """Distinct rows plus injected copies: the batch, the copies' ids, their originals' ids, the conflicting ids.

    Copies are written the way another file would spell them (integers as floats, text re-cased and re-spaced),
    so finding them also needs the normalisation.
    """
    rng = np.random.default_rng(seed)
    words = np.array(["red", "green", "blue", "large", "small", "round"])
    base = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "x1": rng.integers(0, 10**6, n),
            "x2": rng.normal(size=n).round(6),
            "c": [" ".join(rng.choice(words, 4)) for _ in range(n)],
            "y": rng.choice(["a", "b", "c"], n),
        }
    )
    sources = rng.choice(n, 300, replace=False)
    copies = base.iloc[sources].copy()
    copies["id"] = [f"dup{i}" for i in range(len(copies))]
    copies["x1"] = copies["x1"].astype(float)
    copies["c"] = copies["c"].str.upper().str.replace(" ", "  ")
    relabel = np.arange(len(copies)) < 100  # the first 100 copies get another label: conflicting groups
    copies.loc[relabel, "y"] = copies.loc[relabel, "y"].map({"a": "b", "b": "c", "c": "a"})
    batch = pd.concat([base, copies], ignore_index=True).sample(frac=1, random_state=seed, ignore_index=True)
    conflicting = set(copies["id"][relabel]) | set(base["id"].iloc[sources[relabel]])
    return batch, set(copies["id"]), set(base["id"].iloc[sources]), conflicting


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_injected_duplicates_and_conflicts_are_found_exactly(seed: int) -> None:
    batch, copies, originals, conflicting = _generated_batch(seed)

    found = find_duplicates(row_hashes(batch, DEFINITION), batch["id"], batch["y"], run_id="r")

    rows = found.rows
    exact_issues = set(rows.loc[(rows["issue_type"] == EXACT_DUPLICATE) & rows["is_issue"], "row_id"])
    in_groups = set(rows.loc[rows["issue_type"] == EXACT_DUPLICATE, "row_id"])
    flagged_conflicts = set(rows.loc[rows["issue_type"] == CONFLICTING_DUPLICATE, "row_id"])
    # which copy of a pair is "the duplicate" depends on the shuffled order: compare the groups, then the counts
    assert _precision_recall(in_groups, copies | originals) == (1.0, 1.0)
    assert len(exact_issues) == len(copies) == found.duplicate_rows
    assert _precision_recall(flagged_conflicts, conflicting) == (1.0, 1.0)


def _precision_recall(found: set[str], truth: set[str]) -> tuple[float, float]:
    hits = len(found & truth)
    return hits / len(found), hits / len(truth)


def test_multilabel_tag_sets_compare_as_sets() -> None:
    classes = ["arts", "health", "sports"]
    keys = label_keys([[2, 0], [0, 2, 2], [0]], classes)
    found = find_duplicates(np.array([5, 5, 5], dtype=np.uint64), ["a", "b", "c"], keys, run_id="r")

    assert keys == ["arts|sports", "arts|sports", "arts"]
    conflicting = found.rows[found.rows["issue_type"] == CONFLICTING_DUPLICATE]
    assert conflicting.set_index("row_id")["score"].round(3).to_dict() == {"a": 0.667, "b": 0.667, "c": 0.333}
    assert label_keys([[1, 0]], classes, sort=False) == ["health arts"]
