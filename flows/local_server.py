"""A long-lived local Prefect server that the user starts once (``labelaudit server start``) and audits reuse.

Prefect's own ``prefect server start --background`` runs it (API and UI, its database under ``PREFECT_HOME``);
we only remember its address in ``PREFECT_HOME/labelaudit-server.json`` so that later ``labelaudit`` commands
without ``PREFECT_API_URL`` find it, skip starting a temporary server (several seconds each), and show up in its
UI. It runs until ``labelaudit server stop`` (Prefect's ``prefect server stop``): the user asked for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from labelaudit.flows.prefect_api import (
    DEFAULT_START_TIMEOUT,
    PrefectServerError,
    is_healthy,
    local_server_state,
    running_local_server,
)

DEFAULT_PORT = 4200


def _prefect(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return subprocess.run(
        [sys.executable, "-m", "prefect", "server", *args], env=env, capture_output=True, text=True, check=False
    )


def start_local_server(port: int = DEFAULT_PORT, timeout: float = DEFAULT_START_TIMEOUT) -> str:
    """Start Prefect's background server on 127.0.0.1:``port`` (or find it running); return its API URL."""
    running = running_local_server()
    if running:
        return running
    api_url = f"http://127.0.0.1:{port}/api"
    done = _prefect("start", "--background", "--host", "127.0.0.1", "--port", str(port))
    if done.returncode != 0:
        raise PrefectServerError((done.stdout + done.stderr).strip().splitlines()[-1])
    deadline = time.monotonic() + timeout
    while not is_healthy(api_url):
        if time.monotonic() > deadline:
            _prefect("stop")
            raise PrefectServerError(f"the Prefect server on port {port} did not answer within {timeout:g} s")
        time.sleep(0.2)
    local_server_state().parent.mkdir(parents=True, exist_ok=True)
    local_server_state().write_text(json.dumps({"api_url": api_url}))
    return api_url


def stop_local_server() -> bool:
    """Stop the background server; return whether one was running."""
    was_running = running_local_server() is not None
    _prefect("stop")
    local_server_state().unlink(missing_ok=True)
    return was_running
