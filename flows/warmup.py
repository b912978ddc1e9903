"""Overlap Prefect's temporary API start-up with the audit's heavy imports.

Without ``PREFECT_API_URL`` Prefect starts a temporary API server (a separate process) on first use: several
seconds, during which this process would sit idle, and importing scikit-learn, the flow and Great Expectations
costs several more. Starting the server first and importing while it boots cuts the time to the first report
by the shorter of the two. The server module is imported in the background thread *before* the caller imports
anything of Prefect's: two threads importing Prefect at once trip its circular imports.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable


def start_prefect_api_in_background() -> Callable[[], None]:
    """Start the temporary API if one will be needed; return a function that waits until it is up.

    Returns as soon as the server process is spawned (or known not to be needed), so the caller can import
    while it boots. With ``PREFECT_API_URL`` set, or ephemeral mode disabled, nothing is started.
    """
    if os.environ.get("PREFECT_API_URL"):
        return lambda: None
    spawned = threading.Event()
    servers: list[object] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_ALLOW_EPHEMERAL_MODE

            if PREFECT_API_URL.value() or not PREFECT_SERVER_ALLOW_EPHEMERAL_MODE.value():
                return
            from prefect.server.api.server import SubprocessASGIServer

            servers.append(SubprocessASGIServer())
            servers[0].start()  # spawns the process, then polls its health endpoint
        except BaseException as exc:  # surfaced by wait(); Prefect will then report its own error
            failure.append(exc)
        finally:
            spawned.set()

    thread = threading.Thread(target=run, name="prefect-api-start", daemon=True)
    thread.start()
    while not spawned.is_set() and not (servers and getattr(servers[0], "server_process", None) is not None):
        time.sleep(0.01)

    def wait() -> None:
        thread.join()

    return wait
