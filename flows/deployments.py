"""Prefect deployments built from the project config, and serving them.

Per dataset in ``labelaudit.toml``, named so the UI's deployment list tells them apart (both flows' deployments
were once just ``<dataset>``):

- ``audit/<dataset>-audit``: press Run in the UI to audit one batch; the form is the audit flow's typed parameters
  with their descriptions, defaulted from the config (source when it is one file or a query, folds, model,
  thresholds, task runner, the project's database/reports/expectations);
- ``audit-new-batches/<dataset>-new-batches`` (file and glob sources): the recurring audit, carrying the dataset's
  schedule (cron + time zone, active or paused), which audits each file no earlier run audited.

A SQL source has no files to tell apart, so its schedule goes on ``audit/<dataset>-audit``: each scheduled run
audits the query's current result.

``labelaudit serve`` calls :func:`serve_project`; ``prefect.yaml`` is the worker-based alternative.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labelaudit.flows.audit import audit
from labelaudit.flows.recurring import audit_new_batches
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Schedule

from labelaudit.project_config import DatasetConfig, ProjectConfig, load_project_config

TAGS = ["labelaudit"]


def deployment_names(dataset: DatasetConfig) -> tuple[str, str]:
    """The dataset's audit and new-batches deployment names, e.g. ``penguins-audit``, ``penguins-new-batches``."""
    return f"{dataset.name}-audit", f"{dataset.name}-new-batches"


def schedule_of(dataset: DatasetConfig) -> list[Schedule]:
    """The dataset's schedule as Prefect schedules (empty when the config has none)."""
    if dataset.schedule is None:
        return []
    s = dataset.schedule
    return [Cron(s.cron, timezone=s.timezone, active=s.active)]


def parameters_of(config: ProjectConfig, dataset: DatasetConfig, *, recurring: bool) -> dict[str, Any]:
    """Default parameters of the dataset's deployments: the form's pre-filled values in the UI."""
    params: dict[str, Any] = {"dataset": dataset.definition_name}
    params.update({k: v for k, v in config.locations().items() if v is not None})
    overrides = dataset.overrides()
    if recurring:
        # precomputed probabilities and annotations belong to one batch, not to every new one
        overrides.pop("probabilities", None)
        overrides.pop("annotations", None)
    params.update(overrides)
    if dataset.task_runner.model_dump(exclude_defaults=True):
        params["task_runner"] = dataset.task_runner.model_dump(exclude_none=True)
    if recurring or not dataset.is_glob:
        params["source"] = config.resolve_source(dataset)
    return params


def build_deployments(config: ProjectConfig) -> list[RunnerDeployment]:
    """Two deployments per file/glob dataset (audit, audit-new-batches), one per SQL dataset (audit)."""
    deployments = []
    for dataset in config.datasets:
        tags = [*TAGS, f"dataset:{dataset.name}"]
        audit_name, new_batches_name = deployment_names(dataset)
        scheduled_here = dataset.is_sql
        deployments.append(
            audit.to_deployment(
                name=audit_name,
                description=dataset.description or f"Audit one batch of {dataset.definition_name}.",
                parameters=parameters_of(config, dataset, recurring=False),
                schedules=schedule_of(dataset) if scheduled_here else None,
                concurrency_limit=dataset.concurrency_limit,
                tags=tags,
            )
        )
        if not dataset.is_sql:
            deployments.append(
                audit_new_batches.to_deployment(
                    name=new_batches_name,
                    description=f"Audit each new batch of {dataset.definition_name} in {dataset.source}.",
                    parameters=parameters_of(config, dataset, recurring=True),
                    schedules=schedule_of(dataset),
                    concurrency_limit=dataset.concurrency_limit or 1,  # two discoveries must not race
                    tags=tags,
                )
            )
    return deployments


def serve_project(config_path: str | Path, *, limit: int | None = None, poll_seconds: float = 2.0) -> None:
    """Register the config's deployments with the Prefect API and run their flow runs until interrupted.

    ``poll_seconds`` is how often the server is asked for runs to start (Prefect's default is 10 s, which is
    also the worst-case delay between pressing Run in the UI and the run starting).
    """
    from prefect import serve

    config = load_project_config(config_path)
    serve(*build_deployments(config), limit=limit, print_starting_message=True, query_seconds=poll_seconds)
