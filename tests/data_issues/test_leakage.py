"""Leakage: two batches sharing rows, the earlier one's hashes kept in a real DuckDB file (``row_hashes``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelaudit.data_issues.duplicates import FINDING_COLUMNS
from labelaudit.data_issues.hashing import feature_key, row_hashes
from labelaudit.data_issues.leakage import LEAKED_DUPLICATE, find_leakage
from labelaudit.inputs.definition import DatasetDefinition
from labelaudit.store import AuditStore, StageWrite
from labelaudit.store.database import utcnow

DEFINITION = DatasetDefinition(
    name="d",
    label_column="y",
    id_column="id",
    features=[{"name": "x", "role": "numeric"}, {"name": "t", "role": "text"}],
)


def _batch(seed: int, n: int, prefix: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": [f"{prefix}{i}" for i in range(n)],
            "x": rng.integers(0, 10**9, n),
            "t": rng.choice(["a cat", "a dog", "two birds"], n),
            "y": rng.choice(["p", "q"], n),
        }
    )


def _store_hashes(store: AuditStore, batch: pd.DataFrame) -> str:
    run = store.begin_run(dataset="d", source="batch.csv", params={})
    table = pd.DataFrame(
        {
            "row_idx": np.arange(len(batch), dtype=np.int64),
            "row_id": batch["id"],
            "hash": row_hashes(batch, DEFINITION).to_numpy(),
            "label": batch["y"],
            "feature_key": feature_key(DEFINITION),
        }
    )
    store.write_stage(run, "data_issues", StageWrite({"row_hashes": table}, utcnow(), rows=len(table)))
    return run


def test_two_batches_sharing_rows_report_leakage(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    last_week = _batch(0, 2000, "old")
    earlier_run = _store_hashes(store, last_week)
    shared = last_week.sample(150, random_state=1).assign(id=lambda f: "new-" + f["id"], x=lambda f: f["x"] * 1.0)
    shared.loc[shared.index[:20], "y"] = shared["y"].iloc[:20].map({"p": "q", "q": "p"})
    this_week = pd.concat([_batch(1, 1000, "new"), shared], ignore_index=True)
    this_run = _store_hashes(store, this_week)  # its own hashes are stored too: a re-run must not leak into itself

    history = store.query("SELECT run_id, row_id, hash, label FROM row_hashes")
    found = find_leakage(
        row_hashes(this_week, DEFINITION), this_week["id"], history, run_id=this_run, labels=this_week["y"]
    )

    assert list(found.rows.columns) == list(FINDING_COLUMNS)
    assert set(found.rows["row_id"]) == set(shared["id"])  # precision and recall 1.0
    assert (found.rows["issue_type"] == LEAKED_DUPLICATE).all() and found.rows["is_issue"].all()
    assert found.leaked_rate == pytest.approx(150 / 1150)
    assert found.by_run.to_dict("records") == [{"run_id": earlier_run, "rows": 150}]
    details = [json.loads(d) for d in found.rows["detail"]]
    assert {d["earlier_run_id"] for d in details} == {earlier_run}
    relabelled = {d["earlier_row_id"] for d in details if "earlier_label" in d}
    assert relabelled == set(shared["id"].iloc[:20].str.removeprefix("new-"))


def test_the_earliest_copy_is_named_and_the_others_counted() -> None:
    history = pd.DataFrame(
        {"run_id": ["r1", "r2", "r2", "r3"], "row_id": ["a", "b", "c", "d"], "hash": np.array([5, 5, 6, 7], "u8")}
    )

    found = find_leakage(np.array([5, 6, 8], dtype=np.uint64), ["x", "y", "z"], history, run_id="r9")

    details = dict(zip(found.rows["row_id"], map(json.loads, found.rows["detail"]), strict=True))
    assert details == {
        "x": {"earlier_run_id": "r1", "earlier_row_id": "a", "more_earlier_rows": 1},
        "y": {"earlier_run_id": "r2", "earlier_row_id": "c"},
    }
    assert found.by_run.to_dict("records") == [{"run_id": "r1", "rows": 1}, {"run_id": "r2", "rows": 2}]


def test_no_history_means_no_leakage_and_bad_history_is_named() -> None:
    empty = pd.DataFrame({"run_id": [], "row_id": [], "hash": np.array([], "u8")})
    assert find_leakage(np.array([1], dtype=np.uint64), ["a"], empty, run_id="r").leaked_rate == 0.0
    with pytest.raises(ValueError, match=r"lacks columns \['hash'\]"):
        find_leakage(np.array([1], dtype=np.uint64), ["a"], pd.DataFrame({"run_id": [], "row_id": []}), run_id="r")
