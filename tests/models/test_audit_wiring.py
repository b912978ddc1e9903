"""Issue 15 wired through a real audit: auto's candidates stored, the neighbour score beside CL's, the flag rule,
the fold cache key, and embeddings from a file (real CLI, Prefect, scikit-learn, DuckDB)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from labelaudit.tasks.fit import fold_cache_key

from labelaudit.inputs.definition import DatasetDefinition
from labelaudit.models.crossval import plan_folds
from labelaudit.models.neighbour_score import combine_flags
from labelaudit.models.selection import MEAN
from tests.conftest import Project
from tests.flow.helpers import audit_json, query

pytestmark = pytest.mark.slow


def _edit_definition(project: Project, **changes: object) -> None:
    path = project.expectations / "penguins" / "dataset.json"
    definition = json.loads(path.read_text())
    definition.update(changes)
    path.write_text(json.dumps(definition, indent=2))


def test_auto_audit_stores_candidates_choice_and_neighbour_score(project: Project) -> None:
    _edit_definition(project, model={"classifier": "auto"})
    code, summary, stderr = audit_json(project, project.data / "penguins" / "penguins_batch.csv")
    assert code in (0, 1), stderr
    run = summary["run_id"]
    candidates = query(project.database, "SELECT * FROM model_candidates WHERE run_id = ?", [run])
    fitted = candidates[candidates["name"] != MEAN]
    assert sorted(fitted["name"]) == ["hist_gradient_boosting", "logistic_regression", "random_forest"]
    # the mean of the best candidates is compared (a row of its own) exactly when two or more are close
    assert (MEAN in set(candidates["name"])) == (fitted["in_mean"].sum() >= 2)
    assert candidates["chosen"].sum() == 1
    chosen = candidates.loc[candidates["chosen"], "name"].item()
    assert candidates.loc[candidates["chosen"], "accuracy"].item() == candidates["accuracy"].max()  # the criterion
    assert candidates["log_loss"].notna().all() and candidates["accuracy"].between(0, 1).all()
    metrics = query(project.database, "SELECT * FROM run_metrics WHERE run_id = ?", [run]).iloc[0]
    assert metrics["model"] == chosen and metrics["flag_rule"] == "confident_learning" and metrics["neighbours"] == 10
    scores = query(project.database, "SELECT * FROM scores WHERE run_id = ? ORDER BY row_idx", [run])
    assert scores["knn_agreement"].between(0, 1).all()
    assert (scores["is_issue"] == scores["cl_issue"]).all()  # the default rule keeps CL's flags
    cl, knn = scores["cl_issue"].to_numpy(), scores["knn_disagrees"].to_numpy()
    assert metrics["flagged_by_both"] == (cl & knn).sum()
    assert metrics["flagged_by_cl_only"] == (cl & ~knn).sum()
    assert metrics["flagged_by_neighbours_only"] == (~cl & knn).sum()
    fit = query(project.database, "SELECT message FROM run_stages WHERE run_id = ? AND stage = 'fit'", [run])
    assert f"auto chose {chosen}" in fit["message"].item()


def test_flag_rule_both_flags_where_the_library_function_says(project: Project) -> None:
    _edit_definition(project, flag_rule="both")
    code, summary, stderr = audit_json(project, project.data / "penguins" / "penguins_noisy.csv")
    assert code in (0, 1), stderr
    run = summary["run_id"]
    scores = query(project.database, "SELECT * FROM scores WHERE run_id = ? ORDER BY row_idx", [run])
    expected = combine_flags(
        scores["cl_issue"].to_numpy(),
        scores["label_quality"].to_numpy(),
        scores["knn_disagrees"].to_numpy(),
        scores["knn_agreement"].to_numpy(),
        rule="both",
    )
    assert (scores["is_issue"].to_numpy() == expected.flags).all()
    assert not (scores["is_issue"] & ~scores["cl_issue"]).any()  # "both" never adds a flag CL did not raise
    assert (scores["cl_issue"] & ~scores["knn_disagrees"] == scores["cl_issue"] & ~scores["is_issue"]).all()
    metrics = query(project.database, "SELECT * FROM run_metrics WHERE run_id = ?", [run]).iloc[0]
    assert metrics["flagged"] == expected.flags.sum() and metrics["flag_rule"] == "both"
    assert metrics["model"] == query(project.database, "SELECT name FROM model_candidates WHERE chosen")["name"].item()


def test_embedding_file_role_end_to_end(project: Project) -> None:
    batch = pd.read_csv(project.data / "penguins" / "penguins_batch.csv")
    rng = np.random.default_rng(0)
    codes = pd.Categorical(batch["species"]).codes
    vectors = np.eye(3)[codes] * 3 + rng.normal(size=(len(batch), 3)) * 0.3  # separates the species
    ids = batch["penguin_id"].to_numpy(dtype=str)
    np.savez(project.expectations / "penguins" / "vectors.npz", ids=ids, embeddings=vectors)
    features = [{"name": "island", "role": "categorical"}, {"name": "vec", "role": "embedding", "file": "vectors.npz"}]
    _edit_definition(project, features=features, model={"classifier": "auto"})
    code, summary, stderr = audit_json(project, project.data / "penguins" / "penguins_batch.csv")
    assert code in (0, 1), stderr
    run = summary["run_id"]
    candidates = query(project.database, "SELECT name, in_mean FROM model_candidates WHERE run_id = ?", [run])
    assert len(candidates) == 3 + (candidates["in_mean"].sum() >= 2)
    assert summary["oof_accuracy"] > 0.9 if "oof_accuracy" in summary else True
    # the stored rows are the batch as read: the vectors are joined for fitting only
    record = json.loads(query(project.database, "SELECT record FROM ingested_rows LIMIT 1")["record"].item())
    assert not any(key.startswith("vec_") for key in record)


def test_embedding_pattern_matching_no_column_is_refused(project: Project) -> None:
    features = [{"name": "emb", "role": "embedding", "columns": "emb_*"}]
    _edit_definition(project, features=features)
    code, summary, stderr = audit_json(project, project.data / "penguins" / "penguins_batch.csv")
    assert code == 2 and summary is None
    assert "'emb_*' matches no column" in stderr and "penguins_batch.csv" in stderr


def _key(definition: DatasetDefinition, frame: pd.DataFrame) -> str:
    labels = np.array([0, 1] * 10)
    inputs = SimpleNamespace(labels=labels, classes=["a", "b"], plan=plan_folds(labels, ["a", "b"], folds=2, seed=0))
    parameters = {"definition": definition, "inputs": inputs, "batch_sha256": "x", "fold": 0, "frame": frame}
    return fold_cache_key(None, parameters)


def test_fold_cache_key_hashes_only_what_fitting_reads() -> None:
    base = {"name": "d", "label_column": "y", "id_column": "id"}
    features = [{"name": "x", "role": "numeric"}, {"name": "vec", "role": "embedding", "file": "v.npz"}]
    frame = pd.DataFrame({"id": range(20), "x": range(20), "vec_0": np.arange(20.0), "vec_1": np.zeros(20)})
    plain = DatasetDefinition(**base, features=features)
    key = _key(plain, frame)
    assert _key(DatasetDefinition(**base, features=features, flag_rule="both", neighbours=5), frame) == key
    assert _key(DatasetDefinition(**base, features=features, model={"classifier": "auto"}), frame) != key
    changed = frame.assign(vec_1=frame["vec_1"] + 1e-3)  # new vectors in the embedding file
    assert _key(plain, changed) != key
