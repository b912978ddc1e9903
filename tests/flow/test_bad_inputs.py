"""Bad input gives a clear error naming the problem (file, column, rows), exit status 2, and loses nothing stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO, Project
from tests.flow.helpers import audit_json, query

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
    assert summary["status"] == "failed"
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
