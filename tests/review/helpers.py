"""Projects with the crowd sample, and the CLI calls of the review loop."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from tests.conftest import REPO, Project
from tests.flow.helpers import query, run_cli

CROWD = "penguins_crowd"


def crowd_project(root: Path) -> Project:
    """A project with the penguins data, both definitions and the simulated labeler pool."""
    project = Project(root)
    shutil.copytree(REPO / "data" / "penguins_crowd", project.data / "penguins_crowd")
    return project


def audit(
    project: Project, source: Path, dataset: str = "penguins", *extra: str
) -> tuple[int, dict[str, Any] | None, str]:
    result = run_cli(project, "audit", str(source), "--dataset", dataset, "--json", "--no-data-docs", *extra)
    payload = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result.exit_code, payload, result.stderr


def cli(project: Project, *args: str) -> Any:
    """A review/export command with the project's database."""
    return run_cli(project, *args, "--db", str(project.database))


def stage_message(summary: dict[str, Any], stage: str) -> str | None:
    return next((s["message"] for s in summary["stages"] if s["stage"] == stage), None)


def count(project: Project, table: str) -> int:
    return int(query(project.database, f"SELECT count(*) AS n FROM {table}")["n"][0])


def read_sheet(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)
