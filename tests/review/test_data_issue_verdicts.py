"""Reviewers confirm data-issue findings (issue 14): the review sheet's ``issue_type`` rows, their import into
``data_issue_verdicts`` and the precision per issue type, on a real audit (every stage before the report, through
the label kind) of the bundled week-2 penguins batch in a real DuckDB file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from labelaudit.flows.cli import app
from typer.testing import CliRunner

from labelaudit.inputs.definition import load_dataset
from labelaudit.kinds import kind_for
from labelaudit.pipeline.data_issues import find_data_issues
from labelaudit.pipeline.gate import judge_batch
from labelaudit.pipeline.ingest import ingest
from labelaudit.review.feedback import import_verdicts, review_sheet, write_review_sheet
from labelaudit.review.verdicts import ReviewImportError
from labelaudit.store import AuditStore
from tests.conftest import REPO

WEEK2 = REPO / "data" / "penguins" / "penguins_week2.csv"
HOSTILE = '=HYPERLINK("http://evil.example","x")'


def _audit(store: AuditStore, expectations: Path, source: Path) -> str:
    """The audit flow's stages in order, without Prefect: ingest, fit, score, data issues, gate, finish."""
    bundle = load_dataset(expectations, "penguins")
    kind = kind_for(bundle.definition.label_type)
    run_id = store.begin_run(dataset="penguins", source=str(source), params={})
    batch = ingest(store, run_id, str(source), bundle)
    inputs = kind.prepare_fit(store, run_id, batch, bundle, precomputed=False)
    folds = [kind.fit_fold(inputs, fold, batch.frame, bundle.definition) for fold in range(inputs.plan.n_folds)]
    probs, _ = kind.store_fit(store, run_id, inputs, folds)
    scored = kind.score(store, run_id, batch, inputs, probs, bundle, oof_log_loss=None)
    find_data_issues(store, run_id, batch, bundle, kind.issue_labels(inputs), probs)
    gate = judge_batch(store, run_id, scored, bundle)
    store.finish_run(run_id, status="completed" if gate.passed else "rejected", verdict=gate.verdict)
    return run_id


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[AuditStore, str, Path]:
    """Week 2 with one exact duplicate's id made hostile (ids are not hashed: it stays a duplicate)."""
    root = tmp_path_factory.mktemp("issue-review")
    shutil.copytree(REPO / "expectations" / "penguins", root / "expectations" / "penguins")
    frame = pd.read_csv(WEEK2, dtype={"penguin_id": str})
    frame.loc[frame["penguin_id"] == "W0111", "penguin_id"] = HOSTILE
    source = root / "week2.csv"
    frame.to_csv(source, index=False)
    store = AuditStore(root / "audit.duckdb")
    return store, _audit(store, root / "expectations", source), root


def _findings(store: AuditStore, run_id: str) -> pd.DataFrame:
    return store.query(
        "SELECT row_id, issue_type, score FROM data_issues WHERE run_id = ? AND is_issue ORDER BY row_id, issue_type",
        [run_id],
    )


def _count(store: AuditStore, table: str) -> int:
    return int(store.query(f"SELECT count(*) AS n FROM {table}")["n"][0])


def _fill(sheet: pd.DataFrame) -> pd.DataFrame:
    """A reviewer: the outlier, the conflicting copy (its right label is its twin's, Gentoo) and the hostile-id
    duplicate are real; one near duplicate is called a false alarm; the first flagged label is unsure."""
    kinds = sheet["issue_type"]
    sheet.loc[kinds.eq("outlier") & sheet["id"].eq("W0117"), "verdict"] = "error"
    conflict = kinds.eq("conflicting_duplicate") & sheet["id"].eq("W0114")
    sheet.loc[conflict, ["verdict", "corrected_label"]] = ["error", "Gentoo"]
    sheet.loc[kinds.eq("exact_duplicate") & sheet["id"].eq("'" + HOSTILE), "verdict"] = "error"
    sheet.loc[kinds.eq("near_duplicate") & sheet["id"].eq("W0115"), "verdict"] = "correct"
    sheet.loc[sheet.index[kinds.eq("label")][:1], "verdict"] = "unsure"
    return sheet


def test_sheet_lists_label_rows_then_each_finding_by_issue_type(audited) -> None:
    store, run_id, _ = audited
    plain = review_sheet(store, run_id)
    sheet = review_sheet(store, run_id, data_issues=True)

    assert set(plain["issue_type"]) == {"label"} and list(plain.columns[:5]) == list(sheet.columns[:5])
    assert list(sheet.columns[-2:]) == ["verdict", "corrected_label"]
    labels = sheet[sheet["issue_type"] == "label"]
    assert labels.index.tolist() == list(range(len(plain))) and labels["id"].tolist() == plain["id"].tolist()
    findings = _findings(store, run_id)
    listed = sheet.loc[sheet["issue_type"] != "label", ["id", "issue_type"]]
    assert sorted(map(tuple, listed.to_numpy())) == sorted(map(tuple, findings[["row_id", "issue_type"]].to_numpy()))
    by_type = listed.groupby("issue_type")["id"].apply(set)
    assert "W0117" in by_type["outlier"] and {"W0009", "W0114"} == by_type["conflicting_duplicate"]
    assert HOSTILE in by_type["exact_duplicate"]
    # a row that is several findings is listed once per issue type
    assert set(listed.loc[listed["id"] == "W0114", "issue_type"]) >= {"conflicting_duplicate", "exact_duplicate"}
    detail = json.loads(
        sheet.loc[(sheet["id"] == "W0117") & (sheet["issue_type"] == "outlier"), "issue_detail"].iloc[0]
    )
    assert isinstance(detail, dict)


