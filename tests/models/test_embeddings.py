"""An embedding block as a feature role: columns by pattern or a file keyed by id, fitted and audited."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelaudit.cl.filter import find_label_issues
from labelaudit.errors import InputDataError
from labelaudit.inputs.definition import DatasetDefinition, Feature
from labelaudit.models.crossval import assemble, encode_labels, fit_fold, plan_folds
from labelaudit.models.embeddings import attach

CLASSES = ["cat", "dog", "fox"]


def _vectors(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three well-separated clusters in d dimensions; 8 of the given labels are wrong."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, size=n)
    centres = rng.normal(scale=5.0, size=(3, d))
    vectors = centres[truth] + rng.normal(size=(n, d))
    given = truth.copy()
    flipped = rng.choice(n, size=8, replace=False)
    given[flipped] = (truth[flipped] + 1) % 3
    return vectors, given, np.sort(flipped)


def _audit(frame: pd.DataFrame, definition: DatasetDefinition) -> np.ndarray:
    labels = encode_labels(frame["label"], CLASSES)
    plan = plan_folds(labels, CLASSES, folds=3, seed=0)
    results = [fit_fold(frame, labels, 3, plan, f, definition) for f in range(3)]
    probs, _ = assemble(results, len(labels), 3)
    return np.flatnonzero(find_label_issues(labels, probs))


def _assert_finds_the_flips(found: np.ndarray, flipped: np.ndarray) -> None:
    # CL's prune_by_noise_rate may stop one or two short of the 8 (its count is an estimate); a misaligned or
    # unused embedding would flag rows at random instead
    assert len(set(found) & set(flipped)) >= 6 and len(set(found) - set(flipped)) <= 2


def test_embedding_columns_by_pattern_audit_a_generated_batch() -> None:
    vectors, given, flipped = _vectors(240, 16, seed=0)
    frame = pd.DataFrame(vectors, columns=[f"emb_{i}" for i in range(16)])
    frame["label"] = np.array(CLASSES)[given]
    frame["other"] = "x"  # not matched by the pattern, so never fitted on
    definition = DatasetDefinition(
        name="e",
        label_column="label",
        features=[Feature(name="emb", role="embedding", columns="emb_*")],
        model={"classifier": "auto"},
        folds=3,
    )
    assert definition.model_columns(list(frame.columns)) == [f"emb_{i}" for i in range(16)]
    _assert_finds_the_flips(_audit(frame, definition), flipped)


def test_embedding_file_keyed_by_id_is_joined_and_audited(tmp_path) -> None:
    vectors, given, flipped = _vectors(180, 8, seed=1)
    ids = np.array([f"r{i:03d}" for i in range(180)])
    order = np.random.default_rng(2).permutation(180)  # the file's rows in another order than the batch
    np.savez(tmp_path / "vectors.npz", ids=ids[order], embeddings=vectors[order])
    batch = pd.DataFrame({"id": ids, "label": np.array(CLASSES)[given]})
    definition = DatasetDefinition(
        name="e",
        label_column="label",
        id_column="id",
        features=[Feature(name="img", role="embedding", file="vectors.npz")],
        folds=3,
    )
    frame = attach(batch, definition, tmp_path)
    np.testing.assert_array_equal(frame[[f"img_{i}" for i in range(8)]].to_numpy(), vectors)
    _assert_finds_the_flips(_audit(frame, definition), flipped)


def test_embedding_file_missing_an_id_names_it(tmp_path) -> None:
    np.savez(tmp_path / "v.npz", ids=np.array(["a", "b"]), embeddings=np.ones((2, 3)))
    definition = DatasetDefinition(
        name="e", label_column="label", id_column="id", features=[Feature(name="v", role="embedding", file="v.npz")]
    )
    with pytest.raises(InputDataError, match=r"1 id\(s\) of the batch have no vector.*\['c'\]"):
        attach(pd.DataFrame({"id": ["a", "c"], "label": ["x", "y"]}), definition, tmp_path)


def test_an_embedding_feature_needs_columns_or_a_file() -> None:
    with pytest.raises(ValueError, match="needs either columns"):
        Feature(name="v", role="embedding")
    with pytest.raises(ValueError, match="only used with role 'embedding'"):
        Feature(name="v", role="numeric", columns=["a"])
