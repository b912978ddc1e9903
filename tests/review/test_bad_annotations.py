"""A bad annotations file fails the audit at the ``labels`` stage with a clear error and stores nothing of it."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from labelaudit.store import AuditStore
from tests.conftest import Project
from tests.flow.helpers import query
from tests.review.helpers import CROWD, audit, count, crowd_project

pytestmark = pytest.mark.slow

LABELER_TABLES = ["annotations", "item_consensus", "labeler_profiles", "labeler_confusions", "labeler_routing"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The crowd project, with the definition's timestamp column removed: repeated pairs are then errors."""
    project = crowd_project(tmp_path_factory.mktemp("bad-annotations"))
    path = project.expectations / CROWD / "dataset.json"
    definition = json.loads(path.read_text())
    definition["annotations"]["timestamp_column"] = None
    path.write_text(json.dumps(definition))
    AuditStore(project.database).query("SELECT 1")  # an empty database with the current schema
    return project


def _break(frame: pd.DataFrame, kind: str) -> tuple[pd.DataFrame, list[str]]:
    bad = frame.copy()
    if kind == "unknown item ids":
        bad.loc[[4, 9], "item_id"] = ["P9998", "P9999"]
        return bad, ["column 'item_id'", "rows 5, 10", "item ids not in the batch"]
    if kind == "unknown labels":
        bad.loc[2, "label"] = "Emperor"
        return bad, ["column 'label'", "row 3", "'Emperor'", "not among the classes"]
    if kind == "duplicate pairs":
        return pd.concat([bad, bad.iloc[[6]]], ignore_index=True), ["rows 7, 963", "labelled the same item twice"]
    bad.loc[5, "annotator_id"] = ""
    return bad, ["column 'annotator_id'", "row 6", "annotator id is empty"]


@pytest.mark.parametrize("kind", ["unknown item ids", "unknown labels", "duplicate pairs", "empty annotator"])
def test_bad_annotations_fail_the_run_and_store_nothing(project: Project, kind: str) -> None:
    good = pd.read_csv(project.data / "penguins_crowd" / "penguins_annotations.csv", dtype=str)
    bad, expected = _break(good, kind)
    path = project.root / f"{kind.replace(' ', '-')}.csv"
    bad.to_csv(path, index=False)
    before = {t: count(project, t) for t in LABELER_TABLES}

    code, summary, stderr = audit(
        project, project.data / "penguins" / "penguins_clean.csv", CROWD, "--annotations", str(path)
    )

    assert code == 2
    assert str(path) in stderr and all(part in stderr for part in expected), stderr
    assert summary["status"] == "failed"
    stages = {s["stage"]: s["status"] for s in summary["stages"]}
    assert stages["labels"] == "failed" and "fit" not in stages
    assert {t: count(project, t) for t in LABELER_TABLES} == before
    assert (
        query(project.database, "SELECT count(*) AS n FROM scores WHERE run_id = ?", [summary["run_id"]])["n"][0] == 0
    )