def test_sheet_round_trips_with_a_hostile_id_kept_as_text(audited, tmp_path: Path) -> None:
    store, run_id, _ = audited
    path, rows = write_review_sheet(store, run_id, tmp_path / "review.csv", data_issues=True)
    raw = path.read_bytes()
    assert b",=HYPERLINK" not in raw and b"\n=HYPERLINK" not in raw, "a formula reached the sheet"
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False)  # as a spreadsheet keeps it: quotes and all
    assert len(sheet) == rows and ("'" + HOSTILE) in set(sheet["id"])
    _fill(sheet).to_csv(path, index=False, lineterminator="\r\n")
    labels_before, issues_before = _count(store, "review_verdicts"), _count(store, "data_issue_verdicts")

    result = import_verdicts(store, path, run_id=run_id, reviewer="alice")

    assert not result.already_imported and result.stored == 5 and result.counts["unsure"] == 1
    assert result.issue_counts == {"conflicting_duplicate": 1, "exact_duplicate": 1, "near_duplicate": 1, "outlier": 1}
    stored = store.query(
        "SELECT row_id, issue_type, verdict, corrected_label, score, reviewer FROM data_issue_verdicts "
        "WHERE import_id = ? ORDER BY issue_type",
        [result.import_id],
    )
    assert stored["row_id"].tolist() == ["W0114", HOSTILE, "W0115", "W0117"]  # the hostile id restored exactly
    assert stored["verdict"].tolist() == ["error", "error", "correct", "error"]
    assert stored["corrected_label"].tolist()[0] == "Gentoo" and set(stored["reviewer"]) == {"alice"}
    scores = _findings(store, run_id).set_index(["row_id", "issue_type"])["score"]
    assert stored.set_index(["row_id", "issue_type"])["score"].equals(
        scores.reindex(stored.set_index(["row_id", "issue_type"]).index)
    )
    assert _count(store, "review_verdicts") == labels_before + 1

    again = import_verdicts(store, path, run_id=run_id, reviewer="alice")

    assert again.already_imported and again.stored == 0
    assert _count(store, "data_issue_verdicts") == issues_before + 4
    assert _count(store, "review_verdicts") == labels_before + 1

    stats = CliRunner().invoke(app, ["review", "stats", "--dataset", "penguins", "--json", "--db", str(store.path)])
    assert stats.exit_code == 0, stats.stderr
    precision = {t["issue_type"]: t for t in json.loads(stats.stdout)["issue_types"]}
    assert precision["outlier"]["precision"] == 1.0 and precision["near_duplicate"]["precision"] == 0.0
    assert precision["conflicting_duplicate"]["n_error"] == 1


def test_a_sheet_without_issue_type_imports_as_labels(audited, tmp_path: Path) -> None:
    store, run_id, _ = audited
    sheet = review_sheet(store, run_id).drop(columns="issue_type")
    sheet.loc[sheet.index[0], "verdict"] = "correct"
    path = tmp_path / "old-style.csv"
    sheet.to_csv(path, index=False)
    issues_before = _count(store, "data_issue_verdicts")

    result = import_verdicts(store, path, run_id=run_id)

    assert result.stored == 1 and result.counts["correct"] == 1 and result.issue_counts == {}
    assert _count(store, "data_issue_verdicts") == issues_before


def test_bad_issue_rows_are_refused_naming_sheet_rows_and_store_nothing(audited, tmp_path: Path) -> None:
    store, run_id, _ = audited
    sheet = review_sheet(store, run_id, data_issues=True)
    first_issue = int(sheet.index[sheet["issue_type"] != "label"][0])
    sheet.loc[first_issue, ["issue_type", "verdict"]] = ["typo_duplicate", "error"]
    outlier = sheet.index[sheet["issue_type"] == "outlier"][0]
    sheet.loc[outlier, ["id", "verdict"]] = ["W0001", "error"]  # W0001 is not an outlier
    sheet.loc[sheet.index[0], "verdict"] = "maybe"  # a label row
    path = tmp_path / "bad.csv"
    sheet.to_csv(path, index=False)
    before = (_count(store, "review_verdicts"), _count(store, "data_issue_verdicts"))

    with pytest.raises(ReviewImportError) as refused:
        import_verdicts(store, path, run_id=run_id)

    message = str(refused.value)
    assert "nothing stored" in message and str(path) in message
    assert f"unknown issue_type (not among the run's flagged findings) (rows {first_issue + 1})" in message
    assert f"not among the findings sent for review) (rows {outlier + 1})" in message
    assert "verdict not one of error, correct, unsure (rows 1)" in message
    assert (_count(store, "review_verdicts"), _count(store, "data_issue_verdicts")) == before
