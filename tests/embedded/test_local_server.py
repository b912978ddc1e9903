"""``labelaudit server start``: a long-lived local Prefect server that audits use, shown in its UI, until ``stop``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from labelaudit.flows.prefect_api import free_port

from tests.conftest import Project
from tests.embedded.test_process_hygiene import MARKER, marked_processes, wait_until_gone

pytestmark = pytest.mark.slow


def cli(project: Project, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "labelaudit.flows.cli", *args]
    return subprocess.run(command, cwd=project.root, env=env, capture_output=True, text=True, timeout=900)


def test_server_start_is_used_by_audits_and_stop_leaves_nothing(project: Project, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    env = {**project.env(), "PREFECT_HOME": str(tmp_path / "prefect-home"), MARKER: marker}
    env.pop("PREFECT_API_URL", None)
    port = free_port()
    try:
        started = cli(project, env, "server", "start", "--port", str(port))
        assert started.returncode == 0, started.stderr
        assert f"http://127.0.0.1:{port}" in started.stdout and "labelaudit server stop" in started.stdout
        status = cli(project, env, "server", "status")
        assert status.returncode == 0 and f"127.0.0.1:{port}" in status.stdout

        audit = cli(project, env, "audit", "data/penguins/penguins_batch.csv", "--dataset", "penguins",
                    "--run-id", "on-local-server", "--no-data-docs")  # fmt: skip
        assert audit.returncode == 0, audit.stderr
        phases = (project.root / "labelaudit-logs" / "on-local-server.log").read_text().splitlines()[-1]
        assert json.loads(phases.removeprefix("labelaudit phases: "))["api"] == "local"  # no temporary server
        runs = httpx.post(f"http://127.0.0.1:{port}/api/flow_runs/filter", json={}, timeout=30).json()
        assert any(r["name"] == "audit-penguins" and r["state_type"] == "COMPLETED" for r in runs)
    finally:
        stopped = cli(project, env, "server", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert wait_until_gone(marker, 30) == []
    assert cli(project, env, "server", "status").returncode == 1
    assert marked_processes(marker) == []
    assert not os.path.exists(tmp_path / "prefect-home" / "labelaudit-server.json")
