"""Shared fixtures: an isolated project folder (definitions, data, database, reports) per test.

Prefect keeps its own state under PREFECT_HOME; tests point it at a temporary folder so they neither read nor
change the developer's Prefect settings and database. One Prefect API server, started the way the CLI starts
its temporary one (``labelaudit.flows.prefect_api``), serves the whole session: every in-process flow and every CLI
subprocess a test starts uses it through ``PREFECT_API_URL``, so no test waits for a server of its own, and
none is left behind. Tests of the embedded path itself (``tests/embedded``) remove ``PREFECT_API_URL``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from labelaudit.flows.prefect_api import TemporaryPrefectServer, use_api_url

REPO = Path(__file__).resolve().parents[1]

if "PREFECT_HOME" not in os.environ:  # the session's own Prefect home (~10 MB of database): gone at exit
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="labelaudit-prefect-")
    atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session", autouse=True)
def prefect_api() -> Iterator[str]:
    """The session's Prefect API: a server of its own (waited for until ready, however busy the machine)."""
    if os.environ.get("PREFECT_API_URL"):  # a developer's own server: use it
        yield os.environ["PREFECT_API_URL"]
        return
    home = Path(os.environ["PREFECT_HOME"])
    with (
        (home / "session-server.log").open("ab") as log,
        TemporaryPrefectServer(log) as server,
        use_api_url(server.wait_ready()) as api_url,
    ):
        yield api_url


class Project:
    """A throw-away project folder laid out like a user's: expectations/, data/, a DuckDB file, reports/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.expectations = root / "expectations"
        self.data = root / "data"
        self.database = root / "audit.duckdb"
        self.reports = root / "reports"
        shutil.copytree(REPO / "expectations", self.expectations)
        shutil.copytree(REPO / "data" / "penguins", self.data / "penguins")

    def options(self) -> list[str]:
        return [
            "--db", str(self.database), "--reports", str(self.reports), "--expectations", str(self.expectations),
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "LABELAUDIT_DB": str(self.database),
            "LABELAUDIT_REPORTS": str(self.reports),
            "LABELAUDIT_EXPECTATIONS": str(self.expectations),
        }


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)
