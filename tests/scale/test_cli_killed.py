"""``labelaudit score --engine dask`` killed mid-run: no result set a later run could take for finished, no Dask
process left behind, and a re-run of the same run id commits whole.

The command runs in its own process (as a user's shell or a scheduler would start it) with its own loopback
cluster of 2 workers; it is killed with SIGKILL while the workers write the per-row results (the last pass), so
neither Python nor Prefect gets to clean up.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from labelaudit.pipeline.streamed_distributed import rows_view_name
from labelaudit.store import AuditStore
from tests.conftest import Project
from tests.flow.helpers import query
from tests.outofcore_flow.helpers import define, make_table, score_cli, write_table

pytestmark = pytest.mark.slow

N, FILES = 400_000, 4


def _dataset(project: Project) -> Path:
    folder = project.root / "probs_dir"
    folder.mkdir()
    ids, given, probs = make_table(N, seed=12)
    step = N // FILES
    for i in range(FILES):
        rows = slice(i * step, (i + 1) * step)
        write_table(folder / f"part-{i}.parquet", ids[rows], given[rows], probs[rows])
    return folder


def _kill_while_writing(project: Project, command: list[str]) -> list[psutil.Process]:
    """Start `command`, SIGKILL it once a worker has written a result file; its descendants, as they were."""
    child = subprocess.Popen(command, env=project.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    descendants: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 600  # generous for a loaded machine; the loop ends as soon as files appear
        while time.monotonic() < deadline and child.poll() is None:
            descendants = psutil.Process(child.pid).children(recursive=True) or descendants
            if list(project.reports.rglob("_staging-*/part-*.parquet")):
                break
            time.sleep(0.05)
        assert child.poll() is None, f"the command ended before it could be killed: {child.stderr.read().decode()}"
        descendants = psutil.Process(child.pid).children(recursive=True) or descendants
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return descendants


def test_killed_command_commits_nothing_leaves_no_process_and_a_rerun_commits(tmp_path: Path) -> None:
    project = Project(tmp_path)
    define(project, "shop")
    folder = _dataset(project)
    command = [sys.executable, "-m", "labelaudit.flows.cli", "score", str(folder), "--dataset", "shop",
               "--engine", "dask", "--workers", "2", "--partition-rows", "20000", "--run-id", "killed-run",
               "--json", *project.options()]  # fmt: skip
    descendants = _kill_while_writing(project, command)

    assert len(descendants) >= 2, "the command's Dask workers were never seen"
    _, alive = psutil.wait_procs(descendants, timeout=120)  # the workers notice their parent is gone and exit
    for process in alive:
        process.kill()
    assert not alive, f"processes left behind by the killed command: {[p.pid for p in alive]}"

    assert list(project.reports.rglob("_staging-*")), "the kill came before the workers wrote any result"
    assert not list(project.reports.rglob("_SUCCESS"))
    assert not list(project.reports.rglob("rows/part-*.parquet"))
    view = rows_view_name("killed-run")
    views = query(project.database, "SELECT view_name FROM duckdb_views() WHERE view_name = ?", [view])
    assert views.empty
    assert query(project.database, "SELECT count(*) AS n FROM scores WHERE run_id = 'killed-run'")["n"][0] == 0
    assert AuditStore(project.database).recover_stale_runs() == ["killed-run"]

    code, payload, stderr = score_cli(
        project, folder, "shop", "--engine", "dask", "--workers", "2", "--partition-rows", "100000",
        "--run-id", "killed-run",
    )  # fmt: skip
    assert code in (0, 1), stderr
    assert payload["run_id"] == "killed-run" and payload["engine"] == "dask"
    assert query(project.database, f'SELECT count(*) AS n FROM "{view}"')["n"][0] == N
    (success,) = project.reports.rglob("_SUCCESS")
    assert json.loads(success.read_text())["rows"] == N
    assert not list(project.reports.rglob("_staging-*")), "the re-run's commit left the killed run's staging"
