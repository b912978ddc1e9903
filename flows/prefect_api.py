"""Which Prefect API a command talks to, and a temporary one that always stops.

A flow run needs a Prefect API. In order of preference a command uses:

1. ``PREFECT_API_URL`` when it is set: the user's own server or Prefect Cloud, untouched.
2. The long-lived local server started by ``labelaudit server start`` (the user asked for it; its UI lists every
   audit run from the command line). See :mod:`labelaudit.flows.local_server`.
3. Otherwise a temporary ``prefect server start`` (API only, no UI, no background services) on a free loopback
   port, started by this process and stopped when the command ends.

Why not Prefect's own temporary server (what a flow call starts when no API is configured)? Measured on a
2-core machine it is started only when the first flow call reaches the client, so nothing overlaps it; its
start-up wait is a fixed 20 s that a busy machine exceeds (the run then fails); and a server that timed out,
or whose parent was killed, is never stopped (leaked ``uvicorn`` processes). Starting ``prefect server start``
ourselves, as the very first thing a command does, lets the server boot on one core while this process imports
the flow, Great Expectations and scikit-learn on the other, and we own its whole life:

- readiness is a health check polled until it answers, however long a busy machine takes (capped only by
  ``LABELAUDIT_PREFECT_START_TIMEOUT``, default 600 s, and by the server process exiting);
- the server runs in its own process group, so a Ctrl-C in the terminal reaches this process, which stops it;
- it is told by the kernel to stop when this process dies for any reason, SIGKILL included
  (``PR_SET_PDEATHSIG``), so no server outlives the command that started it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

#: Seconds a temporary server may take to answer its health check before the command gives up.
DEFAULT_START_TIMEOUT = 600.0

# Run in the server's process before Prefect: ask the kernel for SIGTERM when the parent dies, then exec Prefect's
# CLI. A parent that died before the request was made is caught by comparing the parent pid.
_DIE_WITH_PARENT = """\
import ctypes, os, sys
parent = int(sys.argv[1])
if sys.platform.startswith("linux"):
    ctypes.CDLL(None, use_errno=True).prctl(1, 15)  # PR_SET_PDEATHSIG, SIGTERM
if os.getppid() != parent:
    sys.exit(0)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


def dying_with_this_process(command: list[str]) -> list[str]:
    """``command`` (``[sys.executable, "-m", ...]``) wrapped so the kernel stops it when this process dies.

    Why: a parent killed by SIGKILL (or a test runner killed by a CI timeout) runs no cleanup, and a server it
    started would otherwise live on, holding a port and a database.
    """
    return [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *command[1:]]


class PrefectServerError(RuntimeError):
    """The temporary Prefect server could not be started (its log says why)."""


