"""The folds on a Dask cluster give the same scores as on threads; a re-run reuses the fitted folds."""

from __future__ import annotations

import numpy as np
import pytest
from labelaudit.flows.audit import audit
from prefect.settings import PREFECT_TASKS_REFRESH_CACHE, temporary_settings

from tests.conftest import Project
from tests.flow.helpers import query
from tests.infra.conftest import PrefectServer
from tests.infra.helpers import api, task_runs

pytestmark = [pytest.mark.server, pytest.mark.slow]


def _audit(project: Project, run_id: str, **options: object):
    return audit(
        dataset="penguins",
        source=str(project.data / "penguins" / "penguins_batch.csv"),
        run_id=run_id,
        database=str(project.database),
        reports=str(project.reports),
        expectations=str(project.expectations),
        data_docs=False,
        return_state=True,
        **options,
    )


def _fold_states(server: PrefectServer, flow_run_id: str) -> list[str]:
    with api(server.api_url) as client:
        runs = task_runs(client, flow_run_id)
    return sorted(r["state"]["name"] for r in runs if r["name"].startswith("fit-fold"))


def _scores(project: Project, run_id: str) -> np.ndarray:
    frame = query(project.database, "SELECT label_quality FROM scores WHERE run_id = ? ORDER BY row_idx", [run_id])
    return frame["label_quality"].to_numpy()


def test_dask_cluster_gives_the_same_scores_as_threads(prefect_server: PrefectServer, project: Project) -> None:
    with temporary_settings(updates={PREFECT_TASKS_REFRESH_CACHE: True}):  # really fit, on both runners
        threads = _audit(project, "on-threads")
        dask = _audit(project, "on-dask", task_runner={"kind": "dask", "n_workers": 2, "threads_per_worker": 1})

    assert threads.is_completed() and dask.is_completed(), (threads.message, dask.message)
    assert _fold_states(prefect_server, str(dask.state_details.flow_run_id)) == ["Completed"] * 5
    on_threads, on_dask = _scores(project, "on-threads"), _scores(project, "on-dask")
    assert len(on_threads) == 344
    np.testing.assert_allclose(on_dask, on_threads, rtol=0, atol=1e-9)
    flagged = query(
        project.database,
        "SELECT run_id, list(row_id ORDER BY row_id) AS rows FROM flagged_rows GROUP BY run_id ORDER BY run_id",
    )
    assert list(flagged["rows"].iloc[0]) == list(flagged["rows"].iloc[1])


def test_rerun_reuses_the_fitted_folds_and_a_changed_model_refits(
    prefect_server: PrefectServer, project: Project
) -> None:
    first = _audit(project, "cached-run")
    again = _audit(project, "cached-run")  # a re-run (or a retry) of the same batch with the same parameters
    other = _audit(project, "cached-run", folds=4)

    assert first.is_completed() and again.is_completed() and other.is_completed()
    assert set(_fold_states(prefect_server, str(again.state_details.flow_run_id))) == {"Cached"}
    assert "Cached" not in _fold_states(prefect_server, str(other.state_details.flow_run_id))
    # the re-run replaced its output instead of adding to it
    assert query(project.database, "SELECT count(*) AS n FROM scores WHERE run_id = 'cached-run'")["n"][0] == 344
