"""The data_issues stage on real audits (real fit, real DuckDB file): its tables and the data_issues view, known
injected issues found, leakage across two batches, drift against the accepted history, an idempotent re-run,
and what the sequence kinds skip (schema validation is not run here: the injected outliers break its ranges)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelaudit.store import AuditStore
from tests.data_issues.audit_helpers import REPO, audit, bundle_with, penguins, summary, write

pytestmark = pytest.mark.slow

FINDING_TABLES = ["row_hashes", "data_issue_findings", "data_issue_summary", "label_drift", "label_drift_classes",
                  "class_imbalance"]  # fmt: skip


def _injected(seed: int = 0) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """The clean sample plus exact duplicates, conflicting duplicates, near duplicates and outliers."""
    rng = np.random.default_rng(seed)
    base = penguins().dropna().reset_index(drop=True)
    picks = rng.permutation(len(base))
    exact = base.iloc[picks[:12]].assign(penguin_id=[f"X{i:03d}" for i in range(12)])
    flipped = base.iloc[picks[12:18]].copy()
    other = {"Adelie": "Gentoo", "Gentoo": "Chinstrap", "Chinstrap": "Adelie"}
    conflicting = flipped.assign(penguin_id=[f"C{i:03d}" for i in range(6)], species=flipped["species"].map(other))
    near = base.iloc[picks[18:26]].assign(penguin_id=[f"N{i:03d}" for i in range(8)])
    near["bill_length_mm"] = near["bill_length_mm"] + 0.01
    far = base.iloc[picks[26:31]].assign(penguin_id=[f"O{i:03d}" for i in range(5)])
    far[["bill_length_mm", "flipper_length_mm", "body_mass_g"]] *= [3.0, 2.5, 4.0]
    frame = pd.concat([base, exact, conflicting, near, far], ignore_index=True)
    truth = {
        # a conflicting copy is also an exact duplicate of the features (beyond the first row of its group)
        "exact_duplicate": set(exact["penguin_id"]) | set(conflicting["penguin_id"]),
        "conflicting_duplicate": set(conflicting["penguin_id"]) | set(base.iloc[picks[12:18]]["penguin_id"]),
        # near-duplicate groups hold the exact ones too (distance 0): every copied row and its original
        "near_duplicate": set(pd.concat([exact, conflicting, near])["penguin_id"])
        | set(base.iloc[picks[:26]]["penguin_id"]),
        "outlier": set(far["penguin_id"]),
    }
    return frame, truth


def _precision_recall(store: AuditStore, run_id: str, issue_type: str, truth: set[str]) -> tuple[float, float]:
    found = set(
        store.query(
            "SELECT row_id FROM data_issues WHERE run_id = ? AND issue_type = ? AND is_issue", [run_id, issue_type]
        )["row_id"]
    )
    hits = len(found & truth)
    return (hits / len(found) if found else 0.0), hits / len(truth)


def test_injected_issues_are_found_and_stored(tmp_path: Path) -> None:
    frame, truth = _injected()
    store = AuditStore(tmp_path / "audit.duckdb")
    run = audit(store, bundle_with(tmp_path), write(frame, tmp_path / "batch.csv"))

    view = store.query("SELECT * FROM data_issues WHERE run_id = ?", [run.run_id])
    assert list(view.columns) == ["run_id", "row_id", "issue_type", "score", "is_issue", "group_id", "detail"]
    assert view["score"].between(0, 1).all()
    for issue_type, rows in truth.items():
        precision, recall = _precision_recall(store, run.run_id, issue_type, rows)
        assert precision >= 0.9 and recall >= 0.9, (issue_type, precision, recall)
    stored = summary(store, run.run_id)
    assert stored.loc["exact_duplicate", "flagged"] == 18 and stored.loc["exact_duplicate", "groups"] == 18
    assert stored.loc["conflicting_duplicate", "flagged"] == 12 and stored.loc["conflicting_duplicate", "groups"] == 6
    assert stored.loc["exact_duplicate", "rate"] == pytest.approx(18 / len(frame))
    # a duplicate names the row kept, by its id in the batch (not its position)
    kept = store.query(
        "SELECT detail->>'kept_row_id' AS kept FROM data_issues WHERE run_id = ? AND issue_type = 'exact_duplicate' "
        "AND is_issue",
        [run.run_id],
    )["kept"]
    assert set(kept) <= set(frame["penguin_id"]) - truth["exact_duplicate"]
    hashes = store.query("SELECT * FROM row_hashes WHERE run_id = ? ORDER BY row_idx", [run.run_id])
    assert len(hashes) == len(frame) and list(hashes["row_id"]) == list(frame["penguin_id"])


def test_second_batch_sharing_rows_reports_leakage_naming_the_first_run(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    bundle = bundle_with(tmp_path, max_leaked_rate=0.05)
    first = audit(store, bundle, write(penguins(slice(0, 344, 2)), tmp_path / "first.csv"))
    assert first.gate.passed, first.gate.message()
    shared = penguins(slice(0, 344, 2)).iloc[:30].assign(penguin_id=lambda f: "S" + f["penguin_id"])
    second_batch = pd.concat([penguins(slice(1, 344, 2)), shared], ignore_index=True)
    second = audit(store, bundle, write(second_batch, tmp_path / "second.csv"))

    leaked = store.query(
        "SELECT row_id, detail FROM data_issues WHERE run_id = ? AND issue_type = 'leaked_duplicate'", [second.run_id]
    )
    assert set(leaked["row_id"]) == set(shared["penguin_id"])
    assert {json.loads(d)["earlier_run_id"] for d in leaked["detail"]} == {first.run_id}
    assert first.run_id in summary(store, second.run_id).loc["leaked_duplicate", "message"]
    assert not second.gate.passed and [c.code for c in second.gate.breaches] == ["GATE-LEAK"]


def test_shifted_class_mix_trips_drift_and_a_same_mix_batch_does_not(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    bundle = bundle_with(tmp_path, max_label_drift_psi=0.1, label_drift_alpha=0.01)
    everything = penguins().sample(frac=1.0, random_state=1).reset_index(drop=True)
    history = audit(store, bundle, write(everything.iloc[:172], tmp_path / "history.csv"))
    assert history.gate.passed and not summary(store, history.run_id).loc["label_drift", "checked"]

    same = audit(store, bundle, write(everything.iloc[172:], tmp_path / "same.csv"))
    assert same.gate.passed, same.gate.message()
    assert not same.issues.drift.is_drift and summary(store, same.run_id).loc["label_drift", "checked"]

    rest = everything.iloc[172:]
    shifted_batch = pd.concat([rest[rest["species"] != "Adelie"], rest[rest["species"] == "Adelie"].iloc[:8]])
    shifted = audit(store, bundle, write(shifted_batch, tmp_path / "shifted.csv"))
    assert shifted.issues.drift.is_drift
    assert [c.threshold for c in shifted.gate.breaches] == ["max_label_drift_psi"]
    drift = store.query("SELECT * FROM label_drift WHERE run_id = ?", [shifted.run_id]).iloc[0]
    assert drift["history_runs"] == 2 and drift["p_value"] < 0.01 and drift["gated_psi"] == drift["psi"] > 0.1


def test_rerun_replaces_the_findings_and_leaks_nothing_into_itself(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    bundle = bundle_with(tmp_path)
    source = write(_injected()[0], tmp_path / "batch.csv")
    first = audit(store, bundle, source)
    counts = {t: len(store.query(f"SELECT * FROM {t} WHERE run_id = ?", [first.run_id])) for t in FINDING_TABLES}
    again = audit(store, bundle, source, run_id=first.run_id)

    assert again.run_id == first.run_id
    assert {
        t: len(store.query(f"SELECT * FROM {t} WHERE run_id = ?", [first.run_id])) for t in FINDING_TABLES
    } == counts
    assert summary(store, first.run_id).loc["leaked_duplicate", "flagged"] == 0
    assert store.query("SELECT count(*) AS n FROM run_stages WHERE stage = 'data_issues'")["n"].iloc[0] == 1


def test_a_failed_stage_leaves_no_findings(tmp_path: Path) -> None:
    from labelaudit.kinds import kind_for
    from labelaudit.pipeline.data_issues import IssueLabels, find_data_issues
    from labelaudit.pipeline.ingest import ingest

    store = AuditStore(tmp_path / "audit.duckdb")
    bundle = bundle_with(tmp_path)
    run_id = store.begin_run(dataset="penguins", source="x", params={})
    batch = ingest(store, run_id, str(write(penguins(), tmp_path / "b.csv")), bundle)
    assert kind_for("multiclass") is not None
    wrong = IssueLabels(["Adelie"] * 3, pd.Series({"Adelie": 3}), "rows")
    with pytest.raises(ValueError, match="3 label keys for a batch of 344 rows"):
        find_data_issues(store, run_id, batch, bundle, wrong, np.full((344, 3), 1 / 3))
    assert all(store.query(f"SELECT count(*) AS n FROM {t}")["n"].iloc[0] == 0 for t in FINDING_TABLES)
    stage = store.query("SELECT status, message FROM run_stages WHERE run_id = ? AND stage = 'data_issues'", [run_id])
    assert stage["status"].iloc[0] == "failed" and store.run(run_id)["status"] == "failed"


@pytest.mark.parametrize(
    ("dataset", "source", "skipped"),
    [
        ("tags", "data/tags/tags.csv", {"uncertain"}),
        ("ner", "data/ner/ner.csv", {"near_duplicate", "outlier", "uncertain"}),
    ],
)
def test_sequence_kinds_record_what_they_skip_and_why(tmp_path: Path, dataset: str, source: str, skipped) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    run = audit(store, bundle_with(tmp_path, dataset), REPO / source)

    stored = summary(store, run.run_id)
    assert set(stored.index[~stored["checked"]]) - {"label_drift"} == skipped
    assert stored.loc[sorted(skipped), "message"].str.len().gt(20).all()
    assert stored.loc[["exact_duplicate", "conflicting_duplicate", "leaked_duplicate"], "checked"].all()
    # classes are counted in the kind's unit (tags, tokens), so there are more counts than rows
    counts = store.query("SELECT sum(count) AS n FROM class_imbalance WHERE run_id = ?", [run.run_id])["n"].iloc[0]
    assert counts == stored.loc["class_imbalance", "rows"] > stored.loc["exact_duplicate", "rows"]
