"""A real Prefect server, and ``labelaudit serve`` serving a project's deployments to it.

The server is ``prefect server start`` (API and UI) on a free loopback port with its own PREFECT_HOME; the
served project is a throw-away folder with its own ``labelaudit.toml``. Both live for the whole of
``tests/infra`` (starting them costs ~20 s) and are stopped, with every process they started, at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from labelaudit.flows.prefect_api import dying_with_this_process, use_api_url

from tests.conftest import REPO, Project

ARTIFACTS = REPO / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen[bytes], grace: float = 10) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started (its process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


#: A server that is still starting is waited for, however busy the machine: the test gives up only when the
#: process exits, or after this many seconds (a hang, not slowness).
READY_CAP = float(os.environ.get("LABELAUDIT_TEST_READY_CAP", "900"))


def _wait_for(check, what: str, process: subprocess.Popen[bytes], log: Path, timeout: float = READY_CAP) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{what} not ready after {timeout:g} s:\n{log.read_text()[-3000:]}")


@dataclass
class PrefectServer:
    url: str  # the UI
    api_url: str
    home: Path


@pytest.fixture(scope="package")
def prefect_server() -> Iterator[PrefectServer]:
    home = Path(tempfile.mkdtemp(prefix="labelaudit-prefect-server-"))
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_API_URL": "",
    }
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            dying_with_this_process(
                [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
            ),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = PrefectServer(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/api", home)
    try:
        _wait_for(lambda: httpx.get(f"{server.api_url}/health", timeout=2).status_code == 200, "prefect server",
                  process, log)  # fmt: skip
        with use_api_url(server.api_url):  # for this process and the processes the tests start
            yield server
    finally:
        _stop(process)
        shutil.rmtree(home, ignore_errors=True)


CONFIG = """\
[project]
database = "audit.duckdb"
reports = "reports"
expectations = "expectations"

[[datasets]]
name = "penguins"
source = "data/penguins/penguins_batch.csv"
description = "the sample batch"
schedule = {{ cron = "30 5 * * 1-5", timezone = "Europe/Paris", active = false }}
parameters = {{ data_docs = false }}

[[datasets]]
name = "deliveries"
definition = "penguins"
source = "incoming/*.csv"
schedule = {{ cron = "0 * * * *", timezone = "America/New_York", active = true }}
task_runner = {{ kind = "threads", max_workers = 2 }}
parameters = {{ data_docs = false }}
"""


@dataclass
class ServedProject:
    project: Project
    config: Path
    reports_url: str
    server: PrefectServer
    log: Path


@pytest.fixture(scope="package")
def served(prefect_server: PrefectServer) -> Iterator[ServedProject]:
    """A project folder served by ``labelaudit serve`` (a subprocess) against the test server."""
    from prefect.client.orchestration import get_client

    root = Path(tempfile.mkdtemp(prefix="labelaudit-served-"))
    project = Project(root)
    (root / "incoming").mkdir()
    config = root / "labelaudit.toml"
    config.write_text(CONFIG.format())
    reports_port = free_port()
    log = root / "serve.log"
    env = {
        **project.env(),
        "PREFECT_API_URL": prefect_server.api_url,
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("LABELAUDIT_REPORT_BASE_URL", None)
    serve_command = [sys.executable, "-m", "labelaudit.flows.cli", "serve", "--config", str(config)]
    serve_command += ["--reports-port", str(reports_port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            dying_with_this_process(serve_command),
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def registered() -> bool:
        with get_client(sync_client=True) as client:
            names = {d.name for d in client.read_deployments()}
        return {"penguins-audit", "deliveries-new-batches"} <= names and b"being served" in log.read_bytes()

    try:
        _wait_for(registered, "labelaudit serve", process, log)
        yield ServedProject(project, config, f"http://127.0.0.1:{reports_port}/", prefect_server, log)
    finally:
        _stop(process, grace=15)
        shutil.rmtree(root, ignore_errors=True)
