"""The project config and new-batch discovery, without a server: small exact cases on real files and DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from labelaudit.flows.deployments import build_deployments, parameters_of

from labelaudit.inputs.batches import find_new_batches
from labelaudit.inputs.readers import file_sha256
from labelaudit.project_config import ProjectConfigError, load_project_config
from labelaudit.store import AuditStore, StageWrite
from tests.conftest import REPO


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_the_sample_config_builds_both_deployments_with_a_paused_daily_schedule() -> None:
    config = load_project_config(REPO / "labelaudit.toml")
    audit, recurring = build_deployments(config)

    # the UI's deployment list shows names: the two flows' deployments must not both read "penguins"
    assert (audit.flow_name, audit.name) == ("audit", "penguins-audit")
    assert (recurring.flow_name, recurring.name) == ("audit-new-batches", "penguins-new-batches")
    assert audit.parameters["source"] == str(REPO / "data" / "penguins" / "penguins_batch.csv")
    assert audit.parameters["expectations"] == str(REPO / "expectations")
    (schedule,) = recurring.schedules
    assert schedule.schedule.cron == "0 6 * * *" and schedule.schedule.timezone == "Europe/Paris"
    assert schedule.active is False


def test_relative_paths_resolve_against_the_config_file_and_sql_sources_keep_their_query(tmp_path: Path) -> None:
    config = load_project_config(
        _write(
            tmp_path / "labelaudit.toml",
            '[project]\ndatabase = "db/audit.duckdb"\n\n'
            '[[datasets]]\nname = "a"\nsource = "incoming/*.csv"\n'
            'task_runner = { kind = "dask", address = "tcp://10.0.0.5:8786" }\n\n'
            '[[datasets]]\nname = "b"\nsource = "duckdb:///warehouse.duckdb?query=SELECT * FROM t"\n'
            'schedule = { cron = "0 2 * * *" }\n',
        )
    )
    a, b = config.datasets
    assert a.is_glob and not b.is_glob and b.is_sql
    assert config.locations()["database"] == str(tmp_path / "db" / "audit.duckdb")
    assert config.resolve_source(b) == f"duckdb:///{tmp_path}/warehouse.duckdb?query=SELECT * FROM t"  # 4 slashes
    # a glob has no default source for one-batch runs; the recurring deployment gets it
    assert "source" not in parameters_of(config, a, recurring=False)
    assert parameters_of(config, a, recurring=True)["source"] == str(tmp_path / "incoming" / "*.csv")
    assert parameters_of(config, a, recurring=True)["task_runner"]["address"] == "tcp://10.0.0.5:8786"
    # a SQL source: one deployment, scheduled itself
    names = [(d.flow_name, d.name, bool(d.schedules)) for d in build_deployments(config)]
    assert names == [
        ("audit", "a-audit", False),
        ("audit-new-batches", "a-new-batches", False),
        ("audit", "b-audit", True),
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[[datasets]]\nname = "a"\n', "datasets.0.source: Field required"),
        ('[[datasets]]\nname = "a"\nsource = "x.csv"\nschedule = { cron = "daily" }\n', "needs 5 fields"),
        ('[[datasets]]\nname = "a"\nsource = "x"\nschedule = { cron = "0 6 * * *", timezone = "Mars/Base" }\n',
         "unknown time zone 'Mars/Base'"),
        ('[[datasets]]\nname = "a"\nsource = "x"\ntask_runner = { kind = "threads", address = "tcp://h:1" }\n',
         "address is only used with kind = 'dask'"),
        ('[[datasets]]\nname = "a"\nsource = "x"\n[[datasets]]\nname = "a"\nsource = "y"\n', "repeated: ['a']"),
        ('[[datasets]]\nname = "../up"\nsource = "x"\n', "datasets.0.name"),
        ("datasets = [", "is not valid TOML"),
    ],
)  # fmt: skip
def test_an_invalid_config_names_the_file_and_the_field(tmp_path: Path, body: str, expected: str) -> None:
    path = _write(tmp_path / "labelaudit.toml", body)
    with pytest.raises(ProjectConfigError) as error:
        load_project_config(path)
    assert str(path) in str(error.value) and expected in str(error.value)


def test_a_missing_config_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ProjectConfigError, match=r"no project config at .*--config"):
        load_project_config(tmp_path / "labelaudit.toml")


def _audited(store: AuditStore, path: Path, *, status: str, failed_stage: str | None = None) -> None:
    """Record a run of dataset 'd' that ingested ``path`` and ended with ``status``."""
    now = datetime.now(UTC)
    run_id = store.begin_run(dataset="d", source=str(path), params={})
    info = {"path": str(path), "sha256": file_sha256(path), "bytes": 1, "rows": 1, "format": "csv", "ingested_at": now}
    store.write_stage(run_id, "ingest", StageWrite({"batches": pd.DataFrame([info])}, now))
    if failed_stage:
        store.fail_stage(run_id, failed_stage, started_at=now, message="boom")
    else:
        store.finish_run(run_id, status=status)


def test_only_files_never_audited_or_changed_since_are_new(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "audit.duckdb")
    folder = tmp_path / "incoming"
    folder.mkdir()
    done = _write(folder / "a.csv", "x\n1\n")
    changed = _write(folder / "b.csv", "x\n2\n")
    schema_failed = _write(folder / "c.csv", "x\n3\n")
    crashed = _write(folder / "d.csv", "x\n4\n")
    _write(folder / "e.csv", "x\n5\n")
    _audited(store, done, status="completed")
    _audited(store, changed, status="rejected")
    _audited(store, schema_failed, status="failed", failed_stage="validate")
    _audited(store, crashed, status="failed", failed_stage="score")
    changed.write_text("x\n2\n22\n")

    new = find_new_batches(store, "d", str(folder / "*.csv"))
    assert [b.path.name for b in new] == ["b.csv", "d.csv", "e.csv"]
    assert new[0].sha256 == file_sha256(changed)
    # another dataset's runs do not count; a plain path works like a one-file glob
    assert len(find_new_batches(store, "other", str(folder / "*.csv"))) == 5
    assert find_new_batches(store, "d", str(done)) == []


def test_discovery_on_an_empty_folder_or_a_new_database_finds_nothing_or_everything(tmp_path: Path) -> None:
    store = AuditStore(tmp_path / "never-created.duckdb")
    assert find_new_batches(store, "d", str(tmp_path / "*.csv")) == []
    _write(tmp_path / "a.csv", "x\n1\n")
    assert [b.path.name for b in find_new_batches(store, "d", str(tmp_path / "*.csv"))] == ["a.csv"]
    assert not store.path.exists()  # discovery does not create the database


def test_prefect_yaml_declares_the_same_deployment_names_as_the_config() -> None:
    import yaml

    declared = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    flows = {"flows/audit.py:audit": "audit", "flows/recurring.py:audit_new_batches": "audit-new-batches"}
    built = build_deployments(load_project_config(REPO / "labelaudit.toml"))
    assert sorted((flows[d["entrypoint"]], d["name"]) for d in declared) == sorted((d.flow_name, d.name) for d in built)
    assert len({d["name"] for d in declared}) == len(declared)  # one name per deployment, as the UI lists them