def free_port() -> int:
    """A loopback port nobody listens on right now (the server retries if another process takes it first)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether a Prefect API answers its health check (stdlib only: no Prefect import needed to ask)."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


class TemporaryPrefectServer:
    """``prefect server start`` as a child of this process, for the length of one command.

    ``start()`` returns at once (the server boots while the caller imports); ``wait_ready()`` blocks until the
    API answers; ``stop()`` ends it and everything it started. Usable as a context manager.
    """

    def __init__(self, log: IO[bytes] | None = None, *, start_timeout: float | None = None) -> None:
        self._log = log
        timeout = start_timeout or os.environ.get("LABELAUDIT_PREFECT_START_TIMEOUT") or DEFAULT_START_TIMEOUT
        self.start_timeout = float(timeout)
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self._started_at = 0.0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> TemporaryPrefectServer:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false")
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                   "--port", str(self.port), "--no-ui", "--no-services", "--log-level", "WARNING"]  # fmt: skip
        self._started_at = time.monotonic()
        self.process = subprocess.Popen(
            dying_with_this_process(command),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._log else subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def wait_ready(self, on_slow: Callable[[float], None] | None = None, *, retries: int = 3) -> str:
        """Block until the API answers; return its URL. ``on_slow(seconds)`` is called once after 15 s."""
        if self.process is None:
            raise RuntimeError("start() the server before waiting for it")
        warned = False
        while True:
            elapsed = time.monotonic() - self._started_at
            if self.process.poll() is not None:
                if retries > 0:  # most often: another process took the free port first
                    self.start()
                    retries -= 1
                    continue
                raise PrefectServerError(
                    f"the temporary Prefect server exited with status {self.process.returncode} before it was "
                    "ready (its output is in the run's log); or set PREFECT_API_URL to a server of your own"
                )
            if is_healthy(self.api_url):
                return self.api_url
            if elapsed > self.start_timeout:
                self.stop()
                raise PrefectServerError(
                    f"the temporary Prefect server did not answer within {self.start_timeout:g} s "
                    "(LABELAUDIT_PREFECT_START_TIMEOUT); is the machine overloaded?"
                )
            if not warned and elapsed > 15 and on_slow is not None:
                on_slow(elapsed)
                warned = True
            time.sleep(0.1)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the server's process group, then SIGKILL whatever is left after ``grace`` seconds."""
        process, self.process = self.process, None
        if process is None:
            return
        drain_prefect_workers()
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # anything the server started that outlived it
            os.killpg(process.pid, signal.SIGKILL)

    def __enter__(self) -> TemporaryPrefectServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def use_api_url(api_url: str) -> Iterator[str]:
    """Point this process's Prefect at ``api_url`` for the block (environment, and settings if already loaded).

    Prefect's log and event workers are process-wide and keep the API they were started with: they are drained
    (and so restarted on next use) on the way in and out, or events of the block's runs would go to the other API.
    """
    previous = os.environ.get("PREFECT_API_URL")
    drain_prefect_workers()
    os.environ["PREFECT_API_URL"] = api_url
    try:
        if "prefect.settings" in sys.modules:  # settings already read from the environment: update them too
            from prefect.settings import PREFECT_API_URL, temporary_settings

            with temporary_settings(updates={PREFECT_API_URL: api_url}):
                yield api_url
        else:
            yield api_url
    finally:
        drain_prefect_workers()
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous


def drain_prefect_workers(timeout: float = 10.0) -> None:
    """Send the logs and events Prefect still holds to the API while it is up (before a temporary one stops).

    Prefect drains these workers itself at interpreter exit, which is after a command's server is stopped: the
    workers would then retry a closed port for a minute. Nothing to drain if Prefect was never imported.
    """
    if "prefect.logging.handlers" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout)


def prefect_home() -> Path:
    """Prefect's home folder, read the way Prefect reads it, without importing Prefect."""
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()


def local_server_state() -> Path:
    """Where ``labelaudit server start`` records the address of the server it started."""
    return prefect_home() / "labelaudit-server.json"


def running_local_server() -> str | None:
    """The API URL of the server ``labelaudit server start`` left running, if it still answers."""
    try:
        url = json.loads(local_server_state().read_text())["api_url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if is_healthy(url, timeout=1.0) else None


class PrefectApi:
    """The API a command uses (see the module docstring); ``ready()`` waits for it, ``close()`` ends it."""

    def __init__(self, log_path: Path | None = None, on_slow: Callable[[float], None] | None = None) -> None:
        self._on_slow = on_slow
        self._server: TemporaryPrefectServer | None = None
        self._log: IO[bytes] | None = None
        self._scope: contextlib.ExitStack | None = None
        self.kind = "configured"
        self.url = os.environ.get("PREFECT_API_URL") or ""
        if self.url:
            return
        local = running_local_server()
        if local is not None:
            self.kind, self.url = "local", local
            return
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = log_path.open("ab")
        self.kind = "temporary"
        self._server = TemporaryPrefectServer(self._log).start()

    def ready(self) -> str:
        """Wait until the API answers (a temporary server booting), then point Prefect at it."""
        if self._server is not None:
            self.url = self._server.wait_ready(self._on_slow)
        if self._scope is None and self.kind != "configured":
            self._scope = contextlib.ExitStack()
            self._scope.enter_context(use_api_url(self.url))
        return self.url

    def close(self) -> None:
        if self._scope is not None:
            self._scope.close()
            self._scope = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> PrefectApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
