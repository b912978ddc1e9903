"""``labelaudit score --engine dask`` end to end: a partitioned Parquet dataset on a real local Dask cluster.

The command starts its own loopback cluster of 2 workers (or uses the scheduler a test started), runs the
score-distributed flow through the session's Prefect API, and must close its cluster on every way out.
"""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import psutil
import pyarrow.parquet as pq
import pytest

from labelaudit.pipeline.streamed_distributed import rows_view_name
from tests.conftest import Project
from tests.flow.helpers import query
from tests.outofcore_flow.helpers import define, make_table, score_cli, write_table

pytestmark = pytest.mark.slow

N = 3000
CUTS = [0, 700, 700, 1900, N]  # files of 700, 0, 1200 and 1100 rows


def _write_dataset(folder: Path, ids, given, probs, *, group_rows: int = 250) -> Path:
    folder.mkdir(parents=True)
    for i, (lo, hi) in enumerate(itertools.pairwise(CUTS)):
        write_table(folder / f"part-{i:02d}.parquet", ids[lo:hi], given[lo:hi], probs[lo:hi])
        table = pq.read_table(folder / f"part-{i:02d}.parquet")
        pq.write_table(table, folder / f"part-{i:02d}.parquet", row_group_size=group_rows)
    return folder


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _dask(project: Project, source: str, *extra: str):
    before = _children()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, payload, stderr = score_cli(
            project, Path(source), "shop", "--engine", "dask", "--partition-rows", "400", *extra
        )
    left = [psutil.Process(pid) for pid in _children() - before if psutil.pid_exists(pid)]
    left = [" ".join(p.cmdline()) for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    # multiprocessing's resource tracker is started once per parent process and ends with it (the command's
    # process); every Dask process (nanny, worker) must be gone
    left = [cmd for cmd in left if "multiprocessing.resource_tracker" not in cmd]
    assert not left, f"processes left behind: {left}"
    return code, payload, stderr


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("dask-cli"))
    define(project, "shop")
    ids, given, probs = make_table(N, seed=7, noise=0.12)
    single = write_table(project.root / "probs.parquet", ids, given, probs)
    folder = _write_dataset(project.root / "probs_dir", ids, given, probs)
    local_code, local, _ = score_cli(project, single, "shop")
    code, payload, stderr = _dask(project, str(folder), "--workers", "2")
    assert local_code in (0, 1) and code == local_code, stderr
    return project, local, payload


def test_flags_equal_the_single_file_score(scored) -> None:
    project, local, dask = scored
    sql = "SELECT row_id, label_quality, suggested_label, issue_rank FROM scores WHERE run_id = ? AND is_issue"
    expected = query(project.database, sql + " ORDER BY row_id", [local["run_id"]])
    got = query(project.database, sql + " ORDER BY row_id", [dask["run_id"]])
    assert len(expected) > 20
    assert got.equals(expected)
    metrics = query(project.database, "SELECT * FROM run_metrics WHERE run_id = ?", [dask["run_id"]]).iloc[0]
    assert (metrics["scoring_path"], metrics["engine"], metrics["workers"]) == ("distributed", "dask", 2)
    same = ["rows", "flagged", "estimated_error_rate", "oof_accuracy"]
    reference = query(project.database, "SELECT * FROM run_metrics WHERE run_id = ?", [local["run_id"]]).iloc[0]
    assert metrics[same].tolist() == pytest.approx(reference[same].tolist(), rel=1e-12)
    noise = "SELECT given_label, true_label, noise FROM noise_matrix WHERE run_id = ? ORDER BY 1, 2"
    assert query(project.database, noise, [dask["run_id"]]).equals(query(project.database, noise, [local["run_id"]]))


def test_the_view_reads_every_row_from_the_committed_parquet(scored) -> None:
    project, local, dask = scored
    view = rows_view_name(dask["run_id"])
    assert query(project.database, f'SELECT count(*) AS n FROM "{view}"')["n"].iloc[0] == N
    rows_url = query(project.database, "SELECT rows_url FROM run_metrics WHERE run_id = ?", [dask["run_id"]])
    rows = Path(rows_url["rows_url"].iloc[0])
    assert rows.is_relative_to(project.reports) and json.loads((rows / "_SUCCESS").read_text())["rows"] == N
    every = query(project.database, f'SELECT row_id, label_quality FROM "{view}" ORDER BY row_id')
    flagged = query(project.database, f'SELECT count(*) AS n FROM "{view}" WHERE is_issue')["n"].iloc[0]
    assert flagged == dask["flagged_rows"] == local["flagged_rows"]
    assert every["row_id"].is_unique and len(every) == N


def test_the_report_says_which_engine_ran(scored) -> None:
    project, _, dask = scored
    stages = query(project.database, "SELECT stage, message FROM run_stages WHERE run_id = ?", [dask["run_id"]])
    score = stages.set_index("stage").loc["score", "message"]
    assert "dask, 2 workers" in score
    assert (dask["scoring_path"], dask["engine"], dask["workers"]) == ("distributed", "dask", 2)
    page = Path(dask["report"].removeprefix("file://")).read_text()
    assert 'data-metric="engine">dask</span>, <span data-metric="workers">2</span> workers' in page


def test_a_bad_partition_exits_2_naming_file_and_rows(tmp_path: Path) -> None:
    project = Project(tmp_path)
    define(project, "shop")
    ids, given, probs = make_table(N, seed=8)
    probs = probs.copy()
    probs[1000, 2] = np.nan  # in part-02 (rows 700-1899)
    folder = _write_dataset(project.root / "bad", ids, given, probs)
    code, _, stderr = _dask(project, str(folder))
    assert code == 2, stderr
    assert "part-02.parquet" in stderr and "1000" in stderr
    assert not list(project.reports.rglob("_SUCCESS"))


def test_address_of_an_existing_cluster(tmp_path: Path) -> None:
    from distributed import LocalCluster

    project = Project(tmp_path)
    define(project, "shop")
    ids, given, probs = make_table(1200, seed=9)
    folder = project.root / "probs_dir"
    folder.mkdir()
    for i, (lo, hi) in enumerate([(0, 500), (500, 1200)]):
        write_table(folder / f"p{i}.parquet", ids[lo:hi], given[lo:hi], probs[lo:hi])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)
    try:
        code, payload, stderr = score_cli(
            project, Path(f"{folder}/*.parquet"), "shop", "--engine", "dask", "--address", cluster.scheduler_address
        )
        assert code in (0, 1), stderr
        assert len(cluster.scheduler_info["workers"]) == 2  # left running: not the command's to close
    finally:
        cluster.close()
    view = rows_view_name(payload["run_id"])
    assert query(project.database, f'SELECT count(*) AS n FROM "{view}"')["n"].iloc[0] == 1200
