"""Talking to the test's Prefect server the way the UI does: over its REST API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from tests.infra.conftest import ARTIFACTS


class _RetryOn503(httpx.HTTPTransport):
    """Retry what the server says is retryable (503: e.g. its SQLite database busy), as Prefect's client does."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for delay in (0.2, 0.5, 1, 2, 4):
            response = super().handle_request(request)
            if response.status_code != 503:
                return response
            response.close()
            time.sleep(delay)
        return super().handle_request(request)


def api(server_api_url: str) -> httpx.Client:
    return httpx.Client(base_url=server_api_url, timeout=30, transport=_RetryOn503())


def deployment(client: httpx.Client, flow_name: str, name: str) -> dict[str, Any]:
    response = client.get(f"/deployments/name/{flow_name}/{name}")
    response.raise_for_status()
    return response.json()


def trigger(client: httpx.Client, flow_name: str, name: str, parameters: dict[str, Any] | None = None) -> str:
    """Create a flow run of a deployment as the UI's Run button does: POST /deployments/{id}/create_flow_run."""
    dep = deployment(client, flow_name, name)
    response = client.post(f"/deployments/{dep['id']}/create_flow_run", json={"parameters": parameters or {}})
    response.raise_for_status()
    return response.json()["id"]


def flow_run(client: httpx.Client, run_id: str | UUID) -> dict[str, Any]:
    response = client.get(f"/flow_runs/{run_id}")
    response.raise_for_status()
    return response.json()


def wait_final(client: httpx.Client, run_id: str | UUID, timeout: float = 120) -> dict[str, Any]:
    """Poll the flow run until its state is final (Completed, Failed, Crashed, Cancelled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = flow_run(client, run_id)
        if run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            return run
        time.sleep(0.25)
    raise TimeoutError(f"flow run {run_id} not finished after {timeout:g} s: {run['state']}")


def artifacts(client: httpx.Client, run_id: str) -> dict[str, dict[str, Any]]:
    """The artifacts created in a flow run (by its tasks), by key."""
    response = client.post("/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}})
    response.raise_for_status()
    return {a["key"]: a for a in response.json() if a.get("key")}


def child_runs(client: httpx.Client, parent_id: str) -> list[dict[str, Any]]:
    """Subflow runs of a flow run."""
    tasks = client.post(
        "/task_runs/filter", json={"task_runs": {"flow_run_id": {"any_": [parent_id]}}, "limit": 200}
    ).json()
    ids = [t["id"] for t in tasks]
    if not ids:
        return []
    response = client.post("/flow_runs/filter", json={"flow_runs": {"parent_task_run_id": {"any_": ids}}})
    response.raise_for_status()
    return response.json()


def logs(client: httpx.Client, run_id: str) -> list[str]:
    response = client.post("/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200})
    response.raise_for_status()
    return [entry["message"] for entry in response.json()]


def logs_until(client: httpx.Client, run_id: str, needle: str, timeout: float = 10) -> list[str]:
    """The run's logs, polled until one contains ``needle`` (logs are shipped in batches after the state)."""
    deadline = time.monotonic() + timeout
    while True:
        found = logs(client, run_id)
        if any(needle in line for line in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def task_runs(client: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    response = client.post("/task_runs/filter", json={"task_runs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200})
    response.raise_for_status()
    return response.json()


def record_timing(name: str, seconds: float) -> None:
    """Keep measured timings in test-artifacts/timings.json for the closing note."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "timings.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = round(seconds, 2)
    path.write_text(json.dumps(data, indent=2) + "\n")


def report_file(reports: Path, dataset: str, labelaudit_run_id: str) -> Path:
    return reports / dataset / labelaudit_run_id / "index.html"
