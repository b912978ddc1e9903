"""The DuckDB system of record: atomic stages, idempotent re-runs, stale-run recovery, bounded lock waits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from labelaudit.errors import DatabaseLockedError, InputDataError, RunNotFoundError
from labelaudit.store import SCHEMA_VERSION, AuditStore, StageWrite
from labelaudit.store.database import utcnow


def _batches(rows: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": ["a.csv"],
            "sha256": ["ab" * 32],
            "bytes": [10],
            "rows": [rows],
            "format": ["csv"],
            "ingested_at": [utcnow()],
        }
    )


def _rows(n: int) -> pd.DataFrame:
    return pd.DataFrame({"row_idx": range(n), "row_id": [f"r{i}" for i in range(n)], "given_label": ["a"] * n,
                         "record": ['{"x": 1}'] * n})  # fmt: skip


def test_new_database_gets_the_current_schema(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "new" / "audit.duckdb")
    versions = store.query("SELECT max(version) AS v FROM schema_migrations")["v"][0]
    assert versions == SCHEMA_VERSION
    assert "flagged_rows" in set(store.query("SELECT view_name FROM duckdb_views()")["view_name"])


def test_a_failing_stage_write_stores_nothing_of_it(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    run = store.begin_run(dataset="d", source="a.csv", params={})
    store.write_stage(run, "ingest", StageWrite({"batches": _batches(), "ingested_rows": _rows(3)}, utcnow()))
    broken = _rows(5).assign(row_idx=["x"] * 5)  # not an integer: the insert fails half-way through the stage

    with pytest.raises(Exception, match=r"(?i)convert|cast"):
        store.write_stage(run, "ingest", StageWrite({"batches": _batches(5), "ingested_rows": broken}, utcnow()))

    assert store.query("SELECT count(*) AS n FROM ingested_rows")["n"][0] == 3
    assert store.query("SELECT rows FROM batches")["rows"].tolist() == [3]


def test_rerun_replaces_only_that_run(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    first = store.begin_run(dataset="d", source="a.csv", params={})
    other = store.begin_run(dataset="d", source="b.csv", params={})
    for run in (first, other):
        store.write_stage(run, "ingest", StageWrite({"batches": _batches(), "ingested_rows": _rows(4)}, utcnow()))

    store.begin_run(dataset="d", source="a.csv", params={"again": True}, run_id=first)

    counts = store.query("SELECT run_id, count(*) AS n FROM ingested_rows GROUP BY run_id")
    assert counts.set_index("run_id")["n"].to_dict() == {other: 4}
    assert store.run(first)["params"] == {"again": True} and store.run(first)["status"] == "running"


def test_stage_of_unknown_run_is_refused(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    with pytest.raises(RunNotFoundError, match="nope"):
        store.write_stage("nope", "ingest", StageWrite({"batches": _batches()}, utcnow()))


def test_stage_cannot_write_another_stages_tables(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    run = store.begin_run(dataset="d", source=None, params={})
    with pytest.raises(ValueError, match="does not own"):
        store.write_stage(run, "score", StageWrite({"batches": _batches()}, utcnow()))


def test_runs_of_dead_processes_are_marked_failed(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    run = store.begin_run(dataset="d", source=None, params={})
    alive = store.begin_run(dataset="d", source=None, params={})
    with store.transaction() as con:
        con.execute("UPDATE runs SET pid = ? WHERE run_id = ?", [int(dead.stdout), run])

    assert store.recover_stale_runs() == [run]
    assert store.run(run)["status"] == "failed" and store.run(alive)["status"] == "running"


def test_a_run_killed_before_its_report_is_not_left_completed(tmp_path: Path) -> None:
    """Killed between storing its verdict and publishing: ``completed`` would promise a report that is not there."""
    store = AuditStore(tmp_path / "audit.duckdb")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    unpublished = store.begin_run(dataset="d", source=None, params={})
    published = store.begin_run(dataset="d", source=None, params={})
    for run in (unpublished, published):
        store.finish_run(run, status="completed", verdict="accepted", message="batch accepted")
    store.set_report_path(published, "reports/d/x/index.html", started_at=utcnow())
    with store.transaction() as con:
        con.execute("UPDATE runs SET pid = ?", [int(dead.stdout)])

    assert store.recover_stale_runs() == [unpublished]
    assert (
        store.run(unpublished)["status"] == "failed"
        and "stopped before it finished" in store.run(unpublished)["message"]
    )
    assert store.run(published)["status"] == "completed"


def test_fail_run_marks_only_unfinished_runs(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    running, done = store.begin_run(dataset="d", source=None, params={}), store.begin_run(dataset="d", source=None,
                                                                                           params={})  # fmt: skip
    store.finish_run(done, status="rejected", verdict="rejected", message="breached")
    store.set_report_path(done, "reports/d/y/index.html", started_at=utcnow())

    assert store.fail_run(running, "interrupted (SIGTERM)") is True
    assert store.fail_run(done, "interrupted (SIGTERM)") is False
    assert store.run(running)["status"] == "failed" and store.run(running)["message"] == "interrupted (SIGTERM)"
    assert store.run(done)["status"] == "rejected" and store.run(done)["message"] == "breached"


def test_lock_held_by_another_process_is_waited_for_then_reported(tmp_path: Path) -> None:
    path = tmp_path / "audit.duckdb"
    AuditStore(path).begin_run(dataset="d", source=None, params={})
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(path)!r})
            print("locked", flush=True)
            time.sleep(float(sys.argv[1]))
        """), "30"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(DatabaseLockedError, match=r"locked by another process .*1 s"):
            AuditStore(path, lock_timeout=1.0).query("SELECT 1")
        assert 0.9 < time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()
    assert AuditStore(path, lock_timeout=5).query("SELECT count(*) AS n FROM runs")["n"][0] == 1


@pytest.mark.parametrize("run_id", ["../escape", "a/b", "with space", ".hidden", "x" * 129])
def test_run_ids_that_are_not_plain_names_are_refused(tmp_path: Path, run_id: str) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    with pytest.raises(InputDataError, match="invalid run id"):
        store.begin_run(dataset="d", source=None, params={}, run_id=run_id)
    assert store.query("SELECT count(*) AS n FROM runs")["n"][0] == 0
