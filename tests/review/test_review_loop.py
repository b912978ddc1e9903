"""The review loop through the real CLI and DuckDB: flagged rows out, verdicts in, and the next audit changed.

Verdicts come from the truth of the noisy sample (``penguins_noisy.injected.csv``): a flagged row whose label
was injected is an ``error`` (corrected to its original label), any other flagged row ``correct``; except that
the reviewer calls the ``DOUBTED`` least suspicious flags ``correct`` (the labels stay as they are) and cannot
tell for the very last one (``unsure``). So the flags are precise up to a score and not beyond it, which is
what the learned cut-off must pick up.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import Project
from tests.flow.helpers import query, write_json
from tests.review.helpers import audit, cli, count, read_sheet, stage_message

pytestmark = pytest.mark.slow

CLASSES = {"Adelie", "Chinstrap", "Gentoo"}
#: Least suspicious flags the simulated reviewer calls false alarms.
DOUBTED = 12


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, str]:
    project = Project(tmp_path_factory.mktemp("review"))
    # the scenario (which flags the reviewer doubts, what the cut-off then drops) is built on one model's
    # probabilities; pinned, so that auto's choice (tests/models) cannot move it
    definition = project.expectations / "penguins" / "dataset.json"
    write_json(definition, {**json.loads(definition.read_text()), "model": {"classifier": "logistic_regression"}})
    code, summary, stderr = audit(project, project.data / "penguins" / "penguins_noisy.csv")
    assert code == 1 and summary is not None, stderr
    return project, summary["run_id"]


def _filled_sheet(project: Project, run_id: str, name: str = "review.csv") -> tuple[Path, pd.DataFrame]:
    path = project.root / name
    result = cli(project, "review", "export", run_id, "--output", str(path))
    assert result.exit_code == 0, result.stderr
    sheet = read_sheet(path)
    injected = pd.read_csv(project.data / "penguins" / "penguins_noisy.injected.csv", dtype=str)
    original = injected.set_index("penguin_id")["original_label"]
    is_error = sheet["id"].isin(original.index)
    sheet["verdict"] = is_error.map({True: "error", False: "correct"})
    sheet["corrected_label"] = sheet["id"].map(original).fillna("")
    doubted = sheet.index[-DOUBTED:]  # the sheet is most suspicious first
    sheet.loc[doubted, "verdict"], sheet.loc[doubted, "corrected_label"] = "correct", ""
    sheet.loc[sheet.index[-1], "verdict"] = "unsure"
    sheet.loc[sheet.index[~sheet["verdict"].eq("error")], "corrected_label"] = ""
    filled = project.root / f"filled-{name}"
    sheet.to_csv(filled, index=False)
    return filled, sheet


@pytest.fixture(scope="module")
def reviewed(first_run: tuple[Project, str]) -> tuple[Project, str, Path, pd.DataFrame]:
    project, run_id = first_run
    filled, sheet = _filled_sheet(project, run_id)
    result = cli(project, "review", "import", str(filled), "--run", run_id, "--reviewer", "alice")
    assert result.exit_code == 0, result.stderr
    return project, run_id, filled, sheet


def test_review_export_lists_the_flagged_rows_with_empty_verdicts(first_run: tuple[Project, str]) -> None:
    project, run_id = first_run
    path = project.root / "sheet.csv"
    result = cli(project, "review", "export", run_id, "--output", str(path))
    assert result.exit_code == 0, result.stderr
    sheet = read_sheet(path)
    flagged = query(project.database, "SELECT * FROM flagged_rows WHERE run_id = ? ORDER BY issue_rank", [run_id])
    assert sheet["id"].tolist() == flagged["row_id"].tolist()
    assert list(sheet.columns[:5]) == ["id", "given", "suggested", "score", "suggested_prob"]
    assert list(sheet.columns[-2:]) == ["verdict", "corrected_label"]
    assert {"island", "bill_length_mm", "species"} <= set(sheet.columns)
    assert (sheet["verdict"] == "").all() and (sheet["corrected_label"] == "").all()
    assert (sheet["given"] == sheet["species"]).all()


def test_import_stores_every_verdict_once(reviewed: tuple[Project, str, Path, pd.DataFrame]) -> None:
    project, run_id, filled, sheet = reviewed
    stored = query(project.database, "SELECT * FROM review_verdicts WHERE run_id = ? ORDER BY row_id", [run_id])
    assert len(stored) == len(sheet)
    assert set(stored["reviewer"]) == {"alice"} and set(stored["dataset"]) == {"penguins"}
    assert stored["import_id"].nunique() == 1
    counts = stored["verdict"].value_counts().to_dict()
    assert counts["unsure"] == 1 and counts["error"] > counts.get("correct", 0)
    errors = stored[stored["verdict"] == "error"]
    assert (
        errors["corrected_label"].isin(CLASSES).all()
        and stored.loc[stored["verdict"] != "error", "corrected_label"].isna().all()
    )
    scores = query(project.database, "SELECT row_id, label_quality FROM scores WHERE run_id = ?", [run_id])
    assert stored.set_index("row_id")["score"].equals(
        scores.set_index("row_id")["label_quality"].reindex(stored["row_id"])
    )

    again = cli(project, "review", "import", str(filled), "--run", run_id)
    assert again.exit_code == 0 and "already imported" in again.stdout
    assert count(project, "review_verdicts") == len(sheet)


def _broken(sheet: pd.DataFrame, kind: str) -> tuple[pd.DataFrame, str]:
    bad = sheet.copy()
    if kind == "unknown ids":
        bad.loc[2, "id"] = "P9999"
        return bad, "unknown ids"
    if kind == "unknown labels":
        bad.loc[1, "verdict"], bad.loc[1, "corrected_label"] = "error", "Emperor"
        return bad, "unknown labels in corrected_label (rows 2)"
    if kind == "duplicates":
        return pd.concat([bad, bad.iloc[[0]]], ignore_index=True), "duplicate ids"
    bad.loc[3, "verdict"] = "maybe"
    return bad, "verdict not one of error, correct, unsure (rows 4)"


@pytest.mark.parametrize("kind", ["unknown ids", "unknown labels", "duplicates", "bad verdict"])
def test_bad_verdict_files_are_refused_and_store_nothing(first_run: tuple[Project, str], kind: str) -> None:
    project, run_id = first_run
    _, sheet = _filled_sheet(project, run_id, f"{kind.replace(' ', '-')}.csv")
    bad, expected = _broken(sheet, kind)
    path = project.root / f"bad-{kind.replace(' ', '-')}.csv"
    bad.to_csv(path, index=False)
    before = count(project, "review_verdicts")

    result = cli(project, "review", "import", str(path), "--run", run_id)

    assert result.exit_code == 2
    assert "nothing stored" in result.stderr and expected in result.stderr, result.stderr
    assert count(project, "review_verdicts") == before


def test_export_strategies_write_the_right_rows_and_are_recorded(first_run: tuple[Project, str]) -> None:
    project, run_id = first_run
    scores = query(project.database, "SELECT * FROM scores WHERE run_id = ? ORDER BY row_idx", [run_id])
    flagged = scores[scores["is_issue"]]

    removed = project.root / "removed.parquet"
    assert cli(project, "export", run_id, "--strategy", "remove", "--output", str(removed)).exit_code == 0
    kept = pd.read_parquet(removed)
    assert len(kept) == 344 - len(flagged) and not set(kept["penguin_id"]) & set(flagged["row_id"])
    assert kept["penguin_id"].tolist() == scores.loc[~scores["is_issue"], "row_id"].tolist()  # order kept

    relabelled = project.root / "relabelled.csv"
    result = cli(project, "export", run_id, "--strategy", "relabel", "--threshold", "0.9", "--output", str(relabelled))
    assert result.exit_code == 0, result.stderr
    out = pd.read_csv(relabelled, dtype={"penguin_id": str, "species": str}).set_index("penguin_id")
    sure = flagged[flagged["suggested_prob"] >= 0.9]
    assert len(out) == 344 and 0 < len(sure) < len(flagged)
    assert (out.loc[sure["row_id"], "species"].to_numpy() == sure["suggested_label"].to_numpy()).all()
    unsure = scores[~scores["row_id"].isin(sure["row_id"])]
    assert (out.loc[unsure["row_id"], "species"].to_numpy() == unsure["given_label"].to_numpy()).all()

    refused = cli(project, "export", run_id, "--strategy", "consensus", "--output", str(project.root / "c.csv"))
    assert refused.exit_code == 2 and "--annotations" in refused.stderr

    recorded = query(project.database, "SELECT * FROM exports WHERE run_id = ? ORDER BY created_at", [run_id])
    assert recorded["strategy"].tolist() == ["remove", "relabel"]
    assert recorded["threshold"].isna().tolist() == [True, False] and recorded["threshold"][1] == 0.9
    assert recorded["rows_out"].tolist() == [344 - len(flagged), 344]
    assert recorded["labels_changed"][1] == len(sure)


def test_learned_cutoff_and_confirmed_corrections_change_the_next_audit(
    reviewed: tuple[Project, str, Path, pd.DataFrame],
) -> None:
    project, _, _, sheet = reviewed
    stats = cli(project, "review", "stats", "--dataset", "penguins", "--json")
    assert stats.exit_code == 0, stats.stderr
    payload = json.loads(stats.stdout)
    cutoff = payload["cutoff"]["cutoff"]
    assert payload["n_verdicts"] == len(sheet) and cutoff is not None and payload["cutoff"]["precision"] >= 0.9
    decided = [b for b in payload["bands"] if b["n_error"] + b["n_correct"]]
    assert decided and all(0 <= b["precision"] <= 1 for b in decided)

    quality = project.expectations / "penguins" / "quality.json"
    write_json(quality, {**json.loads(quality.read_text()), "flag_cutoff_from_reviews": {"target_precision": 0.9}})
    _, summary, stderr = audit(project, project.data / "penguins" / "penguins_noisy.csv")
    assert summary is not None and summary["status"] in ("completed", "rejected"), stderr

    errors = sheet[sheet["verdict"] == "error"]
    assert f"{len(errors)} confirmed review corrections applied" in stage_message(summary, "labels")
    second = query(project.database, "SELECT * FROM scores WHERE run_id = ?", [summary["run_id"]]).set_index("row_id")
    assert (second.loc[errors["id"], "given_label"].to_numpy() == errors["corrected_label"].to_numpy()).all()
    assert f"label quality <= {cutoff:.4f}" in stage_message(summary, "score")
    flagged = second[second["is_issue"]]
    assert (flagged["label_quality"] <= cutoff + 1e-12).all()
    # confident learning alone flags more (rows the reviewer called false alarms, above the cut-off)
    by_cl = int(re.search(r"confident learning flagged (\d+)", stage_message(summary, "score")).group(1))
    assert by_cl > len(flagged) and len(flagged) == summary["flagged_rows"]
    # the stored verdicts are untouched by the new run
    assert count(project, "review_verdicts") == len(sheet)
