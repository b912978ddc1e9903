"""``labelaudit score``: one big table of probabilities, scored out of core, identical to the in-memory audit."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss

from labelaudit.cl.filter import TIE_RULE, confident_learning_summary
from labelaudit.pipeline.score import score_batch
from tests.conftest import Project
from tests.flow.helpers import query
from tests.outofcore_flow.helpers import CLASSES, define, make_table, score_cli, write_table

pytestmark = pytest.mark.slow

N = 200_000


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory):
    """200k rows x 4 classes with 10 % of labels flipped, scored once through the CLI."""
    project = Project(tmp_path_factory.mktemp("outofcore"))
    define(project, "animals")
    ids, given, probs = make_table(N)
    path = write_table(project.root / "probs.parquet", ids, given, probs)
    code, summary, stderr = score_cli(project, path, "animals")
    assert code == 0, stderr
    return project, path, summary, (ids, given, probs)


def _run_table(project: Project, table: str, run_id: str, order: str = "") -> pd.DataFrame:
    return query(project.database, f"SELECT * EXCLUDE (run_id) FROM {table} WHERE run_id = ? {order}", [run_id])


def test_scores_in_duckdb_equal_the_in_memory_path(scored) -> None:
    project, _, summary, (ids, given, probs) = scored
    run_id = summary["run_id"]
    expected = confident_learning_summary(given, probs)
    got = _run_table(project, "scores", run_id, "ORDER BY row_idx")

    assert len(got) == N
    assert np.array_equal(got["is_issue"].to_numpy(), expected.issue_mask)
    assert np.array_equal(got["label_quality"].to_numpy(), expected.label_quality.astype(np.float64))
    names = np.asarray(CLASSES, dtype=object)
    assert np.array_equal(got["suggested_label"].to_numpy(dtype=object), names[expected.suggested_label])
    assert np.array_equal(got["given_label"].to_numpy(dtype=object), names[given])
    assert np.array_equal(got["row_id"].to_numpy(dtype=object), ids.astype(object))
    # every column of the in-memory score stage, ranks and suggested probabilities included
    memory = score_batch(given, probs, CLASSES, pd.Series(ids))
    for column in ("suggested_prob", "label_quality"):
        assert np.array_equal(got[column].to_numpy(), memory.scores[column].to_numpy()), column
    assert np.array_equal(
        got["issue_rank"].fillna(0).to_numpy(np.int64), memory.scores["issue_rank"].fillna(0).to_numpy(np.int64)
    )
    noise = _run_table(project, "noise_matrix", run_id, "ORDER BY given_label, true_label")
    pd.testing.assert_frame_equal(
        noise, memory.noise_matrix.sort_values(["given_label", "true_label"]).reset_index(drop=True), check_dtype=False
    )
    classes = _run_table(project, "class_metrics", run_id)
    pd.testing.assert_frame_equal(
        classes.set_index("label").loc[CLASSES].reset_index(), memory.class_metrics, check_dtype=False
    )
    metrics = _run_table(project, "run_metrics", run_id).iloc[0]
    want = memory.run_metrics.iloc[0]
    for key in ("rows", "classes", "flagged", "estimated_issues", "estimated_error_rate", "flagged_rate"):
        assert metrics[key] == pytest.approx(want[key], rel=1e-12), key
    assert metrics["oof_accuracy"] == pytest.approx(want["oof_accuracy"], rel=1e-12)
    assert metrics["oof_log_loss"] == pytest.approx(log_loss(given, probs, labels=range(4)), rel=1e-6)
    assert (metrics["method"], metrics["tie_rule"], metrics["scoring_path"]) == (
        "prune_by_noise_rate",
        TIE_RULE,
        "out-of-core",
    )
    assert summary["scoring_path"] == "out-of-core" and summary["tie_rule"] == TIE_RULE
    # the injected noise is found: most flips flagged, few false flags
    assert 0.08 < summary["estimated_error_rate"] < 0.25


def test_only_metadata_is_ingested_and_the_file_is_the_record(scored) -> None:
    project, path, summary, _ = scored
    run_id = summary["run_id"]
    batch = _run_table(project, "batches", run_id).iloc[0]
    assert batch["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (batch["rows"], batch["format"], batch["bytes"]) == (N, "parquet", path.stat().st_size)
    for table in ("ingested_rows", "oof_probs"):
        assert query(project.database, f"SELECT count(*) AS n FROM {table} WHERE run_id = ?", [run_id])["n"][0] == 0
    stages = _run_table(project, "run_stages", run_id).set_index("stage")
    assert set(stages.index) >= {"ingest", "validate", "fit", "score", "gate", "report"}
    assert (stages["status"] == "completed").all()
    assert "precomputed (out of core)" in stages.loc["fit", "message"]
    checks = _run_table(project, "validation_results", run_id)
    assert checks["success"].all()
    assert {"COL-item", "COL-given", "COL-fish", "LABEL-SET", "PROBS-SUM", "ID-UNIQUE"} <= set(checks["code"])
    classes = _run_table(project, "classes", run_id, "ORDER BY class_idx")
    assert classes["label"].tolist() == CLASSES and classes["given_count"].sum() == N


def test_report_renders_and_states_the_scoring_path(scored) -> None:
    project, _, summary, _ = scored
    report = project.reports / "animals" / summary["run_id"] / "index.html"
    assert report.exists() and summary["report"]
    html = report.read_text()
    assert 'data-metric="scoring_path">out-of-core<' in html
    assert "prune_by_noise_rate" in html and TIE_RULE in html


def test_rerun_replaces_the_runs_rows(scored) -> None:
    project, path, summary, _ = scored
    run_id = summary["run_id"]
    before = {t: len(_run_table(project, t, run_id)) for t in ("scores", "noise_matrix", "class_metrics", "batches")}
    code, again, stderr = score_cli(project, path, "animals", "--run-id", run_id)
    assert code == 0, stderr
    assert again["run_id"] == run_id
    after = {t: len(_run_table(project, t, run_id)) for t in before}
    assert after == before and after["scores"] == N
    assert query(project.database, "SELECT count(*) AS n FROM runs")["n"][0] == 1


def test_gate_rejects_with_exit_1_naming_the_threshold(project: Project) -> None:
    define(project, "strict", quality={"max_label_error_rate": 0.01, "max_class_label_error_rate": {"dog": 0.02}})
    ids, given, probs = make_table(5_000, seed=3)
    code, summary, stderr = score_cli(project, write_table(project.root / "p.parquet", ids, given, probs), "strict")
    assert code == 1, stderr
    assert summary["verdict"] == "rejected" and summary["status"] == "rejected"
    breached = {(c["threshold"], c["scope"]) for c in summary["gate"]["thresholds"] if not c["passed"]}
    assert breached == {("max_label_error_rate", "overall"), ("max_class_label_error_rate", "dog")}
    assert "max_label_error_rate" in summary["message"]
    assert (project.reports / "strict" / summary["run_id"] / "index.html").exists()


def _missing_class(ids, given, probs, folder: Path) -> Path:
    return write_table(folder / "bad.parquet", ids, given, probs, drop="fish")


def _unknown_label(ids, given, probs, folder: Path) -> Path:
    labels = np.asarray(CLASSES, dtype=object)[given]
    labels[[10, 20, 30]] = "unicorn"
    return write_table(folder / "bad.parquet", ids, labels, probs)


def _nan_probability(ids, given, probs, folder: Path) -> Path:
    probs = probs.copy()
    probs[41, 2] = np.nan
    return write_table(folder / "bad.parquet", ids, given, probs)


def _not_summing_to_1(ids, given, probs, folder: Path) -> Path:
    probs = probs.copy()
    probs[[7, 99]] *= 0.5
    return write_table(folder / "bad.parquet", ids, given, probs)


def _duplicate_ids(ids, given, probs, folder: Path) -> Path:
    ids = ids.copy()
    ids[5] = ids[4]
    return write_table(folder / "bad.parquet", ids, given, probs)


BAD = {
    "missing class column": (_missing_class, ["COL-fish", "'fish'"]),
    "unknown label": (_unknown_label, ["LABEL-SET", "unicorn", "11, 21, 31"]),
    "NaN probability": (_nan_probability, ["PROBS-FINITE", "NaN", "rows 42", "item-0000041"]),
    "rows not summing to 1": (_not_summing_to_1, ["PROBS-SUM", "sum to 1", "rows 8, 100"]),
    "duplicate ids": (_duplicate_ids, ["ID-UNIQUE", "1 repeated ids", "item-0000004"]),
}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory):
    project = Project(tmp_path_factory.mktemp("outofcore-bad"))
    define(project, "animals")
    table = make_table(2_000, seed=5)
    code, summary, stderr = score_cli(project, write_table(project.root / "good.parquet", *table), "animals")
    assert code == 0, stderr
    return project, summary["run_id"], table


SCORE_TABLES = ("scores", "noise_matrix", "class_metrics", "run_metrics", "gate_results")


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_refused_with_exit_2_and_stores_no_scores(good_run, case: str) -> None:
    project, good_id, table = good_run
    counts = {t: len(_run_table(project, t, good_id)) for t in SCORE_TABLES}
    make, expected = BAD[case]
    code, summary, stderr = score_cli(project, make(*table, project.root), "animals")
    message = " ".join(stderr.split())
    assert code == 2, (case, message)
    for text in expected:
        assert text in message, (case, text, message)
    assert summary["status"] == "failed" and summary["verdict"] is None
    for t in SCORE_TABLES:
        assert len(_run_table(project, t, summary["run_id"])) == 0, (case, t)
    stages = _run_table(project, "run_stages", summary["run_id"]).set_index("stage")
    assert stages.loc["validate", "status"] == "failed" and "score" not in stages.index
    failed = _run_table(project, "validation_results", summary["run_id"])
    assert not failed["success"].all()
    # the earlier good run is untouched
    assert {t: len(_run_table(project, t, good_id)) for t in SCORE_TABLES} == counts


def test_audit_refuses_parquet_probabilities_above_the_memory_budget(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.flow.helpers import audit_json

    batch = pd.read_csv(project.data / "penguins" / "penguins_batch.csv", dtype={"penguin_id": "str"})
    probs = pd.DataFrame({"penguin_id": batch["penguin_id"], "Adelie": 0.4, "Chinstrap": 0.3, "Gentoo": 0.3})
    path = project.root / "probs.parquet"
    probs.to_parquet(path)
    monkeypatch.setenv("LABELAUDIT_MEMORY_BUDGET", "1KiB")
    code, summary, stderr = audit_json(
        project, project.data / "penguins" / "penguins_batch.csv", "--probabilities", str(path)
    )
    message = " ".join(stderr.split())
    assert code == 2, message
    assert "too big to score in memory" in message and "labelaudit score" in message, message
    assert summary is None  # refused by the checks before any machinery: no run was started


def test_without_an_id_column_rows_are_numbered_and_columns_can_be_renamed(project: Project) -> None:
    """A definition without id_column, a file whose label column has another name (``--label-column``)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    define(project, "noid")
    definition = project.expectations / "noid" / "dataset.json"
    definition.write_text(json.dumps({**json.loads(definition.read_text()), "id_column": None}))
    _, given, probs = make_table(3_000, seed=7)
    columns = {"answer": pa.array(np.asarray(CLASSES, dtype=object)[given], type=pa.string())}
    columns.update({c: probs[:, j] for j, c in enumerate(CLASSES)})
    path = project.root / "noid.parquet"
    pq.write_table(pa.table(columns), path)

    code, summary, stderr = score_cli(project, path, "noid", "--label-column", "answer")
    assert code == 0, stderr
    got = _run_table(project, "scores", summary["run_id"], "ORDER BY row_idx")
    assert got["row_id"].tolist()[:3] == ["1", "2", "3"] and len(got) == 3_000
    expected = confident_learning_summary(given, probs)
    assert np.array_equal(got["is_issue"].to_numpy(), expected.issue_mask)
    assert not {"ID-NOTNULL", "ID-UNIQUE"} & set(_run_table(project, "validation_results", summary["run_id"])["code"])
