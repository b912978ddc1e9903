"""One fit-fold task and one score task serve every label kind; their runs keep the names the docs give
(README, docs/multilabel-token.md, docs/operations.md): ``fit-fold-<k>`` and ``score`` for multiclass,
``fit-sequence-fold-<k>`` and ``score-sequences`` for multi-label and token batches."""

from __future__ import annotations

from pathlib import Path

import pytest
from labelaudit.flows.audit import audit

from tests.infra.conftest import PrefectServer
from tests.infra.helpers import api, task_runs
from tests.sequences.conftest import SequenceProject

pytestmark = [pytest.mark.server, pytest.mark.slow]

SAMPLES = {
    "penguins": ("penguins/penguins_batch.csv", "fit-fold", "score"),
    "tags": ("tags/tags.csv", "fit-sequence-fold", "score-sequences"),
    "ner": ("ner/ner.csv", "fit-sequence-fold", "score-sequences"),
}


@pytest.mark.parametrize("dataset", list(SAMPLES))
def test_fold_and_score_runs_are_named_as_documented(
    prefect_server: PrefectServer, tmp_path: Path, dataset: str
) -> None:
    project = SequenceProject(tmp_path)
    source, fold_prefix, score_name = SAMPLES[dataset]
    state = audit(
        dataset=dataset,
        source=str(project.data / source),
        database=str(project.database),
        reports=str(project.reports),
        expectations=str(project.expectations),
        data_docs=False,
        return_state=True,
    )
    assert state.is_completed(), state.message
    with api(prefect_server.api_url) as client:
        names = [r["name"] for r in task_runs(client, str(state.state_details.flow_run_id))]
    assert sorted(n for n in names if "fold-" in n) == [f"{fold_prefix}-{k}" for k in range(5)]
    assert [n for n in names if n.startswith("score")] == [score_name]
