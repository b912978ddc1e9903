"""Probability tables made in the test, and ``labelaudit score`` run in-process on them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import Project
from tests.flow.helpers import run_cli

CLASSES = ["cat", "dog", "bird", "fish"]


def define(project: Project, name: str, *, quality: dict[str, Any] | None = None) -> None:
    """A dataset definition whose classes name the probability columns (id ``item``, label ``given``)."""
    folder = project.expectations / name
    folder.mkdir(parents=True, exist_ok=True)
    definition = {"name": name, "label_column": "given", "id_column": "item", "classes": CLASSES}
    (folder / "dataset.json").write_text(json.dumps(definition))
    (folder / "suite.json").write_text(json.dumps({"name": name, "expectations": []}))
    (folder / "quality.json").write_text(json.dumps(quality or {"max_label_error_rate": 0.5}))


def make_table(n: int, *, seed: int = 0, noise: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, given labels as indices, float32 probabilities): a fair model and ``noise`` of labels flipped."""
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), true] += 2.0
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    given = true.copy()
    flip = rng.random(n) < noise
    given[flip] = (true[flip] + rng.integers(1, k, int(flip.sum()))) % k
    ids = np.array([f"item-{i:07d}" for i in range(n)])
    return ids, given, probs.astype(np.float32)


def write_table(path: Path, ids: np.ndarray, given: Any, probs: np.ndarray, *, drop: str | None = None) -> Path:
    labels = np.asarray(CLASSES, dtype=object)[given] if np.asarray(given).dtype.kind in "iu" else given
    columns = {"item": pa.array(ids), "given": pa.array(labels, type=pa.string())}
    columns.update({c: probs[:, j] for j, c in enumerate(CLASSES) if c != drop})
    pq.write_table(pa.table(columns), path, row_group_size=64_000)
    return path


def score_cli(project: Project, path: Path, dataset: str, *extra: str) -> tuple[int, dict[str, Any] | None, str]:
    result = run_cli(project, "score", str(path), "--dataset", dataset, "--json", *project.options(), *extra)
    payload = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result.exit_code, payload, result.stderr
