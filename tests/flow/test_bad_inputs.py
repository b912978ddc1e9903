"""Bad input gives a clear error naming the problem (file, column, rows), exit status 2, and loses nothing stored."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO, Project
from tests.flow.helpers import audit_json, query, run_cli, stored_counts

pytestmark = pytest.mark.slow

RUN_TABLES = ["batches", "ingested_rows", "validation_results", "oof_probs", "scores", "noise_matrix", "gate_results"]


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, str, dict[str, int]]:
    """A project that already holds one good run, whose rows every bad input must leave intact."""
    project = Project(tmp_path_factory.mktemp("bad-inputs"))
    code, summary, stderr = audit_json(project, project.data / "penguins" / "penguins_batch.csv")
    assert code == 0, stderr
    return project, summary["run_id"], _counts(project, summary["run_id"])


def _counts(project: Project, run_id: str) -> dict[str, int]:
    return {t: int(query(project.database, f"SELECT count(*) AS n FROM {t} WHERE run_id = ?", [run_id])["n"][0])
            for t in RUN_TABLES}  # fmt: skip


def _sample() -> pd.DataFrame:
    return pd.read_csv(REPO / "data" / "penguins" / "penguins_batch.csv", dtype={"penguin_id": "str", "species": "str"})


def _write(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def _missing_label(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["species"])


def _unknown_label(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[[4, 9], "species"] = "Emperor"
    return frame


def _duplicate_ids(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[7, "penguin_id"] = frame.loc[6, "penguin_id"]
    return frame


def _nan_required_feature(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[[3, 30], "island"] = np.nan
    return frame


def _single_class(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(species="Adelie")


def _tiny_class(frame: pd.DataFrame) -> pd.DataFrame:
    chinstrap = frame.index[frame["species"] == "Chinstrap"]
    return frame.drop(index=chinstrap[3:])  # 3 Chinstrap rows, 5 folds


CASES: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], list[str]]] = {
    "missing label column": (_missing_label, ["species", "missing"]),
    "unknown label value": (_unknown_label, ["species", "Emperor", "rows 5, 10"]),
    "duplicate ids": (_duplicate_ids, ["penguin_id", "unique", "rows 7, 8"]),
    "NaN in a required feature": (_nan_required_feature, ["island", "null", "rows 4, 31"]),
    "a single class": (_single_class, ["single class", "Adelie"]),
    "a class smaller than the folds": (_tiny_class, ["Chinstrap", "has 3", "5 folds"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_batch_is_refused_with_a_clear_error(audited, tmp_path: Path, case: str) -> None:
    project, good_run, before = audited
    make, expected = CASES[case]
    path = _write(tmp_path, "batch.csv", make(_sample()))

    code, summary, stderr = audit_json(project, path)

    assert code == 2, (case, stderr)
    message = " ".join(stderr.split())
    for fragment in expected:
        assert fragment in message, (case, fragment, message)
    # refused by the CLI's early checks (no run begun), or by the flow (the run stored as failed)
    assert summary is None or summary["status"] == "failed"
    assert _counts(project, good_run) == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, ["does not exist"]),
        (b"", ["empty"]),
        (b"penguin_id,species,island\nP1,Adelie,Biscoe\nP2,Adelie,Dream,extra,fields\n", ["malformed CSV", "line 3"]),
        (b"penguin_id,species,island\n", ["no rows"]),
    ],
    ids=["missing file", "empty file", "malformed CSV", "header only"],
)
def test_unreadable_file_is_refused_naming_the_file(audited, tmp_path: Path, content: bytes | None,
                                                    expected: list[str]) -> None:  # fmt: skip
    project, good_run, before = audited
    path = tmp_path / "batch.csv"
    if content is not None:
        path.write_bytes(content)

    code, _, stderr = audit_json(project, path)

    message = " ".join(stderr.split())
    assert code == 2 and str(path) in message, message
    for fragment in expected:
        assert fragment in message, (fragment, message)
    assert _counts(project, good_run) == before


def _probabilities(frame: pd.DataFrame, tmp_path: Path, mutate: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=len(frame))
    table = pd.DataFrame(probs, columns=["Adelie", "Chinstrap", "Gentoo"])
    table.insert(0, "penguin_id", frame["penguin_id"])
    path = tmp_path / "probs.csv"
    mutate(table).to_csv(path, index=False)
    return path


def _not_summing(table: pd.DataFrame) -> pd.DataFrame:
    table.loc[[2, 5], "Adelie"] += 0.5
    return table


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [(_not_summing, ["sum", "3", "6"]), (lambda t: t.drop(columns=["Gentoo"]), ["Gentoo"])],
    ids=["rows not summing to 1", "a class column missing"],
)
def test_bad_precomputed_probabilities_are_refused(audited, tmp_path: Path, mutate, expected: list[str]) -> None:
    project, good_run, before = audited
    probs = _probabilities(_sample(), tmp_path, mutate)

    code, _, stderr = audit_json(
        project, project.data / "penguins" / "penguins_batch.csv", "--probabilities", str(probs)
    )

    message = " ".join(stderr.split())
    assert code == 2, message
    for fragment in expected:
        assert fragment in message, (fragment, message)
    assert _counts(project, good_run) == before


def test_precomputed_probabilities_skip_fitting(audited, tmp_path: Path) -> None:
    project, _, _ = audited
    probs = _probabilities(_sample(), tmp_path, lambda t: t)

    code, summary, stderr = audit_json(
        project, project.data / "penguins" / "penguins_batch.csv", "--probabilities", str(probs)
    )

    assert code in (0, 1), stderr
    folds = query(project.database, "SELECT fold FROM oof_probs WHERE run_id = ?", [summary["run_id"]])
    assert len(folds) == 344 and folds["fold"].isna().all()
    stage = query(
        project.database, "SELECT message FROM run_stages WHERE run_id = ? AND stage = 'fit'", [summary["run_id"]]
    )
    assert "precomputed" in stage["message"][0]
    assert json.dumps(summary)  # serialisable


# -- issue 16: inputs as people really have them, and sources that try to do harm --------------------------------


def test_semicolon_csv_is_audited_and_the_delimiter_said(audited, tmp_path: Path) -> None:
    project, _, _ = audited
    path = tmp_path / "batch.csv"
    _sample().to_csv(path, index=False, sep=";")

    code, summary, stderr = audit_json(project, path)

    assert code in (0, 1), stderr
    assert "delimiter ';' (detected)" in stderr
    batch = query(project.database, "SELECT format, rows FROM batches WHERE run_id = ?", [summary["run_id"]])
    assert batch.to_dict("records") == [{"format": "csv, delimiter ';'", "rows": 344}]


def test_latin1_file_is_refused_naming_the_line(audited, tmp_path: Path) -> None:
    project, good_run, before = audited
    frame = _sample()
    frame.loc[5, "island"] = "Drém"
    path = tmp_path / "batch.csv"
    frame.to_csv(path, index=False, encoding="latin-1")

    code, _, stderr = audit_json(project, path)

    message = " ".join(stderr.split())
    assert code == 2 and str(path) in message and "line 7 (row 6" in message and "--encoding" in message, message
    assert _counts(project, good_run) == before


def test_infinite_feature_is_refused_naming_column_and_rows(audited, tmp_path: Path) -> None:
    project, good_run, before = audited
    frame = _sample()
    frame.loc[[2, 11], "bill_depth_mm"] = np.inf
    path = _write(tmp_path, "batch.csv", frame)

    code, summary, stderr = audit_json(project, path)

    message = " ".join(stderr.split())
    assert code == 2, message
    assert "column 'bill_depth_mm', rows 3, 12: holds infinite values" in message
    assert "contains infinity" not in message and summary["status"] == "failed"
    assert _counts(project, good_run) == before


def _variant(project: Project, name: str, change: Callable[[dict, dict], None]) -> Path:
    """A copy of the penguins definition named ``name``, with ``change(dataset, suite)`` applied."""
    folder = project.expectations / name
    if not folder.exists():
        shutil.copytree(project.expectations / "penguins", folder)
    dataset = json.loads((folder / "dataset.json").read_text())
    suite = json.loads((folder / "suite.json").read_text())
    change(dataset, suite)
    (folder / "dataset.json").write_text(json.dumps({**dataset, "name": name}))
    (folder / "suite.json").write_text(json.dumps(suite))
    return folder


def test_unknown_expectation_in_the_suite_is_refused_naming_file_and_type(audited) -> None:
    project, good_run, before = audited
    folder = _variant(
        project,
        "purple",
        lambda _, suite: suite["expectations"].append(
            {"type": "expect_column_to_be_purple", "kwargs": {"column": "species"}}
        ),
    )
    source = project.data / "penguins" / "penguins_batch.csv"

    result = run_cli(project, "audit", str(source), "--dataset", "purple", "--json", "--no-data-docs")

    message = " ".join(result.stderr.split())
    assert result.exit_code == 2, message
    assert str(folder / "suite.json") in message and "expect_column_to_be_purple" in message
    assert _counts(project, good_run) == before


def test_labels_with_spaces_pass_with_strip_normalisation(audited, tmp_path: Path) -> None:
    project, _, _ = audited
    frame = _sample()
    frame["species"] = frame["species"] + "  "
    path = _write(tmp_path, "batch.csv", frame)
    _variant(project, "stripped", lambda dataset, _: dataset.update(label_normalisation="strip"))

    result = run_cli(project, "audit", str(path), "--dataset", "stripped", "--json", "--no-data-docs")

    assert result.exit_code in (0, 1), result.stderr
    labels = query(project.database, "SELECT DISTINCT given_label FROM ingested_rows WHERE run_id = ? ORDER BY 1",
                   [json.loads(result.stdout)["run_id"]])  # fmt: skip
    assert labels["given_label"].tolist() == ["Adelie", "Chinstrap", "Gentoo"]


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH '{audit}' AS a (READ_WRITE); DROP TABLE a.runs; SELECT * FROM batch",
        "COPY batch TO '{out}'",
        "PRAGMA database_list",
    ],
    ids=["attach and drop", "copy to", "pragma"],
)
def test_hostile_duckdb_query_changes_nothing(audited, tmp_path: Path, sql: str) -> None:
    project, good_run, before = audited
    source = tmp_path / "src.duckdb"
    with duckdb.connect(str(source)) as con:
        con.execute("CREATE TABLE batch AS SELECT 'P1' AS penguin_id, 'Adelie' AS species")
    out = tmp_path / "stolen.csv"
    runs_before = stored_counts(project.database)["runs"]
    query_text = sql.format(audit=project.database, out=out).replace("&", "%26")

    code, _, stderr = audit_json(project, f"duckdb:///{source}?query={query_text}")

    message = " ".join(stderr.split())
    assert code == 2 and ("statements" in message or "only a SELECT" in message), message
    assert not out.exists()
    assert stored_counts(project.database)["runs"] >= runs_before
    assert _counts(project, good_run) == before
