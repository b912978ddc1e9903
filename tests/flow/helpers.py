"""Running the real CLI in-process and reading back what it stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from labelaudit.flows.cli import app
from typer.testing import CliRunner

from tests.conftest import Project


def run_cli(project: Project, *args: str) -> Any:
    """Invoke ``labelaudit`` with the project's folders; returns click's Result (exit_code, stdout, stderr)."""
    runner = CliRunner()
    command = list(args)
    if command and command[0] in {"audit", "runs", "flagged", "init"}:
        options = project.options()
        if command[0] == "init":
            options = ["--expectations", str(project.expectations)]
        elif command[0] in {"runs", "flagged"}:
            options = ["--db", str(project.database)]
        command = [command[0], *options, *command[1:]]
    return runner.invoke(app, command, catch_exceptions=False)


def audit_json(project: Project, source: Path | str, *extra: str) -> tuple[int, dict[str, Any] | None, str]:
    result = run_cli(project, "audit", str(source), "--dataset", "penguins", "--json", "--no-data-docs", *extra)
    payload = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result.exit_code, payload, result.stderr


def query(database: Path, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    with duckdb.connect(str(database)) as con:
        return con.execute(sql, params or []).df()


def precision_recall(database: Path, run_id: str, injected: Path) -> tuple[float, float, int]:
    truth = set(pd.read_csv(injected)["penguin_id"])
    flagged = set(query(database, "SELECT row_id FROM flagged_rows WHERE run_id = ?", [run_id])["row_id"])
    hits = len(truth & flagged)
    precision = hits / len(flagged) if flagged else 0.0
    return precision, hits / len(truth), len(flagged)


def stored_counts(database: Path) -> dict[str, int]:
    """Row counts of every run-keyed table: what 'earlier runs intact' is checked against."""
    tables = ["runs", "run_stages", "batches", "ingested_rows", "validation_results", "oof_probs", "scores",
              "noise_matrix", "class_metrics", "run_metrics", "gate_results"]  # fmt: skip
    with duckdb.connect(str(database)) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2))
