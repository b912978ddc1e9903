"""Shared fixtures: an isolated project folder (definitions, data, database, reports) per test.

Prefect keeps its own state under PREFECT_HOME; tests point it at a temporary folder so they neither read nor
change the developer's Prefect settings and database.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="labelaudit-prefect-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


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
