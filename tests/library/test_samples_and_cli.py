"""The bundled samples are reproducible, and every command documents itself with an example."""

from __future__ import annotations

import filecmp
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from labelaudit.flows.cli import app
from typer.testing import CliRunner

from labelaudit.store import AuditStore
from labelaudit.store.queries import flagged_rows, recent_runs
from tests.conftest import REPO


def test_sample_batches_are_rebuilt_identically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # week 2 is made from the first batch and the clean set, so it is rebuilt after them, from the rebuilt files
    for script in ("make_samples.py", "make_week2_sample.py"):
        spec = importlib.util.spec_from_file_location(script.removesuffix(".py"), REPO / "data" / script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        monkeypatch.setattr(module, "OUT", tmp_path)
        module.main()

    committed = REPO / "data" / "penguins"
    names = sorted(p.name for p in committed.glob("*.csv"))
    assert names == sorted(p.name for p in tmp_path.glob("*.csv"))
    match, mismatch, errors = filecmp.cmpfiles(committed, tmp_path, names, shallow=False)
    assert mismatch == [] and errors == [] and len(match) == len(names) >= 5


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a sub-group (typer may use its own click)
            found += _commands(command, (*prefix, name))
        else:
            found.append(((*prefix, name), command))
    return found


def test_every_command_has_an_example_in_its_help() -> None:
    commands = _commands(typer.main.get_command(app))
    assert {"audit", "init", "runs"} <= {path[-1] for path, _ in commands}
    runner = CliRunner()
    for path, _ in commands:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example:" in result.stdout, path


# -- `labelaudit runs` and `labelaudit flagged`: what a person reads ----------------------------------------

FAILURE = (
    "validate: failed 45 of 46 schema expectations: columns present: wine_id;alcohol;malic_acid;ash;"
    "alcalinity_of_ash;magnesium"
)


def _run(store: AuditStore, run_id: str, started: str, status: str, verdict: str | None, message: str | None) -> None:
    store.begin_run(dataset="penguins", source=f"data/{run_id[-1]}.csv", params={}, run_id=run_id)
    with store.transaction() as con:
        con.execute(
            "UPDATE runs SET status = ?, verdict = ?, message = ?, started_at = ?::TIMESTAMPTZ WHERE run_id = ?",
            [status, verdict, message, started, run_id],
        )


@pytest.fixture
def history(tmp_path: Path) -> AuditStore:
    """Four runs in a real DuckDB file: accepted, rejected, failed before scoring, still running."""
    store = AuditStore(tmp_path / "audit.duckdb")
    _run(store, "run-a", "2026-11-24 09:00:00+00", "completed", "accepted", "batch accepted: 6 threshold(s) met")
    _run(store, "run-b", "2026-11-24 10:00:00+00", "rejected", "rejected", "batch rejected: max_label_error_rate")
    _run(store, "run-c", "2026-11-24 11:00:00+00", "failed", None, FAILURE)
    _run(store, "run-d", "2026-11-24 12:00:00+00", "running", None, None)
    with store.transaction() as con:
        for run_id, flagged, rate in (("run-a", 14, 0.0407), ("run-b", 1234, 0.1453)):
            con.execute(
                "INSERT INTO run_metrics (run_id, rows, classes, flagged, estimated_issues, estimated_error_rate, "
                "flagged_rate, method) VALUES (?, 344, 3, ?, 1, ?, 0.04, 'prune_by_noise_rate')",
                [run_id, flagged, rate],
            )
        con.execute(
            "INSERT INTO scores (run_id, row_idx, row_id, given_label, suggested_label, suggested_prob, label_quality, "
            "is_issue, issue_rank) VALUES ('run-b', 7, 'P-7', 'Adelie', 'Gentoo', 0.98765, 0.0123456, true, 1), "
            "('run-b', 3, 'P-3', 'Chinstrap', 'Adelie', 0.9, 0.05, true, 2), "
            "('run-b', 4, 'P-4', 'Adelie', 'Adelie', 0.9, 0.95, false, NULL)"
        )
    return store


def test_runs_prints_a_header_and_no_nan(history: AuditStore) -> None:
    result = CliRunner().invoke(app, ["runs", "--db", str(history.path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "run    dataset   started (UTC)     outcome   error rate  flagged  source      reason",
        "run-d  penguins  2026-11-24 12:00  running            -        -  data/d.csv",
        "run-c  penguins  2026-11-24 11:00  failed             -        -  data/c.csv  validate: failed 45 of 46 "
        "schema expectations: columns …",
        "run-b  penguins  2026-11-24 10:00  rejected      14.53%    1,234  data/b.csv  batch rejected: "
        "max_label_error_rate",
        "run-a  penguins  2026-11-24 09:00  accepted       4.07%       14  data/a.csv",
    ]
    for word in ("nan", "None", "NaT"):
        assert word not in result.stdout


def test_runs_json_and_filters(history: AuditStore) -> None:
    result = CliRunner().invoke(app, ["runs", "--db", str(history.path), "--json", "--limit", "2"])
    records = json.loads(result.stdout)
    assert [(r["run_id"], r["outcome"], r["verdict"], r["estimated_error_rate"]) for r in records] == [
        ("run-d", "running", None, None),
        ("run-c", "failed", None, None),
    ]
    assert records[1]["message"] == FAILURE  # whole, not shortened
    other = CliRunner().invoke(app, ["runs", "--db", str(history.path), "--dataset", "wine"])
    assert other.stdout == "no runs of dataset wine\n"


def test_flagged_prints_a_table_by_rank(history: AuditStore) -> None:
    result = CliRunner().invoke(app, ["flagged", "run-b", "--db", str(history.path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "rank  id   given      suggested   score  suggested prob",
        "   1  P-7  Adelie     Gentoo     0.0123          0.9877",
        "   2  P-3  Chinstrap  Adelie     0.0500          0.9000",
    ]
    assert CliRunner().invoke(app, ["flagged", "run-a", "--db", str(history.path)]).stdout == (
        "no flagged rows for run run-a\n"
    )
    missing = CliRunner().invoke(app, ["flagged", "run-x", "--db", str(history.path)])
    assert missing.exit_code == 2 and "no run 'run-x'" in missing.stderr


def test_named_reads_return_plain_values(history: AuditStore) -> None:
    runs = recent_runs(history, dataset="penguins", limit=10)
    assert [r["outcome"] for r in runs] == ["running", "failed", "rejected", "accepted"]
    assert runs[0]["rows"] is None and isinstance(runs[3]["rows"], int)
    assert [r["row_id"] for r in flagged_rows(history, "run-b", limit=1)] == ["P-7"]
