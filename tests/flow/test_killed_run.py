"""A run killed mid-way leaves no partial stage output, is later marked failed, and harms no other run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from labelaudit.store import AuditStore
from tests.conftest import Project
from tests.flow.helpers import audit_json, query

pytestmark = pytest.mark.slow


def _big_batch(project: Project, copies: int = 300) -> Path:
    """The sample repeated with jittered measurements and fresh ids: about 100k rows, so fitting takes seconds."""
    base = pd.read_csv(project.data / "penguins" / "penguins_batch.csv", dtype={"penguin_id": "str"})
    rng = np.random.default_rng(1)
    parts = []
    for copy in range(copies):
        part = base.copy()
        part["penguin_id"] = part["penguin_id"] + f"-{copy}"
        for column in ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]:
            part[column] = part[column] * rng.normal(1.0, 0.01, len(part))
        parts.append(part)
    path = project.root / "big.csv"
    pd.concat(parts).to_csv(path, index=False)
    return path


def test_killed_run_leaves_no_partial_output(project: Project) -> None:
    code, good, stderr = audit_json(project, project.data / "penguins" / "penguins_batch.csv")
    assert code == 0, stderr
    good_scores = query(project.database, "SELECT * FROM scores WHERE run_id = ?", [good["run_id"]])
    big = _big_batch(project)
    command = [sys.executable, "-m", "labelaudit.flows.cli", "audit", str(big), "--dataset", "penguins",
               "--no-data-docs", "--run-id", "killed-run", *project.options()]  # fmt: skip
    child = subprocess.Popen(command, env=project.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if {"ingest", "validate"} <= _stages_of(project.database, "killed-run"):
                break
            time.sleep(0.05)
        assert child.poll() is None, f"the audit ended before it could be killed: {child.stderr.read().decode()}"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()

    completed = _stages_of(project.database, "killed-run")
    assert {"ingest", "validate"} <= completed and "score" not in completed
    for table in ["oof_probs", "scores", "noise_matrix", "class_metrics", "run_metrics", "gate_results"]:
        count = query(project.database, f"SELECT count(*) AS n FROM {table} WHERE run_id = 'killed-run'")["n"][0]
        owner_done = table == "oof_probs" and "fit" in completed
        assert count == 0 or owner_done, table
    if "fit" in completed:  # killed after fitting committed: its output is whole
        n = query(project.database, "SELECT count(*) AS n FROM oof_probs WHERE run_id = 'killed-run'")["n"][0]
        assert n == 344 * 300
    assert AuditStore(project.database).recover_stale_runs() == ["killed-run"]
    run = query(project.database, "SELECT status, message FROM runs WHERE run_id = 'killed-run'")
    assert run["status"][0] == "failed" and "stopped before it finished" in run["message"][0]
    after = query(project.database, "SELECT * FROM scores WHERE run_id = ?", [good["run_id"]])
    assert after.equals(good_scores)


def _stages_of(database: Path, run_id: str) -> set[str]:
    """Completed stages of ``run_id``; retries while the child holds the write lock."""
    for _ in range(200):
        try:
            with duckdb.connect(str(database)) as con:
                rows = con.execute(
                    "SELECT stage FROM run_stages WHERE run_id = ? AND status = 'completed'", [run_id]
                ).fetchall()
                return {r[0] for r in rows}
        except duckdb.Error:
            time.sleep(0.02)
    return set()
