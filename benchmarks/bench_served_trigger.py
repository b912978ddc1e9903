"""Time from pressing Run to Completed for the sample audit through a served deployment.

Starts ``prefect server start`` on a free loopback port (own PREFECT_HOME) and ``labelaudit serve`` on a scratch
copy of the project, then triggers ``audit/penguins-audit`` ``--repeat`` times, one after another, through the API the
UI's Run button calls (``POST /api/deployments/{id}/create_flow_run``), and prints each time from the POST to the
Completed state, and the median. Both servers are stopped at the end.

    python benchmarks/bench_served_trigger.py --repeat 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
CONFIG = """[project]
database = "audit.duckdb"
reports = "reports"
expectations = "expectations"

[[datasets]]
name = "penguins"
source = "data/penguins/penguins_batch.csv"
parameters = { data_docs = false }
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("not ready in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="labelaudit-bench-served-"))
    shutil.copytree(REPO / "expectations", scratch / "expectations")
    shutil.copytree(REPO / "data" / "penguins", scratch / "data" / "penguins")
    (scratch / "labelaudit.toml").write_text(CONFIG)
    port = _port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELAUDIT_")}
    env.update(PREFECT_HOME=str(scratch / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_API_URL=api)
    server_env = {**env, "PREFECT_API_URL": ""}
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    processes = [
        subprocess.Popen(command, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    ]  # fmt: skip
    try:
        _wait(lambda: httpx.get(f"{api}/health").status_code == 200, 120)
        processes.append(
            subprocess.Popen([sys.executable, "-m", "labelaudit.flows.cli", "serve", "--reports-port", "0"],
                             cwd=scratch, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        )  # fmt: skip
        client = httpx.Client(base_url=api, timeout=30)
        _wait(lambda: client.get("/deployments/name/audit/penguins-audit").status_code == 200, 120)
        dep = client.get("/deployments/name/audit/penguins-audit").json()["id"]
        times = []
        for _ in range(args.repeat + 1):  # the first run warms the page cache and is not counted
            started = time.perf_counter()
            run = client.post(f"/deployments/{dep}/create_flow_run", json={}).json()["id"]
            while (state := client.get(f"/flow_runs/{run}").json()["state"])["type"] not in {
                "COMPLETED", "FAILED", "CRASHED", "CANCELLED",
            }:  # fmt: skip
                time.sleep(0.1)
            if state["type"] != "COMPLETED":
                raise SystemExit(f"run ended {state['type']}: {state['message']}")
            times.append(time.perf_counter() - started)
        times = times[1:]
        print(f"trigger -> Completed, sample audit (344 rows) via `labelaudit serve` (poll 2 s), {os.cpu_count()} CPUs")
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"median {statistics.median(times):.2f} s over {len(times)} runs ({runs})")
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
